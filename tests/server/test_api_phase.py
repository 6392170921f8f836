"""Phases over HTTP: guard flow, feedback, confirmation, force, auto-advance, auto-complete,
deliverables, readiness, and 16 reviewers racing to confirm the same change."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.server.conftest import Server, assert_error, start_contract

CONFIRMATION_KEYS = {
    "status",
    "transitionId",
    "currentPhase",
    "nextPhase",
    "deliverablesSummary",
    "deliverables",
    "phaseTasks",
    "requiresConfirmation",
    "version",
    "message",
    "missingRequirements",
}


def _phase(client: httpx.Client, cid: str, **body: Any) -> httpx.Response:
    return client.post(f"/contracts/{cid}/phase", json=body)


def _deliver(client: httpx.Client, cid: str, deliverable: str, **extra: Any) -> httpx.Response:
    return client.post(
        f"/contracts/{cid}/deliverables", json={"deliverableId": deliverable, **extra}
    )


def _events(client: httpx.Client, cid: str) -> list[dict[str, Any]]:
    return list(client.get(f"/contracts/{cid}/events", params={"limit": 1000}).json()["events"])


def _awaiting(reviewer: httpx.Client, supervisor: httpx.Client) -> tuple[str, dict[str, Any]]:
    """A guarded simple contract in plan, deliverable done, a pending task (so no auto-advance),
    after the supervisor asked to advance: (contract id, the requires_confirmation body)."""
    cid = start_contract(reviewer, supervisor)["id"]
    supervisor.post(f"/contracts/{cid}/tasks", json={"name": "write plan"})
    assert _deliver(supervisor, cid, "plan-document").status_code == 200
    response = _phase(supervisor, cid, phase="execute")
    assert response.status_code == 200, response.text
    return cid, response.json()


def test_invalid_deliverable_message(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    body = assert_error(_deliver(supervisor, cid, "nope"), 400, "INVALID_DELIVERABLE")
    assert (
        body["message"] == "Invalid deliverable 'nope' for plan phase. Valid IDs: [plan-document]"
    )


def test_missing_deliverables_block_an_advance(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    # Confirming (not asking: §6.3 answers requires_confirmation first) needs the deliverables.
    confirmed = _phase(reviewer, cid, phase="execute", confirmed=True)
    body = assert_error(confirmed, 400, "VALIDATION_FAILED")
    assert body["details"]["missing_requirements"] == ["Deliverable: plan-document"]
    assert_error(_phase(supervisor, cid, phase="nowhere"), 400, "VALIDATION_FAILED")


def test_requires_confirmation_body(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid, body = _awaiting(reviewer, supervisor)
    assert set(body) == CONFIRMATION_KEYS
    assert body["status"] == "requires_confirmation"
    assert body["version"] == reviewer.get(f"/contracts/{cid}").json()["version"]
    assert (body["currentPhase"], body["nextPhase"]) == ("plan", "execute")
    assert body["requiresConfirmation"] is True
    assert body["message"] == "Phase guard is enabled. User confirmation required."
    assert body["deliverables"] == [
        {"id": "plan-document", "name": body["deliverables"][0]["name"], "completed": True}
    ]
    assert [t["name"] for t in body["phaseTasks"]] == ["write plan"]
    contract = reviewer.get(f"/contracts/{cid}").json()
    assert (contract["status"], contract["waitingFor"]) == (
        "waiting_for_input",
        "phase_confirmation",
    )
    requested = [e for e in _events(reviewer, cid) if e["type"] == "phase_confirmation_requested"]
    assert requested[-1]["transition_id"] == body["transitionId"]
    assert requested[-1]["actor"] == {"owner": "alice", "role": "supervisor", "user": "alice"}


def test_feedback_requests_changes(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid, _ = _awaiting(reviewer, supervisor)
    response = _phase(reviewer, cid, phase="execute", feedback="needs more detail")
    contract = reviewer.get(f"/contracts/{cid}").json()
    assert response.json() == {
        "status": "changes_requested",
        "feedback": "needs more detail",
        "feedbackId": response.json()["feedbackId"],
        "version": contract["version"],
    }
    assert (contract["status"], contract["phase"], contract["waitingFor"]) == (
        "active",
        "plan",
        None,
    )
    assert _events(reviewer, cid)[-1]["type"] in ("changes_requested", "status_changed")


def test_supervisor_may_not_confirm(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid, _ = _awaiting(reviewer, supervisor)
    response = _phase(supervisor, cid, phase="execute", confirmed=True)
    assert_error(response, 409, "PHASE_GUARD_REQUIRED")


def test_reviewer_confirms_with_comment(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid, _ = _awaiting(reviewer, supervisor)
    version = reviewer.get(f"/contracts/{cid}").json()["version"]
    response = _phase(
        reviewer,
        cid,
        phase="execute",
        confirmed=True,
        comment="looks good",
        expectedVersion=version,
    )
    assert response.status_code == 200
    contract = response.json()
    assert (contract["phase"], contract["status"], contract["waitingFor"]) == (
        "execute",
        "active",
        None,
    )
    assert contract["version"] == version + 1
    changed = [e for e in _events(reviewer, cid) if e["type"] == "phase_changed"][-1]
    assert (changed["old_phase"], changed["new_phase"], changed["comment"]) == (
        "plan",
        "execute",
        "looks good",
    )
    assert changed["actor"] == {"owner": "alice", "role": "reviewer", "user": "alice"}
    assert isinstance(changed["seq"], int) and changed["at"].endswith("Z")


def test_phase_version_conflict_first(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid, _ = _awaiting(reviewer, supervisor)
    response = _phase(reviewer, cid, phase="nowhere", confirmed=True, expectedVersion=1)
    body = assert_error(response, 409, "VERSION_CONFLICT")
    assert set(body["details"]) == {"expected_version", "actual_version", "current_phase"}
    assert body["details"]["current_phase"] == "plan"


def test_force_by_reviewer_only(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor, phaseGuard=False)["id"]
    refused = _phase(supervisor, cid, phase="execute", force=True)
    assert_error(refused, 400, "VALIDATION_FAILED")
    forced = _phase(reviewer, cid, phase="execute", force=True)
    assert forced.status_code == 200 and forced.json()["phase"] == "execute"
    back = _phase(supervisor, cid, phase="plan")  # moving backward needs nothing
    assert back.json()["phase"] == "plan"


def test_unguarded_supervisor_advance(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor, phaseGuard=False)["id"]
    supervisor.post(f"/contracts/{cid}/tasks", json={"name": "t"})
    _deliver(supervisor, cid, "plan-document")
    moved = _phase(supervisor, cid, phase="execute")
    assert moved.json()["phase"] == "execute"
    changed = [e for e in _events(reviewer, cid) if e["type"] == "phase_changed"][-1]
    assert changed["actor"]["role"] == "supervisor"


def test_auto_advance_and_auto_complete_on_deliverables(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    cid = start_contract(reviewer, supervisor, phaseGuard=False)["id"]
    after_plan = _deliver(supervisor, cid, "plan-document").json()
    assert after_plan["phase"] == "execute"
    assert after_plan["completedDeliverables"] == {"plan": ["plan-document"]}
    done = _deliver(supervisor, cid, "pull-request").json()
    assert done["status"] == "completing"
    assert done["completionDetectedAt"] is not None


def test_auto_complete_switch_off(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    manual = start_contract(reviewer, supervisor, phaseGuard=False, autoCompleteEnabled=False)
    _deliver(supervisor, manual["id"], "plan-document")
    held = _deliver(supervisor, manual["id"], "pull-request").json()
    assert (held["phase"], held["status"]) == ("execute", "active")  # advanced, not completing
    cid = start_contract(reviewer, supervisor, "execute", autoCompleteEnabled=False)["id"]
    # An `execute` contract (no deliverables) is ready once a task is done (README).
    task = supervisor.post(f"/contracts/{cid}/tasks", json={"name": "work"}).json()
    supervisor.patch(f"/contracts/{cid}/tasks/{task['id']}", json={"status": "done"})
    check = reviewer.post(f"/contracts/{cid}/check-completion").json()
    assert {k: check[k] for k in ("ready", "would_complete", "missing", "started")} == {
        "ready": True,
        "would_complete": False,
        "missing": [],
        "started": False,
    }
    switched = reviewer.put(f"/contracts/{cid}/auto-complete", json={"enabled": True}).json()
    assert switched["status"] == "completing"  # switching it on runs the flow


def test_auto_advance_on_task_finish_honours_guard(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    guarded = start_contract(reviewer, supervisor)["id"]
    task = supervisor.post(f"/contracts/{guarded}/tasks", json={"name": "work"}).json()
    assert set(task) == {
        "id",
        "contractId",
        "name",
        "status",
        "isSupervisor",
        "createdAt",
        "updatedAt",
    }
    _deliver(supervisor, guarded, "plan-document")
    running = supervisor.patch(
        f"/contracts/{guarded}/tasks/{task['id']}", json={"status": "running"}
    )
    assert running.json()["status"] == "running"
    finished = supervisor.patch(f"/contracts/{guarded}/tasks/{task['id']}", json={"status": "done"})
    assert finished.json()["status"] == "done"
    contract = reviewer.get(f"/contracts/{guarded}").json()
    assert (contract["phase"], contract["waitingFor"]) == ("plan", "phase_confirmation")
    free = start_contract(reviewer, supervisor, phaseGuard=False)["id"]
    task = supervisor.post(f"/contracts/{free}/tasks", json={"name": "work"}).json()
    _deliver(supervisor, free, "plan-document")
    assert reviewer.get(f"/contracts/{free}").json()["phase"] == "plan"
    supervisor.patch(f"/contracts/{free}/tasks/{task['id']}", json={"status": "done"})
    assert reviewer.get(f"/contracts/{free}").json()["phase"] == "execute"
    completed = [e for e in _events(reviewer, free) if e["type"] == "task_completed"]
    assert completed[-1]["success"] is True and completed[-1]["task_name"] == "work"


def test_task_errors(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    assert_error(
        supervisor.patch(f"/contracts/{cid}/tasks/nope", json={"status": "done"}),
        404,
        "TASK_NOT_FOUND",
    )
    task = supervisor.post(f"/contracts/{cid}/tasks", json={"name": "t"}).json()
    assert_error(
        supervisor.patch(f"/contracts/{cid}/tasks/{task['id']}", json={"status": "sideways"}),
        400,
        "VALIDATION_FAILED",
    )
    assert_error(
        supervisor.post(f"/contracts/{cid}/tasks", json={"name": "s", "isSupervisor": True}),
        400,
        "VALIDATION_FAILED",
    )


def test_phase_readiness(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    supervisor.post(f"/contracts/{cid}/tasks", json={"name": "t"})
    readiness = reviewer.get(f"/contracts/{cid}/phase-readiness").json()
    assert readiness == {
        "phase": "plan",
        "ready": False,
        "missing": ["Deliverable: plan-document", "1 tasks incomplete"],
        "auto_advance_enabled": True,
    }
    check = reviewer.post(f"/contracts/{cid}/check-completion").json()
    assert check["ready"] is False and check["would_complete"] is False
    assert check["missing"][0].startswith("Not in terminal phase")


async def test_sixteen_reviewers_race_to_confirm(server: Server) -> None:
    reviewer, supervisor = server.client("reviewer"), server.client("supervisor")
    cid, _ = _awaiting(reviewer, supervisor)
    version = reviewer.get(f"/contracts/{cid}").json()["version"]
    body = {"phase": "execute", "confirmed": True, "expectedVersion": version}
    headers = {"Authorization": f"Bearer {server.keys['reviewer']}"}
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(
        base_url=server.base_url + "/api/v1", headers=headers, limits=limits, timeout=30
    ) as client:
        gate = asyncio.Event()

        async def confirm() -> httpx.Response:
            await gate.wait()
            return await client.post(f"/contracts/{cid}/phase", json=body)

        racers = [asyncio.ensure_future(confirm()) for _ in range(16)]
        await asyncio.sleep(0.05)
        gate.set()
        responses = await asyncio.gather(*racers)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 15
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "VERSION_CONFLICT"
            assert response.json()["details"]["expected_version"] == version
    contract = reviewer.get(f"/contracts/{cid}").json()
    assert (contract["phase"], contract["version"]) == ("execute", version + 1)
    changes = [e for e in _events(reviewer, cid) if e["type"] == "phase_changed"]
    assert len(changes) == 1
