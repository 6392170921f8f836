"""Deliverables with evidence, and phase decisions bound to the request and its evidence,
through the real server process (SQLite, and PostgreSQL with CONTRACTS_TEST_PG_URL)."""

from __future__ import annotations

from typing import Any

import httpx

from core.evidence import MAX_SUMMARY_BYTES
from tests.server.conftest import assert_error, start_contract

NOTES = "# Plan\n\n- split the importer\n- add retries\n"


def _deliver(client: httpx.Client, cid: str, deliverable: str, **extra: Any) -> httpx.Response:
    return client.post(
        f"/contracts/{cid}/deliverables", json={"deliverableId": deliverable, **extra}
    )


def _awaiting(reviewer: httpx.Client, supervisor: httpx.Client) -> dict[str, Any]:
    """A guarded simple contract in plan with its document (url + summary) and a pending task
    (so no auto-advance), after the supervisor asked to advance: the contract as read."""
    cid = start_contract(reviewer, supervisor)["id"]
    supervisor.post(f"/contracts/{cid}/tasks", json={"name": "write plan"})
    marked = _deliver(
        supervisor, cid, "plan-document", url="https://git.example.org/plan.md", summary=NOTES
    )
    assert marked.status_code == 200, marked.text
    asked = supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"})
    assert asked.status_code == 200, asked.text
    return dict(reviewer.get(f"/contracts/{cid}").json())


def _confirm(client: httpx.Client, contract: dict[str, Any], **extra: Any) -> httpx.Response:
    request = contract["pendingConfirmation"]
    body = {
        "phase": request["nextPhase"],
        "confirmed": True,
        "transitionId": request["transitionId"],
        "evidenceDigest": request["evidenceDigest"],
        **extra,
    }
    return client.post(f"/contracts/{contract['id']}/phase", json=body)


