"""The heartbeat fast path (server/heartbeat_intake.py) answers exactly like the routes:
every error body, owner scoping, and the fall-back to the routes for idempotent requests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.server.conftest import Server, assert_error, start_contract


def _beat(contract: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "task_id": contract["supervisorTaskId"],
        "state": "working",
        "phase": contract["phase"],
        "current_activity": "fast path",
        "progress": 10,
        **extra,
    }


def _history(client: httpx.Client, cid: str) -> list[dict[str, Any]]:
    answer = client.get(f"/contracts/{cid}/supervisor/heartbeats", params={"limit": 50})
    return list(answer.json()["heartbeats"])


def test_keys_in_both_headers_and_missing_or_unknown_keys(
    server: Server, reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    path = f"/api/v1/contracts/{contract['id']}/supervisor/heartbeat"
    by_header = server.client("supervisor", header="x")
    assert by_header.post(path.removeprefix("/api/v1"), json=_beat(contract)).status_code == 202
    anon = server.anonymous()
    assert_error(anon.post(path, json=_beat(contract)), 401, "UNAUTHORIZED")
    unknown = {"Authorization": "Bearer cdk_not-a-key"}
    assert_error(anon.post(path, json=_beat(contract), headers=unknown), 401, "UNAUTHORIZED")


def test_bad_bodies_answer_validation_failed_and_store_nothing(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    path = f"/contracts/{contract['id']}/supervisor/heartbeat"
    headers = {"content-type": "application/json"}
    assert_error(supervisor.post(path, content=b"{nope", headers=headers), 400, "VALIDATION_FAILED")
    assert_error(supervisor.post(path, json=[1, 2]), 400, "VALIDATION_FAILED")
    body = assert_error(
        supervisor.post(path, json=_beat(contract, progress=101)), 400, "VALIDATION_FAILED"
    )
    assert "progress" in body["message"]
    batch = {"heartbeats": [_beat(contract, contract_id=contract["id"]), {"state": "working"}]}
    body = assert_error(
        supervisor.post("/supervisor/heartbeats", json=batch), 400, "VALIDATION_FAILED"
    )
    assert body["message"].startswith("heartbeats[1]:")
    assert_error(supervisor.post("/supervisor/heartbeats", json={}), 400, "VALIDATION_FAILED")
    assert _history(reviewer, contract["id"]) == []


def test_another_owners_contract_is_not_found(
    server: Server, reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    other = server.client("other")
    path = f"/contracts/{contract['id']}/supervisor/heartbeat"
    assert_error(other.post(path, json=_beat(contract)), 404, "CONTRACT_NOT_FOUND")
    foreign = {"heartbeats": [_beat(contract, contract_id=contract["id"])]}
    assert other.post("/supervisor/heartbeats", json=foreign).json() == {"accepted": 0}
    assert _history(reviewer, contract["id"]) == []


def test_idempotent_heartbeats_take_the_routes_and_replay(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    path = f"/contracts/{contract['id']}/supervisor/heartbeat"
    headers = {"Idempotency-Key": "beat-1"}
    first = supervisor.post(path, json=_beat(contract), headers=headers)
    again = supervisor.post(path, json=_beat(contract), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(_history(reviewer, contract["id"])) == 1


def test_accepted_heartbeats_are_stored_and_counted(
    server: Server, reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    batch = {
        "heartbeats": [_beat(contract, contract_id=contract["id"], progress=p) for p in range(5)]
    }
    assert supervisor.post("/supervisor/heartbeats", json=batch).json() == {"accepted": 5}
    assert len(_history(reviewer, contract["id"])) == 5
    metrics = server.anonymous().get("/metrics").text
    assert "supervisor_heartbeats_total" in metrics
