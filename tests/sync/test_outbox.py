"""The outbox: its state table, ordering rules, and error/offline cases (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.clock import ManualClock
from core.model import Contract
from core.phases import ContractType
from core.status import ContractStatus
from sync.client import ContractClient
from sync.outbox import (
    MOVES,
    ActionAlreadyQueued,
    ActionKind,
    IllegalOutboxMove,
    Outbox,
    OutboxState,
    check_move,
)
from sync.replica import Replica

S = OutboxState
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def contract(cid: str = "c1", version: int = 3, status: str = "active") -> Contract:
    return Contract(
        id=cid,
        owner="replica",
        name=f"contract {cid}",
        contract_type=ContractType.SIMPLE,
        phase="plan",
        status=ContractStatus(status),
        created_at=NOW,
        updated_at=NOW,
        status_changed_at=NOW,
        last_activity_at=NOW,
        version=version,
    )


@pytest.fixture
async def replica(tmp_path: Path) -> AsyncIterator[Replica]:
    r = await Replica.open(tmp_path / "replica.db")
    await r.put_contracts([contract("c1"), contract("c2", version=7)])
    yield r
    await r.close()


@pytest.fixture
def outbox(replica: Replica) -> Outbox:
    return Outbox(replica)


class Server:
    """A fake server: records requests, answers with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self) -> ContractClient:
        return ContractClient(
            "http://server.test", "key", transport=httpx.MockTransport(self), retries=0
        )

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) if r.content else {} for r in self.requests]


def status_ok(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "success": True,
            "previousStatus": "active",
            "newStatus": body["targetStatus"],
            "rejectionReason": None,
            # The server says the version it made; another writer may have moved it further.
            "version": (body.get("expectedVersion") or 0) + 2,
        },
    )


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def error(status: int, code: str, **details: Any) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": code.lower(), "details": details})


# --- the state table -----------------------------------------------------------------------


def test_every_state_has_a_row_and_final_states_have_no_moves() -> None:
    assert set(MOVES) == set(OutboxState)
    assert {s for s in OutboxState if s.is_final} == {S.APPLIED, S.RECONFIRMED, S.DROPPED}
    assert MOVES[S.SENDING] == {S.APPLIED, S.REJECTED, S.CONFLICT, S.QUEUED}
    assert MOVES[S.CONFLICT] == {S.RECONFIRMED, S.DROPPED}
    assert MOVES[S.REJECTED] == {S.RECONFIRMED, S.DROPPED}


@pytest.mark.parametrize("old", list(OutboxState))
@pytest.mark.parametrize("new", list(OutboxState))
def test_check_move_follows_the_table(old: OutboxState, new: OutboxState) -> None:
    if new in MOVES[old]:
        check_move(1, old, new)
        return
    with pytest.raises(IllegalOutboxMove) as raised:
        check_move(1, old, new)
    assert f"from '{old}' to '{new}'" in raised.value.message
    assert raised.value.details["allowed"] == sorted(s.value for s in MOVES[old])


# --- writing and sending -------------------------------------------------------------------


async def test_an_action_is_written_with_a_key_and_the_version_seen(outbox: Outbox) -> None:
    seen: list[Any] = []
    outbox.entry_changed.subscribe(seen.append)
    entry = await outbox.pause("c1")
    assert entry.state is S.QUEUED and entry.expected_version == 3
    assert len(entry.idempotency_key) == 36 and entry.kind is ActionKind.CHANGE_STATUS
    other = await outbox.answer_question("c1", "q1", "yes")
    assert other.expected_version is None and other.idempotency_key != entry.idempotency_key
    explicit = await outbox.confirm_phase("c2", "execute", expected_version=5)
    assert explicit.expected_version == 5
    assert [e.id for e in seen] == [entry.id, other.id, explicit.id]
    assert [e.id for e in await outbox.pending()] == [entry.id, other.id, explicit.id]


