"""Supervisor endpoints: heartbeats (single and batch), status, history, state, restore,
sync (alive, dead, missing) and restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.server.conftest import Server, assert_error, new_contract, start_contract


def _beat(contract: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "task_id": contract["supervisorTaskId"],
        "contract_id": contract["id"],
        "state": "working",
        "phase": contract["phase"],
        "current_activity": "thinking",
        "progress": 40,
        "pending_task_ids": [],
        **extra,
    }


def _state(phase: str, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {"state": "working", "phase": phase, "createdAt": now, "updatedAt": now, **extra}


def test_heartbeat_status_and_history(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    sent = supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=_beat(contract))
    assert sent.status_code == 202
    camel = {
        "taskId": contract["supervisorTaskId"],
        "state": "idle",
        "phase": "plan",
        "currentActivity": "resting",
        "progress": 50,
    }
    assert supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=camel).status_code == 202
    status = reviewer.get(f"/contracts/{cid}/supervisor/status").json()
    assert set(status) == {
        "task_id",
        "state",
        "phase",
        "current_activity",
        "progress",
        "last_heartbeat",
        "pending_task_ids",
        "alive",
    }
    assert (status["state"], status["progress"], status["alive"]) == ("idle", 50, True)
    history = reviewer.get(f"/contracts/{cid}/supervisor/heartbeats", params={"limit": 1}).json()
    assert len(history["heartbeats"]) == 1
    assert set(history["heartbeats"][0]) == {"timestamp", "state", "activity", "progress", "phase"}
    full = reviewer.get(f"/contracts/{cid}/supervisor/heartbeats").json()["heartbeats"]
    assert len(full) == 2
    synced = supervisor.post(f"/contracts/{cid}/supervisor/sync")
    assert synced.json() == {"synced": True, "state": "idle"}


def test_heartbeat_errors(server: Server, reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    url = f"/contracts/{cid}/supervisor/heartbeat"
    assert_error(
        supervisor.post(url, json=_beat(contract, state="dancing")), 400, "VALIDATION_FAILED"
    )
    assert_error(supervisor.post(url, json=_beat(contract, progress=101)), 400, "VALIDATION_FAILED")
    assert_error(
        supervisor.post(url, json=_beat(contract, contract_id="other")), 400, "VALIDATION_FAILED"
    )
    other = server.client("other")
    assert_error(other.post(url, json=_beat(contract)), 404, "CONTRACT_NOT_FOUND")


def test_heartbeat_batch(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    first = start_contract(reviewer, supervisor)
    second = start_contract(reviewer, supervisor)
    body = {"heartbeats": [_beat(first), _beat(second), _beat({**first, "id": "unknown"})]}
    response = supervisor.post("/supervisor/heartbeats", json=body)
    assert response.status_code == 202
    assert response.json() == {"accepted": 2}
    bad = supervisor.post("/supervisor/heartbeats", json={"heartbeats": [{"state": "working"}]})
    assert_error(bad, 400, "VALIDATION_FAILED")
    assert_error(supervisor.post("/supervisor/heartbeats", json={}), 400, "VALIDATION_FAILED")


def test_sync_dead_and_missing(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    bare = new_contract(reviewer)
    assert_error(
        reviewer.post(f"/contracts/{bare['id']}/supervisor/sync"), 404, "SUPERVISOR_NOT_FOUND"
    )
    assert_error(
        reviewer.get(f"/contracts/{bare['id']}/supervisor/status"), 404, "SUPERVISOR_NOT_FOUND"
    )
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    assert_error(supervisor.post(f"/contracts/{cid}/supervisor/sync"), 503, "SUPERVISOR_DEAD")
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=_beat(contract, timestamp=old))
    body = assert_error(
        supervisor.post(f"/contracts/{cid}/supervisor/sync"), 503, "SUPERVISOR_DEAD"
    )
    assert body["details"]["last_heartbeat"] is not None
    assert reviewer.get(f"/contracts/{cid}/supervisor/status").json()["alive"] is False


def test_state_and_restore(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    fresh = reviewer.get(f"/contracts/{cid}/supervisor/restore").json()
    assert fresh["action"] == "start_fresh" and fresh["state"] is None
    qid = supervisor.post(
        f"/contracts/{cid}/questions", json={"question": "q", "questionType": "free_text"}
    ).json()["id"]
    saved = supervisor.put(f"/contracts/{cid}/supervisor/state", json=_state("plan"))
    assert saved.status_code == 200
    assert saved.json()["state"] == "working"
    plan = supervisor.get(f"/contracts/{cid}/supervisor/restore").json()
    assert {"action", "state", "redeliver_questions", "waiting_on_task_ids"} <= set(plan)
    assert plan["action"] == "resume"
    assert plan["state"]["phase"] == "plan"
    assert [q["id"] for q in plan["redeliver_questions"]] == [qid]
    events = reviewer.get(f"/contracts/{cid}/events").json()["events"]
    changed = [e for e in events if e["type"] == "supervisor_state_changed"]
    assert changed[-1]["new_state"] == "working"
    bad = supervisor.put(f"/contracts/{cid}/supervisor/state", json={"state": "working"})
    assert_error(bad, 400, "VALIDATION_FAILED")
    broken = supervisor.put(
        f"/contracts/{cid}/supervisor/state",
        json=_state("nowhere", lastCheckpoint={"id": "cp1"}),
    )
    assert broken.status_code == 200
    assert supervisor.get(f"/contracts/{cid}/supervisor/restore").json()["action"] == (
        "from_checkpoint"
    )


def test_restart(server: Server, reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    bare = new_contract(reviewer)
    assert_error(
        reviewer.post(f"/contracts/{bare['id']}/supervisor/restart"), 404, "SUPERVISOR_NOT_FOUND"
    )
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    response = reviewer.post(f"/contracts/{cid}/supervisor/restart")
    assert response.status_code == 202
    events = reviewer.get(f"/contracts/{cid}/events").json()["events"]
    assert events[-1]["type"] == "supervisor_restart_requested"
    metrics = server.anonymous().get("/metrics").text
    assert any(
        line.startswith("supervisor_restarts_total ") and float(line.split()[-1]) >= 1
        for line in metrics.splitlines()
    )
