"""Feedback that reaches the supervisor, through the real server process: a change request
opens a thread, the supervisor acknowledges it (ack route or heartbeat), the reviewer sees
"delivered" / "not yet picked up", the reply joins the thread, the history and the export
hold it; and the simulator closes the loop (acknowledges, redoes the deliverable, asks
again)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import PG_ENV, assert_error, pg_execute, start_contract
from tests.sync.server_fixture import (
    ServerProcess,
    create_key,
    free_port,
    serving,
    simulating,
)

pytestmark = pytest.mark.timeout(240)


CONFIG = "[contracts]\nstale_threshold_minutes = 60.0\nheartbeat_timeout_seconds = 120.0\n"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def loop_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp(f"feedback-{request.param}")
    if request.param == "sqlite":
        with serving(tmp, CONFIG) as server:
            yield server
        return
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(f"{PG_ENV} not set")
    database = f"cd_feedback_{uuid.uuid4().hex[:12]}"
    pg_execute(f'CREATE DATABASE "{database}"')
    db_url = f"{admin.rpartition('/')[0]}/{database}"
    config = tmp / "server.toml"
    config.write_text(CONFIG)
    server = ServerProcess(tmp, db_url, free_port(), config)
    try:
        server.start()  # migrates
        for role in ("admin", "reviewer", "supervisor"):
            setattr(server, f"{role}_key", create_key(db_url, "alice", role))
        yield server
    finally:
        server.stop()
        pg_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        assert "Traceback" not in server.log_text()


@pytest.fixture
def clients(loop_server: ServerProcess) -> Iterator[dict[str, httpx.Client]]:
    made = {
        role: httpx.Client(
            base_url=loop_server.base_url + "/api/v1",
            headers={"Authorization": f"Bearer {getattr(loop_server, f'{role}_key')}"},
            timeout=30,
        )
        for role in ("reviewer", "supervisor", "admin")
    }
    try:
        yield made
    finally:
        for client in made.values():
            client.close()


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return response.json()


def _awaiting(reviewer: httpx.Client, supervisor: httpx.Client) -> str:
    cid = str(start_contract(reviewer, supervisor)["id"])
    _ok(supervisor.post(f"/contracts/{cid}/deliverables", json={"deliverableId": "plan-document"}))
    _ok(supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"}))
    return cid


def _request_changes(reviewer: httpx.Client, cid: str, text: str) -> str:
    answer = _ok(
        reviewer.post(f"/contracts/{cid}/phase", json={"phase": "execute", "feedback": text})
    )
    assert answer["status"] == "changes_requested"
    return str(answer["feedbackId"])


def _thread(reviewer: httpx.Client, cid: str) -> list[dict[str, Any]]:
    return list(_ok(reviewer.get(f"/contracts/{cid}"))["feedback"])


def _events(reviewer: httpx.Client, cid: str) -> list[dict[str, Any]]:
    return list(_ok(reviewer.get(f"/contracts/{cid}/events", params={"limit": 1000}))["events"])


def test_the_thread_shows_delivery_acks_and_the_supervisors_reply(
    clients: dict[str, httpx.Client],
) -> None:
    reviewer, supervisor = clients["reviewer"], clients["supervisor"]
    cid = _awaiting(reviewer, supervisor)
    first = _request_changes(reviewer, cid, "Split the plan into milestones")

    (entry,) = _thread(reviewer, cid)
    assert entry["id"] == first and entry["delivery"] == "not_yet_picked_up"
    assert entry["phase"] == "plan" and entry["feedback"] == "Split the plan into milestones"
    assert entry["requestedBy"] == "alice" and entry["reply"] is None

    beat = {"task_id": "t", "state": "working", "phase": "plan", "acknowledged_feedback": [first]}
    tasks = _ok(reviewer.get(f"/contracts/{cid}"))["tasks"]
    beat["task_id"] = next(t["id"] for t in tasks if t["isSupervisor"])
    assert supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=beat).status_code == 202
    (entry,) = _thread(reviewer, cid)
    assert entry["delivery"] == "delivered" and entry["acknowledgedVia"] == "heartbeat"

    asked = _ok(supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"}))
    assert asked["status"] == "requires_confirmation"
    (entry,) = _thread(reviewer, cid)
    assert entry["reply"]["kind"] == "request"

    second = _request_changes(reviewer, cid, "Add a rollback step")
    acked = _ok(supervisor.post(f"/contracts/{cid}/feedback/{second}/ack"))
    assert acked["delivery"] == "delivered" and acked["acknowledgedVia"] == "ack"
    again = _ok(supervisor.post(f"/contracts/{cid}/feedback/{second}/ack"))
    assert again["acknowledgedAt"] == acked["acknowledgedAt"]  # once
    _ok(
        supervisor.post(
            f"/contracts/{cid}/questions",
            json={"question": "Rollback by feature flag?", "questionType": "free_text"},
        )
    )
    thread = _thread(reviewer, cid)
    assert [e["id"] for e in thread] == [first, second]
    assert thread[1]["reply"] == {
        "kind": "question",
        "text": "Rollback by feature flag?",
        "at": thread[1]["reply"]["at"],
    }

    kinds = [e["type"] for e in _events(reviewer, cid)]
    assert kinds.count("changes_requested") == 2
    assert kinds.count("feedback_acknowledged") == 2
    changes = [e for e in _events(reviewer, cid) if e["type"] == "changes_requested"]
    assert [e["feedback_id"] for e in changes] == [first, second]
    exported = _ok(reviewer.get(f"/contracts/{cid}/export"))
    assert [f["id"] for f in exported["feedback"]] == [first, second]
    assert all(f["delivery"] == "delivered" for f in exported["feedback"])


def test_only_the_supervisor_or_an_admin_acknowledges_and_bad_ids_are_refused(
    clients: dict[str, httpx.Client],
) -> None:
    reviewer, supervisor = clients["reviewer"], clients["supervisor"]
    cid = _awaiting(reviewer, supervisor)
    feedback = _request_changes(reviewer, cid, "More tests")
    assert_error(reviewer.post(f"/contracts/{cid}/feedback/{feedback}/ack"), 403, "FORBIDDEN")
    assert_error(supervisor.post(f"/contracts/{cid}/feedback/nope/ack"), 404, "FEEDBACK_NOT_FOUND")
    body = {"task_id": "t", "state": "working", "phase": "plan", "acknowledged_feedback": "x"}
    error = assert_error(
        supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=body),
        400,
        "VALIDATION_FAILED",
    )
    assert error["details"]["field"] == "acknowledged_feedback"
    assert _thread(reviewer, cid)[0]["delivery"] == "not_yet_picked_up"
    assert (
        _ok(clients["admin"].post(f"/contracts/{cid}/feedback/{feedback}/ack"))["delivery"]
        == "delivered"
    )


def _until(check: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_the_simulator_acknowledges_redoes_the_deliverable_and_asks_again(
    loop_server: ServerProcess, clients: dict[str, httpx.Client], tmp_path: Path
) -> None:
    reviewer = clients["reviewer"]
    # The module's server holds the earlier tests' contracts: only the simulator's count.
    before = {c["id"] for c in _ok(reviewer.get("/contracts", params={"limit": 1000}))["contracts"]}

    def confirmation() -> dict[str, Any] | None:
        for question in _ok(reviewer.get("/questions", params={"status": "pending"}))["questions"]:
            reviewer.post(f"/questions/{question['id']}/answer", json={"answer": "yes"})
        items = _ok(reviewer.get("/inbox"))["items"]
        simulated = (i for i in items if i["contractId"] not in before)
        return next((i for i in simulated if i["kind"] == "phase_confirmation"), None)

    with simulating(loop_server, tmp_path / "sim.log", supervisors=3, tick=0.05, seed=11):
        item = _until(confirmation, within=90)
        assert item is not None, "no simulated contract asked to advance"
        cid = item["contractId"]
        feedback = _request_changes(reviewer, cid, "Please tighten the plan")

        def asked_again() -> bool:
            contract = _ok(reviewer.get(f"/contracts/{cid}"))
            pending = contract.get("pendingConfirmation") or {}
            return pending.get("transitionId") not in (None, item["transitionId"])

        assert _until(asked_again, within=60), "the simulator did not ask again"

    (entry,) = [e for e in _thread(reviewer, cid) if e["id"] == feedback]
    assert entry["delivery"] == "delivered" and entry["reply"]["kind"] == "request"
    events = _events(reviewer, cid)
    start = next(i for i, e in enumerate(events) if e.get("feedback_id") == feedback)
    after = [e["type"] for e in events[start:]]
    assert after.index("feedback_acknowledged") < after.index("deliverable_completed")
    assert after.index("deliverable_completed") < after.index("phase_confirmation_requested")
    redone = next(e for e in events[start:] if e["type"] == "deliverable_completed")
    assert "Please tighten the plan" in (redone.get("summary") or "")
    exported = _ok(reviewer.get(f"/contracts/{cid}/export"))
    assert any(f["id"] == feedback and f["reply"] for f in exported["feedback"])