async def test_applied_entries_carry_key_and_expected_version(outbox: Outbox) -> None:
    server = Server(status_ok)
    entry = await outbox.pause("c1")
    async with server.client() as client:
        result = await outbox.flush(client)
    assert result.sent == 1 and result.stopped is None
    done = await outbox.get(entry.id)
    assert done.state is S.APPLIED and done.attempts == 1
    assert done.result is not None and done.result["newStatus"] == "paused"
    request = server.requests[0]
    assert request.headers["Idempotency-Key"] == entry.idempotency_key
    assert server.bodies()[0] == {"targetStatus": "paused", "expectedVersion": 3}


async def test_offline_entries_stay_queued_and_are_resent_with_the_same_key(
    outbox: Outbox,
) -> None:
    first = await outbox.pause("c1")
    second = await outbox.answer_question("c2", "q9", "no")
    offline = Server(refuse)
    async with offline.client() as client:
        result = await outbox.flush(client)
    assert result.sent == 0 and result.stopped is not None
    assert result.stopped.code == "CONNECTION_FAILED"
    assert len(offline.requests) == 1  # the flush stopped at the first unanswered entry
    again = await outbox.get(first.id)
    assert again.state is S.QUEUED and again.attempts == 1

    def online(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/answer"):
            return httpx.Response(200, json=_question_wire("q9", "c2"))
        return status_ok(request)

    server = Server(online)
    async with server.client() as client:
        assert (await outbox.flush(client)).sent == 2
    keys = [r.headers["Idempotency-Key"] for r in server.requests]
    assert keys == [first.idempotency_key, second.idempotency_key]
    assert [e.state for e in await outbox.entries()] == [S.APPLIED, S.APPLIED]


async def test_a_server_error_is_not_a_verdict(outbox: Outbox) -> None:
    entry = await outbox.pause("c1")
    server = Server(lambda r: httpx.Response(502, text="bad gateway"))
    async with server.client() as client:
        result = await outbox.flush(client)
    assert result.stopped is not None and result.stopped.status == 502
    assert (await outbox.get(entry.id)).state is S.QUEUED


async def test_a_rejected_entry_does_not_block_later_ones(outbox: Outbox) -> None:
    bad = await outbox.change_status("c1", "completed")
    good = await outbox.pause("c1", expected_version=None)

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["targetStatus"] == "completed":
            return error(400, "INVALID_TRANSITION", allowed=["paused"])
        return status_ok(request)

    async with Server(answer).client() as client:
        assert (await outbox.flush(client)).sent == 2
    rejected = await outbox.get(bad.id)
    assert rejected.state is S.REJECTED and rejected.error_code == "INVALID_TRANSITION"
    assert (await outbox.get(good.id)).state is S.APPLIED
    assert (await outbox.drop(bad.id)).state is S.DROPPED
    with pytest.raises(IllegalOutboxMove):
        await outbox.reconfirm(bad.id)


async def test_a_rejected_entry_can_be_sent_again_as_a_new_entry(outbox: Outbox) -> None:
    bad = await outbox.pause("c1", reason="maintenance")
    async with Server(lambda r: error(403, "FORBIDDEN")).client() as client:
        assert (await outbox.flush(client)).sent == 1
    assert (await outbox.get(bad.id)).state is S.REJECTED
    again = await outbox.reconfirm(bad.id)
    assert again.state is S.QUEUED and again.replaces == bad.id
    assert again.payload["reason"] == "maintenance" and again.expected_version == 3
    assert (await outbox.get(bad.id)).state is S.RECONFIRMED
    server = Server(status_ok)
    async with server.client() as client:
        assert (await outbox.flush(client)).sent == 1
    assert server.bodies() == [
        {"targetStatus": "paused", "reason": "maintenance", "expectedVersion": 3}
    ]


async def test_the_same_decision_cannot_be_queued_twice(outbox: Outbox) -> None:
    first = await outbox.confirm_phase("c1", "execute")
    with pytest.raises(ActionAlreadyQueued) as raised:
        await outbox.confirm_phase("c1", "execute", comment="again")
    assert "Confirmation of 'execute' is already queued" in raised.value.message
    assert raised.value.details["entry_id"] == first.id
    # A change request of the same phase is the same decision, taken the other way.
    with pytest.raises(ActionAlreadyQueued, match="already queued"):
        await outbox.reject_phase("c1", "execute", "no")
    await outbox.pause("c1")
    with pytest.raises(ActionAlreadyQueued, match="Pause is already queued"):
        await outbox.pause("c1", reason="twice")
    # Other contracts, other decisions and other questions are free.
    await outbox.confirm_phase("c2", "execute")
    await outbox.resume("c1")
    await outbox.answer_question("c1", "q1", "a")
    await outbox.answer_question("c1", "q2", "a")
    with pytest.raises(ActionAlreadyQueued):
        await outbox.answer_question("c1", "q1", "b")
    await outbox.batch("pause_all", reason="x")
    with pytest.raises(ActionAlreadyQueued, match="Batch pause_all"):
        await outbox.batch("pause_all", reason="x")
    assert len(await outbox.pending()) == 7
    # Once the first is no longer on its way, the decision can be taken again.
    await outbox.drop(first.id)
    assert (await outbox.confirm_phase("c1", "execute")).state is S.QUEUED


async def test_a_version_conflict_waits_for_the_reviewer(outbox: Outbox, replica: Replica) -> None:
    entry = await outbox.confirm_phase("c1", "execute")
    now_on_server = contract("c1", version=5, status="waiting_for_input")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={**now_on_server.to_wire(), "tasks": []})
        body = json.loads(request.content)
        if body.get("expectedVersion") != 5:
            return error(409, "VERSION_CONFLICT", expected_version=3, actual_version=5)
        moved = contract("c1", version=6)
        return httpx.Response(200, json=moved.to_wire())

    server = Server(answer)
    async with server.client() as client:
        assert (await outbox.flush(client)).sent == 1
        conflict = await outbox.get(entry.id)
        assert conflict.state is S.CONFLICT and conflict.error_code == "VERSION_CONFLICT"
        assert conflict.conflict_contract is not None
        assert conflict.conflict_contract["version"] == 5
        assert (await replica.contract("c1")).contract.version == 5  # the replica learned it
        assert (await outbox.flush(client)).sent == 0  # never retried by itself

        again = await outbox.reconfirm(entry.id)
        assert again.expected_version == 5 and again.replaces == entry.id
        assert again.idempotency_key != entry.idempotency_key
        assert (await outbox.get(entry.id)).state is S.RECONFIRMED
        assert (await outbox.flush(client)).sent == 1
    assert (await outbox.get(again.id)).state is S.APPLIED
    with pytest.raises(IllegalOutboxMove):
        await outbox.drop(entry.id)


