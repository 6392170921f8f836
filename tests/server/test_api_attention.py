"""Who a contract waits on, asked of the real server: the reviewer (questions, phase and
completion confirmations) or, for a stale contract, the automation — never both.

Issue 8 item 10: after pause-all and resume-all, contracts with open questions came back
`active`, so they counted as stale and were blamed on their supervisor.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.server.conftest import Server, new_contract


def _started(admin: httpx.Client, **extra: Any) -> str:
    cid = str(new_contract(admin, **extra)["id"])
    task = admin.post(f"/contracts/{cid}/tasks", json={"name": "sup", "isSupervisor": True})
    assert task.status_code == 201, task.text
    moved = admin.post(f"/contracts/{cid}/status", json={"targetStatus": "active"})
    assert moved.status_code == 200, moved.text
    return cid


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(listing: dict[str, Any]) -> set[str]:
    return {c["id"] for c in listing["contracts"]}


def test_after_pause_all_and_resume_all_an_open_question_waits_on_the_reviewer(
    server: Server,
) -> None:
    bob = server.client("other_admin")
    asking = _started(bob)
    asked = bob.post(
        f"/contracts/{asking}/questions",
        json={"question": "Which DB?", "questionType": "free_text"},
    )
    assert asked.status_code == 201, asked.text
    quiet = _started(bob)
    assert bob.post("/contracts/batch", json={"operation": "pause_all"}).status_code == 200
    resumed = bob.post("/contracts/batch", json={"operation": "resume_all"})
    assert resumed.status_code == 200 and asking in resumed.json()["affected_ids"]

    contract = _get(bob, f"/contracts/{asking}")
    assert (contract["status"], contract["waitingFor"]) == ("waiting_for_input", "question")
    assert _get(bob, f"/contracts/{quiet}")["status"] == "active"
    time.sleep(1.2)
    stale = _ids(_get(bob, "/contracts", stale="true", threshold="1s", limit=500))
    assert quiet in stale and asking not in stale
    waiting = _ids(_get(bob, "/contracts", waiting="true", limit=500))
    assert asking in waiting and quiet not in waiting
    board = _get(bob, "/contracts/dashboard")
    rows = {w["id"]: w for w in board["waitingForInput"]}
    assert rows[asking]["waitingFor"] == "question"
    assert rows[asking]["question"] == "Which DB?"


def test_a_completing_contract_waits_on_the_reviewer_for_the_completion(server: Server) -> None:
    bob = server.client("other_admin")
    cid = _started(bob, phaseGuard=False)
    # Unguarded: each required deliverable advances the phase, the last one completes.
    for phase, deliverable in (("plan", "plan-document"), ("execute", "pull-request")):
        marked = bob.post(
            f"/contracts/{cid}/deliverables", json={"deliverableId": deliverable, "phase": phase}
        )
        assert marked.status_code == 200, marked.text
    contract = _get(bob, f"/contracts/{cid}")
    assert contract["status"] == "completing", contract
    assert cid in _ids(_get(bob, "/contracts", waiting="true", limit=500))
    rows = {w["id"]: w for w in _get(bob, "/contracts/dashboard")["waitingForInput"]}
    assert rows[cid]["waitingFor"] == "completion_confirmation"


def test_config_reports_the_servers_timing_rules_to_any_key(server: Server) -> None:
    for role in ("reviewer", "supervisor", "other"):
        body = _get(server.client(role), "/config")
        assert body["contracts"]["stale_threshold_minutes"] == 30.0  # the fixture's file
        assert body["contracts"]["heartbeat_timeout_seconds"] == 120.0
    anonymous = server.anonymous().get("/api/v1/config")
    assert anonymous.status_code == 401, anonymous.text
