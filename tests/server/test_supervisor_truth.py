"""Issue 10 through the real server: the supervisor is told the truth, the guard and the
inputs are exact (§6.3, unknown keys, phaseConfig.gates), and a supervisor starting its
contract moves it to `active`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.server.conftest import assert_error, new_contract, start_contract


def beat(contract: dict[str, Any], state: str = "working", **extra: Any) -> dict[str, Any]:
    return {
        "task_id": contract["supervisorTaskId"],
        "state": state,
        "phase": contract["phase"],
        "current_activity": "planning",
        "progress": 10,
        **extra,
    }


def events(client: httpx.Client, cid: str, kind: str) -> list[dict[str, Any]]:
    found = client.get(f"/contracts/{cid}/events", params={"limit": 1000}).json()["events"]
    return [e for e in found if e["type"] == kind]


def test_heartbeat_state_change_is_logged_and_save_reports_real_old_state(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    url = f"/contracts/{cid}/supervisor/heartbeat"
    assert supervisor.post(url, json=beat(contract, "working")).status_code == 202
    assert supervisor.post(url, json=beat(contract, "working")).status_code == 202
    assert supervisor.post(url, json=beat(contract, "waiting_for_tasks")).status_code == 202
    changes = events(reviewer, cid, "supervisor_state_changed")
    assert [(e["old_state"], e["new_state"]) for e in changes] == [
        (None, "working"),
        ("working", "waiting_for_tasks"),
    ]
    now = "2026-01-01T00:00:00Z"
    saved = supervisor.put(
        f"/contracts/{cid}/supervisor/state",
        json={"state": "idle", "phase": "plan", "createdAt": now, "updatedAt": now},
    )
    assert saved.status_code == 200, saved.text
    last = events(reviewer, cid, "supervisor_state_changed")[-1]
    assert (last["old_state"], last["new_state"]) == ("waiting_for_tasks", "idle")


def test_heartbeat_of_another_task_is_refused(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    made_up = beat(contract, task_id=str(uuid.uuid4()))
    single = supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=made_up)
    body = assert_error(single, 400, "VALIDATION_FAILED")
    assert "not this contract's supervisor task" in body["message"]
    batch = supervisor.post(
        "/supervisor/heartbeats", json={"heartbeats": [{**made_up, "contract_id": cid}]}
    )
    assert "heartbeats[0]" in assert_error(batch, 400, "VALIDATION_FAILED")["message"]
    status = reviewer.get(f"/contracts/{cid}/supervisor/status").json()
    assert status["alive"] is False and status["task_id"] == contract["supervisorTaskId"]
    bare = new_contract(reviewer)  # no supervisor task at all
    refused = supervisor.post(
        f"/contracts/{bare['id']}/supervisor/heartbeat",
        json={"task_id": str(uuid.uuid4()), "state": "working", "phase": "plan"},
    )
    assert_error(refused, 400, "VALIDATION_FAILED")
    assert_error(
        reviewer.get(f"/contracts/{bare['id']}/supervisor/status"), 404, "SUPERVISOR_NOT_FOUND"
    )


def test_sync_makes_the_saved_state_agree_with_the_latest_heartbeat(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    now = "2026-01-01T00:00:00Z"
    supervisor.put(
        f"/contracts/{cid}/supervisor/state",
        json={"state": "idle", "phase": "plan", "createdAt": now, "updatedAt": now},
    )
    supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=beat(contract, "working"))
    synced = reviewer.post(f"/contracts/{cid}/supervisor/sync")
    assert synced.status_code == 200, synced.text
    assert synced.json()["state"] == "working"
    restore = supervisor.get(f"/contracts/{cid}/supervisor/restore").json()
    assert restore["state"]["state"] == "working"
    assert restore["state"]["current_activity"] == "planning"


def test_restore_redelivers_pending_questions_to_the_user(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    asked = supervisor.post(
        f"/contracts/{cid}/questions", json={"question": "Keep v1?", "questionType": "confirmation"}
    ).json()
    restore = supervisor.get(f"/contracts/{cid}/supervisor/restore").json()
    assert [q["id"] for q in restore["redeliver_questions"]] == [asked["id"]]
    again = events(reviewer, cid, "question_redelivered")
    assert [(e["question_id"], e["question"]) for e in again] == [(asked["id"], "Keep v1?")]


def test_a_working_heartbeat_starts_a_created_contract(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = new_contract(reviewer)
    cid = contract["id"]
    task = supervisor.post(f"/contracts/{cid}/tasks", json={"name": "sup", "isSupervisor": True})
    contract = reviewer.get(f"/contracts/{cid}").json()
    assert contract["status"] == "created"
    url = f"/contracts/{cid}/supervisor/heartbeat"
    assert supervisor.post(url, json=beat(contract, "initializing")).status_code == 202
    assert reviewer.get(f"/contracts/{cid}").json()["status"] == "created"
    assert supervisor.post(url, json=beat(contract, "working")).status_code == 202
    assert reviewer.get(f"/contracts/{cid}").json()["status"] == "active"
    started = events(reviewer, cid, "status_changed")
    assert [(e["old_status"], e["new_status"]) for e in started] == [("created", "active")]
    # ... and so does a saved state in a working state.
    other = new_contract(reviewer)
    supervisor.post(f"/contracts/{other['id']}/tasks", json={"name": "sup", "isSupervisor": True})
    now = "2026-01-01T00:00:00Z"
    saved = supervisor.put(
        f"/contracts/{other['id']}/supervisor/state",
        json={"state": "working", "phase": "plan", "createdAt": now, "updatedAt": now},
    )
    assert saved.status_code == 200, saved.text
    assert reviewer.get(f"/contracts/{other['id']}").json()["status"] == "active"
    del task


def test_guard_answers_first_even_with_deliverables_missing(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    stale = supervisor.post(
        f"/contracts/{cid}/phase", json={"phase": "execute", "expectedVersion": 1}
    )
    assert_error(stale, 409, "VERSION_CONFLICT")  # the version check stays first
    asked = supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"})
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["status"] == "requires_confirmation"
    assert body["missingRequirements"] == ["Deliverable: plan-document"]
    assert body["deliverables"][0]["completed"] is False


def test_unknown_keys_are_refused_naming_the_key(
    reviewer: httpx.Client, admin: httpx.Client
) -> None:
    contract = new_contract(reviewer)
    patched = reviewer.patch(f"/contracts/{contract['id']}", json={"status": "paused"})
    body = assert_error(patched, 400, "VALIDATION_FAILED")
    assert "'status'" in body["message"] and "/status" in body["message"]
    assert body["details"]["field"] == "status"
    batch = admin.post(
        "/contracts/batch", json={"operation": "archive_old", "older_than": 7, "dry_run": True}
    )
    body = assert_error(batch, 400, "VALIDATION_FAILED")
    assert "older_than_hours" in body["message"]
    typo = {
        "phases": [{"id": "a", "name": "A", "order": 0}],
        "deliverable": {},
    }
    made = reviewer.post(
        "/contracts", json={"name": "x", "contractType": "custom", "phaseConfig": typo}
    )
    body = assert_error(made, 400, "VALIDATION_FAILED")
    assert "'deliverable'" in body["message"]


def test_phase_config_gates_are_validated_stored_and_used(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    phases = [{"id": "a", "name": "A", "order": 0}, {"id": "b", "name": "B", "order": 1}]
    bad = reviewer.post(
        "/contracts",
        json={
            "name": "g",
            "contractType": "custom",
            "phaseConfig": {"phases": phases, "gates": {"a": {"requiredTasks": "most"}}},
        },
    )
    assert "requiredTasks" in assert_error(bad, 400, "VALIDATION_FAILED")["message"]
    gates = {"a": {"requiredTasks": {"min_complete": 2}}, "b": {"requiredTasks": "none"}}
    contract = start_contract(
        reviewer,
        supervisor,
        "custom",
        phaseConfig={"phases": phases, "gates": gates},
        phaseGuard=False,
    )
    cid = contract["id"]
    assert contract["phaseConfig"]["gates"]["a"] == {
        "requiredTasks": {"min_complete": 2},
        "autoAdvance": True,
    }
    readiness = reviewer.get(f"/contracts/{cid}/phase-readiness").json()
    assert readiness["missing"] == ["Need 2 tasks complete, have 0"]
    for name in ("one", "two"):
        task = supervisor.post(f"/contracts/{cid}/tasks", json={"name": name}).json()
        supervisor.patch(f"/contracts/{cid}/tasks/{task['id']}", json={"status": "done"})
    after = reviewer.get(f"/contracts/{cid}").json()
    # Two tasks done: phase a advanced; b needs no tasks and has no deliverables: completing.
    assert (after["phase"], after["status"]) == ("b", "completing")


def test_dashboard_counts_active_phases_and_measured_daemons_and_worktrees(
    server: Any, reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    """`phaseCounts` counts active contracts only; activeDaemons / totalWorktrees are
    measured from live heartbeats carrying `daemon_id` and `worktrees`. A fresh owner
    (its own keys) keeps the figures this test's own."""
    from tests.server.hardened import new_key

    owner = f"dash-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {new_key(server, owner, 'admin')}"}
    with httpx.Client(base_url=server.base_url + "/api/v1", headers=headers, timeout=30) as me:
        ids = [start_contract(me, me)["id"] for _ in range(3)]
        me.post(f"/contracts/{ids[2]}/status", json={"targetStatus": "paused"})
        contracts = [me.get(f"/contracts/{cid}").json() for cid in ids]
        beats = [
            {
                **beat(contracts[0]),
                "contract_id": ids[0],
                "daemon_id": "d1",
                "worktrees": ["/w/a", "/w/b"],
            },
            {**beat(contracts[1]), "contract_id": ids[1], "daemon_id": "d1", "worktrees": ["/w/c"]},
            {**beat(contracts[2]), "contract_id": ids[2], "daemon_id": "d2", "worktrees": []},
        ]
        sent = me.post("/supervisor/heartbeats", json={"heartbeats": beats})
        assert sent.status_code == 202, sent.text
        board = me.get("/contracts/dashboard").json()
    assert board["phaseCounts"] == {"plan": 2}  # the paused one is not counted
    usage = board["resourceUsage"]
    assert (usage["activeSupervisors"], usage["activeDaemons"], usage["totalWorktrees"]) == (
        3,
        2,
        3,
    )