async def test_the_reviewers_own_chain_follows_the_version_it_made(outbox: Outbox) -> None:
    pause = await outbox.pause("c1")
    resume = await outbox.resume("c1")
    assert pause.expected_version == resume.expected_version == 3
    server = Server(status_ok)
    async with server.client() as client:
        assert (await outbox.flush(client)).sent == 2
    # The chain follows the version the server's answer names, never a guess of +1.
    assert [b["expectedVersion"] for b in server.bodies()] == [3, 5]
    assert (await outbox.get(resume.id)).expected_version == 5


async def test_sending_entries_found_at_start_up_go_back_to_queued(
    outbox: Outbox, replica: Replica
) -> None:
    entry = await outbox.pause("c1")
    await outbox._move(entry.id, S.SENDING)  # as if the process died mid-request
    fresh = Outbox(replica)
    assert await fresh.recover() == 1
    assert (await fresh.get(entry.id)).state is S.QUEUED
    with pytest.raises(IllegalOutboxMove):
        await fresh._move(entry.id, S.APPLIED)


async def test_dropping_a_queued_entry_before_it_is_sent(outbox: Outbox) -> None:
    entry = await outbox.update_contract("c2", name="new name")
    assert entry.expected_version == 7
    await outbox.drop(entry.id)
    server = Server(status_ok)
    async with server.client() as client:
        assert (await outbox.flush(client)).sent == 0
    assert server.requests == []