def test_a_deliverable_keeps_its_url_and_summary_and_every_version_is_in_the_history(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    supervisor.post(f"/contracts/{cid}/tasks", json={"name": "write plan"})
    first = _deliver(supervisor, cid, "plan-document", url="file:///srv/plan.md", summary="v1")
    assert first.status_code == 200, first.text
    assert first.json()["deliverableNotes"] == {
        "plan": {"plan-document": {"url": "file:///srv/plan.md", "summary": "v1"}}
    }
    second = _deliver(supervisor, cid, "plan-document", summary=NOTES)
    assert second.json()["version"] == first.json()["version"] + 1
    detail = reviewer.get(f"/contracts/{cid}").json()
    assert detail["deliverableNotes"]["plan"]["plan-document"] == {
        "url": "file:///srv/plan.md",
        "summary": NOTES,
    }
    assert detail["readiness"]["phase"] == "plan"
    same = _deliver(supervisor, cid, "plan-document", summary=NOTES)
    assert same.json()["version"] == second.json()["version"]  # nothing new: unchanged
    events = reviewer.get(f"/contracts/{cid}/events").json()["events"]
    delivered = [e for e in events if e["type"] == "deliverable_completed"]
    assert [(e.get("url"), e.get("summary")) for e in delivered] == [
        ("file:///srv/plan.md", "v1"),
        ("file:///srv/plan.md", NOTES),
    ]


def test_a_bad_url_or_an_oversized_summary_is_a_400_naming_the_field(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    for url in ("ftp://example.org/plan", "plan.md", "javascript:alert(1)"):
        body = assert_error(
            _deliver(supervisor, cid, "plan-document", url=url), 400, "VALIDATION_FAILED"
        )
        assert body["details"]["field"] == "url"
        assert "url" in body["message"]
    too_long = "é" * (MAX_SUMMARY_BYTES // 2 + 1)
    body = assert_error(
        _deliver(supervisor, cid, "plan-document", summary=too_long), 400, "VALIDATION_FAILED"
    )
    assert body["details"]["field"] == "summary"
    assert "summary" in body["message"]
    body = assert_error(
        _deliver(supervisor, cid, "plan-document", summary=3), 400, "VALIDATION_FAILED"
    )
    assert "summary" in body["message"]
    contract = reviewer.get(f"/contracts/{cid}").json()
    assert contract["completedDeliverables"] == {}  # nothing was recorded


def test_the_open_request_names_its_transition_and_evidence_digest(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = _awaiting(reviewer, supervisor)
    request = contract["pendingConfirmation"]
    events = reviewer.get(f"/contracts/{contract['id']}/events").json()["events"]
    asked = [e for e in events if e["type"] == "phase_confirmation_requested"][-1]
    assert request["transitionId"] == asked["transition_id"]
    assert request["nextPhase"] == "execute"
    assert len(request["evidenceDigest"]) == 64
    evidence = contract["evidence"]
    assert (evidence["transitionId"], evidence["digest"]) == (
        request["transitionId"],
        request["evidenceDigest"],
    )
    assert (evidence["phase"], evidence["nextPhase"], evidence["missing"]) == (
        "plan",
        "execute",
        [],
    )
    assert evidence["deliverables"] == [
        {
            "id": "plan-document",
            "name": "Plan Document",
            "priority": "required",
            "state": "done",
            "url": "https://git.example.org/plan.md",
            "summary": NOTES,
        }
    ]


def test_a_bound_confirmation_survives_heartbeats_new_tasks_and_questions(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = _awaiting(reviewer, supervisor)
    cid = contract["id"]
    beat = {
        "task_id": contract["supervisorTaskId"],
        "contract_id": cid,
        "state": "working",
        "phase": "plan",
        "current_activity": "waiting",
        "progress": 50,
        "pending_task_ids": [],
    }
    assert supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=beat).status_code == 202
    assert supervisor.post(f"/contracts/{cid}/tasks", json={"name": "more"}).status_code == 201
    asked = supervisor.post(
        f"/contracts/{cid}/questions", json={"question": "ok?", "questionType": "free_text"}
    )
    assert asked.status_code == 201
    now = reviewer.get(f"/contracts/{cid}").json()
    assert now["version"] > contract["version"]
    stale_version = _confirm(reviewer, contract, expectedVersion=contract["version"])
    assert_error(stale_version, 409, "VERSION_CONFLICT")  # version-bound clients still work
    confirmed = _confirm(reviewer, contract)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["phase"] == "execute"


def test_a_changed_deliverable_answers_evidence_changed_with_what_changed(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = _awaiting(reviewer, supervisor)
    cid = contract["id"]
    changed = _deliver(supervisor, cid, "plan-document", summary="# Plan\n\nrewritten")
    assert changed.status_code == 200
    body = assert_error(_confirm(reviewer, contract), 409, "EVIDENCE_CHANGED")
    details = body["details"]
    request = contract["pendingConfirmation"]
    assert details["transitionId"] == request["transitionId"]
    assert details["expectedDigest"] == request["evidenceDigest"]
    now = reviewer.get(f"/contracts/{cid}").json()["pendingConfirmation"]
    assert details["actualDigest"] == now["evidenceDigest"] != request["evidenceDigest"]
    assert details["seen"]["deliverables"][0]["summary"] == NOTES
    assert details["evidence"]["deliverables"][0]["summary"] == "# Plan\n\nrewritten"
    assert details["changes"] == [
        {
            "field": "deliverables.plan-document.summary",
            "before": NOTES,
            "after": "# Plan\n\nrewritten",
        }
    ]
    assert reviewer.get(f"/contracts/{cid}").json()["phase"] == "plan"  # nothing applied
    again = _confirm(reviewer, reviewer.get(f"/contracts/{cid}").json())
    assert again.status_code == 200, again.text  # confirming the new evidence works


def test_an_answered_or_replaced_request_is_superseded(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = _awaiting(reviewer, supervisor)
    cid = contract["id"]
    refused = reviewer.post(
        f"/contracts/{cid}/phase", json={"phase": "execute", "feedback": "split step 2"}
    )
    assert refused.status_code == 200, refused.text
    body = assert_error(_confirm(reviewer, contract), 409, "REQUEST_SUPERSEDED")
    assert body["details"]["transitionId"] == contract["pendingConfirmation"]["transitionId"]
    assert (body["details"]["currentTransitionId"], body["details"]["reason"]) == (
        None,
        "answered",
    )
    asked = supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"})
    assert asked.status_code == 200
    body = assert_error(_confirm(reviewer, contract), 409, "REQUEST_SUPERSEDED")
    assert body["details"]["reason"] == "replaced"
    assert body["details"]["currentTransitionId"] == asked.json()["transitionId"]
    fresh = reviewer.get(f"/contracts/{cid}").json()
    assert _confirm(reviewer, fresh).status_code == 200


def test_a_digest_without_a_transition_id_is_refused(
    reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = _awaiting(reviewer, supervisor)
    response = reviewer.post(
        f"/contracts/{contract['id']}/phase",
        json={"phase": "execute", "confirmed": True, "evidenceDigest": "0" * 64},
    )
    body = assert_error(response, 400, "VALIDATION_FAILED")
    assert body["details"]["field"] == "transitionId"
