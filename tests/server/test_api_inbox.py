"""`GET /api/v1/inbox` through the real server process: each kind, oldest first, per owner
(SQLite, and PostgreSQL with CONTRACTS_TEST_PG_URL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.conftest import assert_error, start_contract
from tests.support.server import configured_server
from tests.sync.server_fixture import ServerProcess, create_key

# Stale after 1.2 s; a met gate waits for a person (auto-advance off).
QUICK_TOML = """\
[contracts]
stale_threshold_minutes = 0.02
stale_detection_interval_seconds = 3600.0
auto_advance_phases = false
heartbeat_timeout_seconds = 120.0
"""


def _inbox(client: httpx.Client, ids: set[str], **params: Any) -> list[dict[str, Any]]:
    response = client.get("/inbox", params=params)
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if item["contractId"] in ids]


def _ask(supervisor: httpx.Client, cid: str, text: str) -> dict[str, Any]:
    asked = supervisor.post(
        f"/contracts/{cid}/questions", json={"question": text, "questionType": "free_text"}
    )
    assert asked.status_code == 201, asked.text
    return dict(asked.json())


def _awaiting(reviewer: httpx.Client, supervisor: httpx.Client) -> dict[str, Any]:
    cid = start_contract(reviewer, supervisor)["id"]
    supervisor.post(f"/contracts/{cid}/tasks", json={"name": "write plan"})
    supervisor.post(f"/contracts/{cid}/deliverables", json={"deliverableId": "plan-document"})
    asked = supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"})
    assert asked.status_code == 200, asked.text
    return dict(asked.json(), id=cid)


def _completing(reviewer: httpx.Client, supervisor: httpx.Client) -> str:
    cid = str(start_contract(reviewer, supervisor, phaseGuard=False)["id"])
    for deliverable in ("plan-document", "pull-request"):
        supervisor.post(f"/contracts/{cid}/deliverables", json={"deliverableId": deliverable})
    assert reviewer.get(f"/contracts/{cid}").json()["status"] == "completing"
    return cid


def test_each_waiting_item_is_listed_once_oldest_first_with_its_fields(
    server: Any, reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    asking = start_contract(reviewer, supervisor)
    first = _ask(supervisor, asking["id"], "Which database?")
    confirming = _awaiting(reviewer, supervisor)
    completing = _completing(reviewer, supervisor)
    second = _ask(supervisor, asking["id"], "Which region?")
    quiet = start_contract(reviewer, supervisor)["id"]  # active, busy: not in the inbox
    ids = {asking["id"], confirming["id"], completing, quiet}

    items = _inbox(reviewer, ids)
    assert [item["id"] for item in items] == [
        f"question:{first['id']}",
        f"confirmation:{confirming['transitionId']}",
        f"completion:{completing}",
        f"question:{second['id']}",
    ]
    assert [item["kind"] for item in items] == [
        "question",
        "phase_confirmation",
        "completion_confirmation",
        "question",
    ]
    question, confirmation, completion, _ = items
    assert question["contractName"] == asking["name"]
    assert (question["questionId"], question["phase"]) == (first["id"], "plan")
    assert question["since"] == first["askedAt"]
    assert confirmation["transitionId"] == confirming["transitionId"]
    contract = reviewer.get(f"/contracts/{completing}").json()
    assert completion["since"] == contract["completionDetectedAt"]
    assert completion["deadline"] is not None and completion["deadline"] > completion["since"]
    assert set(question) == {
        "id",
        "kind",
        "contractId",
        "contractName",
        "phase",
        "since",
        "questionId",
        "transitionId",
        "snoozedUntil",
        "claimedBy",
        "claimedAt",
        "deadline",
        "blockedBy",
        "escalated",
    }
    assert all(i["snoozedUntil"] is None and i["claimedBy"] is None for i in items)
    assert _inbox(reviewer, ids, includeSnoozed="true") == items
    assert _inbox(server.client("other"), ids) == []  # another owner sees none of it


def test_a_decided_item_leaves_the_inbox(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    asking = start_contract(reviewer, supervisor)
    question = _ask(supervisor, asking["id"], "Go?")
    confirming = _awaiting(reviewer, supervisor)
    ids = {asking["id"], confirming["id"]}
    assert len(_inbox(reviewer, ids)) == 2
    answered = reviewer.post(f"/questions/{question['id']}/answer", json={"answer": "yes"})
    assert answered.status_code == 200, answered.text
    confirmed = reviewer.post(
        f"/contracts/{confirming['id']}/phase",
        json={"phase": "execute", "confirmed": True, "transitionId": confirming["transitionId"]},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert _inbox(reviewer, ids) == []


def test_a_bad_include_snoozed_value_is_a_400(reviewer: httpx.Client) -> None:
    body = assert_error(
        reviewer.get("/inbox", params={"includeSnoozed": "maybe"}), 400, "VALIDATION_FAILED"
    )
    assert "includeSnoozed" in body["message"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def quick(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server of its own: stale after 1.2 s, auto-advance off."""
    tmp = tmp_path_factory.mktemp(f"inbox-{request.param}")
    with configured_server(request.param, tmp, QUICK_TOML) as server:
        server.reviewer_key = create_key(server.db_url, "alice", "reviewer")
        server.supervisor_key = create_key(server.db_url, "alice", "supervisor")
        yield server


def _client(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url + "/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def _until(check: Any, within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_quiet_contract_is_stale_blocked_by_its_supervisor_until_it_beats(
    quick: ServerProcess,
) -> None:
    with (
        _client(quick, quick.reviewer_key) as reviewer,
        _client(quick, quick.supervisor_key) as supervisor,
    ):
        contract = start_contract(reviewer, supervisor)
        supervisor.post(f"/contracts/{contract['id']}/tasks", json={"name": "long job"})
        ids = {contract["id"]}
        assert _inbox(reviewer, ids) == []  # busy just now
        stale = _until(lambda: _inbox(reviewer, ids), within=15)
        assert [(i["id"], i["kind"], i["blockedBy"]) for i in stale] == [
            (f"stale:{contract['id']}", "stale", "supervisor")
        ]
        beat = {
            "task_id": contract["supervisorTaskId"],
            "contract_id": contract["id"],
            "state": "working",
            "phase": "plan",
            "progress": 10,
            "pending_task_ids": [],
        }
        sent = supervisor.post(f"/contracts/{contract['id']}/supervisor/heartbeat", json=beat)
        assert sent.status_code == 202, sent.text
        assert _inbox(reviewer, ids) == []  # activity ends the stale episode


def test_a_met_gate_with_auto_advance_off_is_phase_ready_and_never_stale(
    quick: ServerProcess,
) -> None:
    with (
        _client(quick, quick.reviewer_key) as reviewer,
        _client(quick, quick.supervisor_key) as supervisor,
    ):
        contract = start_contract(reviewer, supervisor)
        cid = contract["id"]
        marked = supervisor.post(
            f"/contracts/{cid}/deliverables", json={"deliverableId": "plan-document"}
        )
        assert marked.json()["phase"] == "plan"  # auto-advance off: it stays
        ready = [(i["id"], i["kind"]) for i in _inbox(reviewer, {cid})]
        assert ready == [(f"phase_ready:{cid}:plan", "phase_ready")]
        time.sleep(1.5)  # past the stale threshold: still the reviewer's move
        assert [(i["id"], i["kind"]) for i in _inbox(reviewer, {cid})] == ready
        moved = reviewer.post(
            f"/contracts/{cid}/phase", json={"phase": "execute", "confirmed": True}
        )
        assert moved.status_code == 200, moved.text
        assert _inbox(reviewer, {cid}) == []