async def test_every_kind_reaches_its_endpoint(outbox: Outbox) -> None:
    await outbox.confirm_phase("c1", "execute", comment="ok", expected_version=None)
    await outbox.reject_phase("c1", "review", "needs tests", expected_version=None)
    await outbox.answer_question("c1", "q1", "b")
    await outbox.update_contract("c1", phase_guard=False, expected_version=None)
    await outbox.set_auto_complete("c1", False)
    await outbox.restart_supervisor("c1")
    await outbox.batch("pause_all", reason="maintenance")

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/answer"):
            return httpx.Response(200, json=_question_wire("q1", "c1"))
        if path.endswith("/restart"):
            return httpx.Response(202)
        if path.endswith("/batch"):
            done = {"operation": "pause_all", "affected_count": 0, "affected_ids": []}
            return httpx.Response(200, json={**done, "errors": [], "dry_run": False})
        if path.endswith("/phase") and b"feedback" in request.content:
            return httpx.Response(200, json={"status": "changes_requested", "feedback": "x"})
        return httpx.Response(200, json=contract("c1").to_wire())

    server = Server(answer)
    async with server.client() as client:
        assert (await outbox.flush(client)).sent == 7
    paths = [(r.method, r.url.path.removeprefix("/api/v1")) for r in server.requests]
    assert paths == [
        ("POST", "/contracts/c1/phase"),
        ("POST", "/contracts/c1/phase"),
        ("POST", "/questions/q1/answer"),
        ("PATCH", "/contracts/c1"),
        ("PUT", "/contracts/c1/auto-complete"),
        ("POST", "/contracts/c1/supervisor/restart"),
        ("POST", "/contracts/batch"),
    ]
    bodies = server.bodies()
    assert bodies[0] == {"phase": "execute", "confirmed": True, "comment": "ok", "force": False}
    assert bodies[1]["feedback"] == "needs tests" and bodies[1]["confirmed"] is False
    assert bodies[3] == {"phaseGuard": False}
    assert bodies[6]["operation"] == "pause_all" and bodies[6]["reason"] == "maintenance"
    assert all(e.state is S.APPLIED for e in await outbox.entries())


def _question_wire(qid: str, cid: str) -> dict[str, Any]:
    return {
        "id": qid,
        "contractId": cid,
        "phase": "plan",
        "question": "?",
        "questionType": "free_text",
        "choices": [],
        "status": "answered",
        "answer": "yes",
        "askedAt": "2026-03-01T12:00:00.000Z",
        "answeredAt": "2026-03-01T12:01:00.000Z",
        "answeredBy": "alice",
    }


async def test_answered_entries_are_pruned_and_waiting_ones_kept(replica: Replica) -> None:
    clock = ManualClock(NOW)
    outbox = Outbox(replica, clock=clock)
    applied = await outbox.pause("c1", expected_version=None)
    conflicted = await outbox.pause("c2")
    dropped = await outbox.resume("c1", expected_version=None)
    await outbox.drop(dropped.id)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={**contract("c2", version=9).to_wire(), "tasks": []})
        if json.loads(request.content).get("expectedVersion") == 7:
            return error(409, "VERSION_CONFLICT", expected_version=7, actual_version=9)
        return status_ok(request)

    async with Server(answer).client() as client:
        await outbox.flush(client)
    assert await outbox.prune(timedelta(days=7)) == 0  # all too recent
    clock.advance(days=8)
    assert await outbox.prune(timedelta(days=7)) == 2  # applied and dropped
    left = await outbox.entries()
    assert [(e.id, e.state) for e in left] == [(conflicted.id, S.CONFLICT)]
    assert applied.id not in {e.id for e in left}
