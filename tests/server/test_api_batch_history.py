"""Batch operations, events paging, dashboard, export, idempotency, /health, /metrics,
/openapi.json."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.server.conftest import Server, assert_error, new_contract, start_contract


@pytest.fixture
def bob_admin(server: Server) -> httpx.Client:
    return server.client("other_admin")


def _batch(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/contracts/batch", json=body)


def _status(client: httpx.Client, cid: str) -> str:
    return str(client.get(f"/contracts/{cid}").json()["status"])


def _bob_contracts(server: Server, n: int) -> list[str]:
    """n active contracts of owner bob (with supervisors), for batches that touch all of bob's."""
    bob = server.client("other_admin")
    ids = []
    for _ in range(n):
        cid = new_contract(bob)["id"]
        bob.post(f"/contracts/{cid}/tasks", json={"name": "sup", "isSupervisor": True})
        bob.post(f"/contracts/{cid}/status", json={"targetStatus": "active"})
        ids.append(cid)
    return ids


def test_batch_needs_admin(server: Server) -> None:
    for role in ("reviewer", "supervisor", "other"):
        assert_error(_batch(server.client(role), operation="pause_all"), 403, "FORBIDDEN")


def test_batch_rejects_bad_requests(bob_admin: httpx.Client) -> None:
    assert_error(_batch(bob_admin, operation="explode"), 400, "VALIDATION_FAILED")
    assert_error(
        _batch(bob_admin, operation="archive_old", older_than_hours=-1), 400, "VALIDATION_FAILED"
    )
    assert_error(_batch(bob_admin, operation="pause_all", dry_run="yes"), 400, "VALIDATION_FAILED")


def test_pause_and_resume_all(server: Server, bob_admin: httpx.Client) -> None:
    ids = _bob_contracts(server, 2)
    dry = _batch(bob_admin, operation="pause_all", dry_run=True)
    assert dry.status_code == 200
    body = dry.json()
    keys = {"operation", "affected_count", "affected_ids", "errors", "dry_run", "statuses"}
    assert set(body) == keys and body["statuses"] == {}
    assert body["dry_run"] is True and set(ids) <= set(body["affected_ids"])
    assert body["affected_count"] == len(body["affected_ids"])
    assert all(_status(bob_admin, cid) == "active" for cid in ids)
    run = _batch(bob_admin, operation="pause_all", reason="maintenance").json()
    assert run["dry_run"] is False and set(ids) <= set(run["affected_ids"])
    assert all(_status(bob_admin, cid) == "paused" for cid in ids)
    events = bob_admin.get(f"/contracts/{ids[0]}/events").json()["events"]
    assert events[-1]["reason"] == "maintenance"
    assert events[-1]["actor"] == {"owner": "bob", "role": "admin", "user": "bob"}
    assert all(run["statuses"][cid] == "paused" for cid in ids)  # the status after the run
    resumed = _batch(bob_admin, operation="resume_all").json()
    assert set(ids) <= set(resumed["affected_ids"])
    assert all(_status(bob_admin, cid) == "active" for cid in ids)
    assert all(resumed["statuses"][cid] == "active" for cid in ids)
    metrics = server.anonymous().get("/metrics").text
    assert 'batch_operations_total{operation="pause_all"}' in metrics


def test_archive_old_then_cleanup(server: Server, bob_admin: httpx.Client) -> None:
    ids = _bob_contracts(server, 2)
    for cid in ids:
        bob_admin.post(f"/contracts/{cid}/status", json={"targetStatus": "failed", "reason": "x"})
    archived = _batch(bob_admin, operation="archive_old", older_than_hours=0).json()
    assert set(ids) <= set(archived["affected_ids"])
    assert all(_status(bob_admin, cid) == "archived" for cid in ids)
    dry = _batch(bob_admin, operation="cleanup_archived", olderThanHours=0, dryRun=True).json()
    assert set(ids) <= set(dry["affected_ids"])
    cleaned = _batch(bob_admin, operation="cleanup_archived", older_than_hours=0).json()
    assert set(ids) <= set(cleaned["affected_ids"]) and cleaned["errors"] == []
    assert all(cleaned["statuses"][cid] == "deleted" for cid in ids)
    for cid in ids:
        assert_error(bob_admin.get(f"/contracts/{cid}"), 404, "CONTRACT_NOT_FOUND")


