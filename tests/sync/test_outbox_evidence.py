"""The outbox binds a phase decision to the request and the evidence the reviewer saw,
against a real server process: unrelated changes never make it a conflict; a changed
deliverable does, with what changed; an answered request is superseded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.evidence import evidence_of
from core.model import PendingPhaseConfirmation
from sync.client import ContractClient
from sync.outbox import Outbox, OutboxState
from sync.replica import Replica
from tests.sync.replica_fixtures import driver
from tests.sync.replica_support import Driver, ok
from tests.sync.server_fixture import ServerProcess

__all__ = ["driver"]  # fixtures, used by name

S = OutboxState
SUMMARY = "# Plan\n\n1. parse\n2. load\n"


@pytest.fixture
async def desk(
    sync_server: ServerProcess, tmp_path: Path
) -> AsyncIterator[tuple[Replica, Outbox, ContractClient]]:
    replica = await Replica.open(tmp_path / "replica.db")
    client = ContractClient(sync_server.base_url, sync_server.reviewer_key)
    try:
        yield replica, Outbox(replica), client
    finally:
        await client.aclose()
        await replica.close()


def _awaiting(driver: Driver) -> dict[str, Any]:
    """A guarded contract in plan with its documented deliverable and a pending task, whose
    supervisor asked to advance to execute."""
    contract = driver.start()
    cid = contract["id"]
    driver.task(cid, "write plan")
    body = {"deliverableId": "plan-document", "url": "https://git.example/plan.md"}
    ok(driver.supervisor.post(f"/contracts/{cid}/deliverables", json=body | {"summary": SUMMARY}))
    ok(driver.supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"}))
    return driver.get(cid)


async def _seen(replica: Replica, client: ContractClient, cid: str) -> None:
    """The replica holds the contract as the reviewer sees it now."""
    detail = await client.get_contract(cid)
    await replica.put_contracts([detail.contract])


async def test_a_confirmation_carries_the_request_and_digest_and_survives_busy_supervisors(
    driver: Driver, desk: tuple[Replica, Outbox, ContractClient]
) -> None:
    replica, outbox, client = desk
    contract = _awaiting(driver)
    cid = contract["id"]
    await _seen(replica, client, cid)
    entry = await outbox.confirm_phase(cid, "execute", comment="ok")
    request = contract["pendingConfirmation"]
    assert entry.expected_version is None
    assert entry.payload["transition_id"] == request["transitionId"]
    assert entry.payload["evidence_digest"] == request["evidenceDigest"]
    driver.task(cid, "another task")  # version bumps the reviewer never saw
    driver.ask(cid, "Which region?")
    assert driver.get(cid)["version"] > contract["version"]
    await outbox.flush(client)
    done = await outbox.get(entry.id)
    assert done.state is S.APPLIED, done.result
    assert driver.get(cid)["phase"] == "execute"


async def test_changed_evidence_is_a_conflict_showing_what_changed_and_can_be_reconfirmed(
    driver: Driver, desk: tuple[Replica, Outbox, ContractClient]
) -> None:
    replica, outbox, client = desk
    contract = _awaiting(driver)
    cid = contract["id"]
    await _seen(replica, client, cid)
    entry = await outbox.confirm_phase(cid, "execute")
    body = {"deliverableId": "plan-document", "summary": "# Plan\n\nrewritten"}
    ok(driver.supervisor.post(f"/contracts/{cid}/deliverables", json=body))
    await outbox.flush(client)
    conflict = await outbox.get(entry.id)
    assert (conflict.state, conflict.error_code) == (S.CONFLICT, "EVIDENCE_CHANGED")
    shown = conflict.evidence_conflict
    assert shown is not None
    assert shown.transition_id == contract["pendingConfirmation"]["transitionId"]
    assert shown.seen is not None and shown.seen["deliverables"][0]["summary"] == SUMMARY
    assert shown.now is not None and shown.now["deliverables"][0]["summary"].endswith("rewritten")
    assert [(c.field, c.before, c.after) for c in shown.changes] == [
        ("deliverables.plan-document.summary", SUMMARY, "# Plan\n\nrewritten")
    ]
    assert conflict.conflict_contract is not None  # the contract as it is now, for the view
    again = await outbox.reconfirm(entry.id)
    assert again.payload["evidence_digest"] == shown.now["digest"]
    await outbox.flush(client)
    assert (await outbox.get(again.id)).state is S.APPLIED
    assert driver.get(cid)["phase"] == "execute"


async def test_a_request_answered_elsewhere_is_rejected_as_superseded(
    driver: Driver, desk: tuple[Replica, Outbox, ContractClient]
) -> None:
    replica, outbox, client = desk
    contract = _awaiting(driver)
    cid = contract["id"]
    await _seen(replica, client, cid)
    entry = await outbox.reject_phase(cid, "execute", "split the plan")
    assert entry.payload["transition_id"] == contract["pendingConfirmation"]["transitionId"]
    assert "evidence_digest" not in entry.payload
    answered = {"phase": "execute", "confirmed": True}
    ok(driver.reviewer.post(f"/contracts/{cid}/phase", json=answered))  # another desk
    await outbox.flush(client)
    refused = await outbox.get(entry.id)
    assert (refused.state, refused.error_code) == (S.REJECTED, "REQUEST_SUPERSEDED")
    assert driver.get(cid)["phase"] == "execute"  # nothing else happened


async def test_without_a_known_request_the_decision_falls_back_to_the_version(
    driver: Driver, desk: tuple[Replica, Outbox, ContractClient]
) -> None:
    replica, outbox, client = desk
    contract = _awaiting(driver)
    cid = contract["id"]
    detail = await client.get_contract(cid)
    pending = detail.contract.pending_confirmation
    assert pending is not None
    older = PendingPhaseConfirmation("", pending.next_phase, pending.requested_at)
    await replica.put_contracts([replace(detail.contract, pending_confirmation=older)])
    entry = await outbox.confirm_phase(cid, "execute")
    assert entry.expected_version == contract["version"]
    assert "transition_id" not in entry.payload


async def test_the_evidence_the_reviewer_read_binds_even_when_the_replica_has_newer(
    driver: Driver, desk: tuple[Replica, Outbox, ContractClient]
) -> None:
    replica, outbox, client = desk
    contract = _awaiting(driver)
    cid = contract["id"]
    await _seen(replica, client, cid)
    shown = evidence_of((await replica.contracts_by_id([cid]))[cid])
    assert shown is not None
    body = {"deliverableId": "plan-document", "url": "file:///srv/plan-v2.md"}
    ok(driver.supervisor.post(f"/contracts/{cid}/deliverables", json=body))
    await _seen(replica, client, cid)  # the replica takes the new evidence in meanwhile
    entry = await outbox.confirm_phase(cid, "execute", evidence=shown)
    assert entry.payload["evidence_digest"] == shown.digest
    await outbox.flush(client)
    conflict = await outbox.get(entry.id)
    assert conflict.error_code == "EVIDENCE_CHANGED"
    assert conflict.evidence_conflict is not None
    assert [c.field for c in conflict.evidence_conflict.changes] == [
        "deliverables.plan-document.url"
    ]


async def test_an_explicit_version_without_evidence_keeps_the_version_binding(
    driver: Driver, desk: tuple[Replica, Outbox, ContractClient]
) -> None:
    replica, outbox, client = desk
    contract = _awaiting(driver)
    cid = contract["id"]
    await _seen(replica, client, cid)
    entry = await outbox.confirm_phase(cid, "execute", expected_version=contract["version"])
    assert entry.expected_version == contract["version"]
    assert "transition_id" not in entry.payload