def test_restart_stale(server: Server, bob_admin: httpx.Client) -> None:
    ids = _bob_contracts(server, 1)
    result = _batch(bob_admin, operation="restart_stale", stale_threshold_minutes=0).json()
    assert ids[0] in result["affected_ids"]
    events = bob_admin.get(f"/contracts/{ids[0]}/events").json()["events"]
    assert events[-1]["type"] == "supervisor_restart_requested"


# Events ------------------------------------------------------------------------------------


def test_events_page_with_after(
    server: Server, reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    everything = reviewer.get(f"/contracts/{cid}/events", params={"limit": 1000}).json()
    assert set(everything) == {"events", "lastSeq"}
    seqs = [e["seq"] for e in everything["events"]]
    assert seqs == sorted(seqs) and len(seqs) >= 3
    assert everything["lastSeq"] == seqs[-1]
    assert everything["events"][0]["type"] == "contract_created"
    assert {"seq", "at", "type", "contract_id", "actor"} <= set(everything["events"][0])
    first = reviewer.get(f"/contracts/{cid}/events", params={"limit": 2}).json()
    rest = reviewer.get(f"/contracts/{cid}/events", params={"after": first["lastSeq"]}).json()
    assert [e["seq"] for e in first["events"] + rest["events"]] == seqs
    tail = reviewer.get("/events", params={"after": seqs[-1] - 1, "contractId": cid}).json()
    assert [e["seq"] for e in tail["events"]] == [seqs[-1]]
    global_page = reviewer.get("/events", params={"after": 0, "limit": 3}).json()
    assert len(global_page["events"]) == 3
    far = reviewer.get("/events", params={"after": 10**12}).json()
    assert far == {"events": [], "lastSeq": 10**12}
    foreign = server.client("other").get("/events", params={"contractId": cid}).json()
    assert foreign["events"] == []
    assert_error(reviewer.get("/events", params={"after": -1}), 400, "VALIDATION_FAILED")
    assert_error(reviewer.get("/events", params={"limit": 5000}), 400, "VALIDATION_FAILED")
    assert_error(reviewer.get("/contracts/nope/events"), 404, "CONTRACT_NOT_FOUND")


def test_export(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)
    exported = reviewer.get(f"/contracts/{contract['id']}/export").json()
    assert set(exported) == {
        "contract",
        "tasks",
        "questions",
        "events",
        "supervisor",
        "heartbeats",
        "feedback",
    }
    assert exported["contract"]["id"] == contract["id"]
    assert len(exported["tasks"]) == 1 and exported["events"][0]["type"] == "contract_created"


def test_dashboard(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)
    supervisor.post(
        f"/contracts/{contract['id']}/questions",
        json={"question": "why?", "questionType": "free_text"},
    )
    board = reviewer.get("/contracts/dashboard").json()
    assert set(board) == {
        "statusCounts",
        "phaseCounts",
        "staleContracts",
        "waitingForInput",
        "recentEvents",
        "resourceUsage",
    }
    assert len(board["statusCounts"]) == 9 and board["statusCounts"]["waiting_for_input"] >= 1
    waiting = {w["id"]: w for w in board["waitingForInput"]}
    assert waiting[contract["id"]]["question"] == "why?"
    assert set(board["resourceUsage"]) == {
        "activeSupervisors",
        "runningTasks",
        "pendingTasks",
        "activeDaemons",
        "totalWorktrees",
    }


# Idempotency -------------------------------------------------------------------------------


def test_idempotent_replay(server: Server, reviewer: httpx.Client) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"name": f"idem-{uuid.uuid4().hex[:6]}", "contractType": "simple"}
    first = reviewer.post("/contracts", json=body, headers=key)
    second = reviewer.post("/contracts", json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    named = reviewer.get("/contracts", params={"limit": 1000}).json()["contracts"]
    assert sum(1 for c in named if c["name"] == body["name"]) == 1
    other = reviewer.post("/contracts", json={**body, "name": "different"}, headers=key)
    assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")
    elsewhere = server.client("other").post("/contracts", json=body, headers=key)
    assert elsewhere.status_code == 201 and elsewhere.json()["id"] != first.json()["id"]


def test_idempotent_replay_of_errors_and_deletes(reviewer: httpx.Client) -> None:
    cid = new_contract(reviewer)["id"]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    move = {"targetStatus": "paused"}
    first = reviewer.post(f"/contracts/{cid}/status", json=move, headers=key)
    again = reviewer.post(f"/contracts/{cid}/status", json=move, headers=key)
    assert first.status_code == again.status_code == 400
    assert first.json() == again.json()
    patch_key = {"Idempotency-Key": uuid.uuid4().hex}
    one = reviewer.patch(f"/contracts/{cid}", json={"description": "d1"}, headers=patch_key)
    two = reviewer.patch(f"/contracts/{cid}", json={"description": "d1"}, headers=patch_key)
    assert one.json()["version"] == two.json()["version"] == 2


async def test_concurrent_duplicates_apply_once(server: Server) -> None:
    headers = {
        "Authorization": f"Bearer {server.keys['reviewer']}",
        "Idempotency-Key": uuid.uuid4().hex,
    }
    body = {"name": f"dup-{uuid.uuid4().hex[:6]}", "contractType": "simple"}
    async with httpx.AsyncClient(base_url=server.base_url + "/api/v1", headers=headers) as client:
        responses = await asyncio.gather(*(client.post("/contracts", json=body) for _ in range(8)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1


# Operations --------------------------------------------------------------------------------


def test_health_metrics_openapi(
    server: Server, reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    anon = server.anonymous()
    assert anon.get("/health").json() == {"status": "ok", "db": "ok"}
    contract = start_contract(reviewer, supervisor, phaseGuard=False)
    supervisor.post(
        f"/contracts/{contract['id']}/deliverables", json={"deliverableId": "plan-document"}
    )
    supervisor.post(
        f"/contracts/{contract['id']}/deliverables", json={"deliverableId": "pull-request"}
    )
    supervisor.post(
        f"/contracts/{contract['id']}/supervisor/heartbeat",
        json={"task_id": contract["supervisorTaskId"], "state": "working", "phase": "execute"},
    )
    metrics = anon.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for name in (
        "contracts_by_status",
        "contracts_stale_count",
        "phase_transitions_total",
        "completion_detections_total",
        "supervisor_heartbeats_total",
        "supervisor_restarts_total",
        "batch_operations_total",
    ):
        assert f"# TYPE {name}" in text
    assert 'phase_transitions_total{from="plan",to="execute"}' in text
    assert 'http_requests_total{method="POST",status="2xx"}' in text
    assert 'contracts_by_status{status="completing"}' in text
    completions = [ln for ln in text.splitlines() if ln.startswith("completion_detections_total")]
    assert float(completions[0].split()[-1]) >= 1
    spec = anon.get("/openapi.json").json()
    assert "/api/v1/contracts/{contract_id}/phase" in spec["paths"]
    assert "/api/v1/contracts/batch" in spec["paths"]


def test_monitor_key_in_url_is_never_logged(server: Server) -> None:
    """The monitor may take `?api_key=`; with uvicorn's access log off the key stays out of
    the server log (the server fixture checks the log for every key at teardown)."""
    from websockets.sync.client import connect

    url = server.base_url.replace("http", "ws") + "/api/v1/contracts/monitor"
    with connect(f"{url}?api_key={server.keys['reviewer']}", open_timeout=10) as ws:
        ws.send('{"include_heartbeats": false}')
        first = ws.recv(timeout=10)
    assert '"subscribed"' in str(first)
