"""Issue 10 through the real server: the §2.2.3 flow runs after every change that can satisfy
a gate, nothing gets stuck, and the time rules finish what the flow starts.

One server per backend with second-scale timings (`lifecycle_server.FAST_TOML`): completion
grace 1.2 s, input timeout 4 s, background services every 0.2 s.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.conftest import Server, assert_error
from tests.server.lifecycle_server import event_types, events_of, fast_server, wait_for


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def fast(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with fast_server(request.param, tmp_path_factory.mktemp(f"flow-{request.param}")) as srv:
        yield srv


@pytest.fixture
def rev(fast: Server) -> httpx.Client:
    return fast.client("reviewer")


@pytest.fixture
def sup(fast: Server) -> httpx.Client:
    return fast.client("supervisor")


@pytest.fixture
def adm(fast: Server) -> httpx.Client:
    return fast.client("admin")


def create(rev: httpx.Client, contract_type: str = "simple", **extra: Any) -> dict[str, Any]:
    body = {"name": f"flow-{uuid.uuid4().hex[:8]}", "contractType": contract_type, **extra}
    made = rev.post("/contracts", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def start(rev: httpx.Client, sup: httpx.Client, contract_type: str = "simple", **extra: Any) -> str:
    cid = str(create(rev, contract_type, **extra)["id"])
    task = sup.post(f"/contracts/{cid}/tasks", json={"name": "supervisor", "isSupervisor": True})
    assert task.status_code == 201, task.text
    moved = sup.post(f"/contracts/{cid}/status", json={"targetStatus": "active"})
    assert moved.status_code == 200, moved.text
    return cid


def get(client: httpx.Client, cid: str) -> dict[str, Any]:
    answer = client.get(f"/contracts/{cid}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def deliver(client: httpx.Client, cid: str, deliverable: str, phase: str | None = None) -> None:
    body = {"deliverableId": deliverable, **({"phase": phase} if phase else {})}
    answer = client.post(f"/contracts/{cid}/deliverables", json=body)
    assert answer.status_code == 200, answer.text


def status(client: httpx.Client, cid: str) -> str:
    return str(get(client, cid)["status"])


def move(client: httpx.Client, cid: str, target: str, **extra: Any) -> dict[str, Any]:
    answer = client.post(f"/contracts/{cid}/status", json={"targetStatus": target, **extra})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def new_task(client: httpx.Client, cid: str, name: str) -> str:
    made = client.post(f"/contracts/{cid}/tasks", json={"name": name})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def set_task(client: httpx.Client, cid: str, task_id: str, to: str) -> httpx.Response:
    return client.patch(f"/contracts/{cid}/tasks/{task_id}", json={"status": to})


def ask(client: httpx.Client, cid: str, text: str = "Which database?") -> str:
    asked = client.post(
        f"/contracts/{cid}/questions", json={"question": text, "questionType": "free_text"}
    )
    assert asked.status_code == 201, asked.text
    return str(asked.json()["id"])


def dashboard_waiting(client: httpx.Client, cid: str) -> dict[str, Any] | None:
    board = client.get("/contracts/dashboard")
    assert board.status_code == 200, board.text
    rows = [w for w in board.json()["waitingForInput"] if w["id"] == cid]
    return rows[0] if rows else None


# -- Progress is re-checked after every change that can satisfy a gate ---------------------


def test_confirming_into_a_ready_terminal_phase_completes_and_stops_the_supervisor(
    rev: httpx.Client, sup: httpx.Client
) -> None:
    cid = start(rev, sup)
    deliver(sup, cid, "plan-document")  # guarded: the flow asks for confirmation
    assert get(rev, cid)["waitingFor"] == "phase_confirmation"
    deliver(sup, cid, "pull-request", phase="execute")  # the last phase's work came in early
    confirmed = rev.post(f"/contracts/{cid}/phase", json={"phase": "execute", "confirmed": True})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "completing"  # no further event needed
    assert wait_for(lambda: status(rev, cid) == "completed")
    contract = get(rev, cid)
    supervisor_task = next(t for t in contract["tasks"] if t["isSupervisor"])
    assert supervisor_task["status"] == "done"
    stop = [e for e in events_of(rev, cid) if e["type"] == "supervisor_stop_requested"]
    assert len(stop) == 1 and stop[0]["supervisor_task_id"] == supervisor_task["id"]


def test_answering_the_last_question_runs_the_flow(rev: httpx.Client, sup: httpx.Client) -> None:
    cid = start(rev, sup, phaseGuard=False)
    question = ask(sup, cid)
    deliver(sup, cid, "plan-document")  # waiting on the reviewer: the flow holds
    assert get(rev, cid)["phase"] == "plan"
    answered = rev.post(f"/questions/{question}/answer", json={"answer": "PostgreSQL"})
    assert answered.status_code == 200, answered.text
    contract = get(rev, cid)
    assert (contract["status"], contract["phase"]) == ("active", "execute")


def test_resuming_runs_the_flow(rev: httpx.Client, sup: httpx.Client) -> None:
    cid = start(rev, sup, phaseGuard=False)
    move(rev, cid, "paused", reason="lunch")
    deliver(sup, cid, "plan-document")
    assert get(rev, cid)["phase"] == "plan"
    move(rev, cid, "active")
    assert get(rev, cid)["phase"] == "execute"


def test_starting_a_contract_runs_the_flow(rev: httpx.Client, sup: httpx.Client) -> None:
    cid = str(create(rev, phaseGuard=False)["id"])
    deliver(sup, cid, "plan-document")  # recorded before the supervisor started
    sup.post(f"/contracts/{cid}/tasks", json={"name": "supervisor", "isSupervisor": True})
    move(sup, cid, "active")
    assert get(rev, cid)["phase"] == "execute"


def test_phase_ready_and_re_enabling_auto_complete(rev: httpx.Client, sup: httpx.Client) -> None:
    """Step 3 ("notify user"): a ready terminal phase with auto-complete off is marked
    `phase_ready` and listed as waiting; switching auto-complete on completes it."""
    cid = start(rev, sup, phaseGuard=False, autoCompleteEnabled=False)
    deliver(sup, cid, "plan-document")
    deliver(sup, cid, "pull-request")
    contract = get(rev, cid)
    assert (contract["status"], contract["waitingFor"]) == ("active", "phase_ready")
    ready = [e for e in events_of(rev, cid) if e["type"] == "phase_ready"]
    assert [(e["phase"], e["next_phase"]) for e in ready] == [("execute", None)]
    row = dashboard_waiting(rev, cid)
    assert row is not None and row["waitingFor"] == "phase_ready"
    switched = rev.put(f"/contracts/{cid}/auto-complete", json={"enabled": True})
    assert switched.status_code == 200, switched.text
    assert switched.json()["status"] == "completing"
    assert dashboard_waiting(rev, cid)["waitingFor"] == "completion_confirmation"  # type: ignore[index]


def test_phase_ready_with_auto_advance_off(rev: httpx.Client, sup: httpx.Client) -> None:
    config = {
        "phases": [
            {"id": "draft", "name": "Draft", "order": 0},
            {"id": "ship", "name": "Ship", "order": 1},
        ],
        "deliverables": {
            "draft": [{"id": "doc", "name": "Doc"}],
            "ship": [{"id": "pr", "name": "PR"}],
        },
        "gates": {"draft": {"requiredTasks": "none", "autoAdvance": False}},
    }
    cid = start(rev, sup, "custom", phaseConfig=config, phaseGuard=False)
    readiness = rev.get(f"/contracts/{cid}/phase-readiness").json()
    assert readiness["auto_advance_enabled"] is False
    deliver(sup, cid, "doc")
    contract = get(rev, cid)
    assert (contract["phase"], contract["waitingFor"]) == ("draft", "phase_ready")
    ready = [e for e in events_of(rev, cid) if e["type"] == "phase_ready"]
    assert [(e["phase"], e["next_phase"]) for e in ready] == [("draft", "ship")]
    assert dashboard_waiting(rev, cid) is not None
    moved = rev.post(f"/contracts/{cid}/phase", json={"phase": "ship"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["phase"], moved.json()["waitingFor"]) == ("ship", None)
    assert dashboard_waiting(rev, cid) is None


def test_force_completion_check(rev: httpx.Client, sup: httpx.Client) -> None:
    cid = start(rev, sup, phaseGuard=False)
    not_ready = rev.post(f"/contracts/{cid}/check-completion")
    assert not_ready.status_code == 200, not_ready.text
    body = not_ready.json()
    assert (body["ready"], body["started"], body["status"]) == (False, False, "active")
    assert "Deliverable: pull-request" in body["missing"]
    version = get(rev, cid)["version"]
    assert body["version"] == version  # nothing changed
    deliver(sup, cid, "plan-document")
    deliver(sup, cid, "pull-request")
    assert status(rev, cid) == "completing"
    move(rev, cid, "active", reason="not yet")  # the reviewer rejects completion
    assert status(rev, cid) == "active"  # ... and it does not start again by itself
    forced = rev.post(f"/contracts/{cid}/check-completion").json()
    assert (forced["ready"], forced["would_complete"], forced["started"]) == (True, True, True)
    assert forced["status"] == "completing" == status(rev, cid)


# -- Nothing gets stuck or forgotten --------------------------------------------------------


def test_failed_task_is_retried_and_does_not_block_completion(
    rev: httpx.Client, sup: httpx.Client
) -> None:
    cid = start(rev, sup, phaseGuard=False)
    worker = new_task(sup, cid, "draft plan")
    assert set_task(sup, cid, worker, "failed").status_code == 200
    deliver(sup, cid, "plan-document")
    assert get(rev, cid)["phase"] == "plan"  # a failed task keeps a non-terminal gate shut
    retried = set_task(sup, cid, worker, "running")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "running"
    retry = [e for e in events_of(rev, cid) if e["type"] == "task_retried"]
    assert [(e["old_status"], e["new_status"]) for e in retry] == [("failed", "running")]
    assert set_task(sup, cid, worker, "done").status_code == 200
    assert get(rev, cid)["phase"] == "execute"
    # In the terminal phase a failed task no longer holds completion back.
    other = new_task(sup, cid, "open pull request")
    assert set_task(sup, cid, other, "failed").status_code == 200
    deliver(sup, cid, "pull-request")
    assert status(rev, cid) == "completing"
    done = set_task(sup, cid, worker, "pending")
    assert_error(done, 400, "VALIDATION_FAILED")  # done is final


@pytest.mark.parametrize("how", ["single", "batch"])
def test_resume_with_a_pending_question_waits_again(
    rev: httpx.Client, sup: httpx.Client, adm: httpx.Client, how: str
) -> None:
    cid = start(rev, sup)
    ask(sup, cid, "Ship on Friday?")
    move(rev, cid, "paused", reason="weekend")
    assert dashboard_waiting(rev, cid) is None
    if how == "single":
        assert move(rev, cid, "active")["newStatus"] == "waiting_for_input"
    else:
        batch = adm.post("/contracts/batch", json={"operation": "resume_all"})
        assert batch.status_code == 200, batch.text
        assert cid in batch.json()["affected_ids"]
    contract = get(rev, cid)
    assert (contract["status"], contract["waitingFor"]) == ("waiting_for_input", "question")
    assert [q["question"] for q in contract["pendingQuestions"]] == ["Ship on Friday?"]
    row = dashboard_waiting(rev, cid)
    assert row is not None and row["question"] == "Ship on Friday?"
    # The input timeout still applies to the resumed wait.
    assert wait_for(lambda: status(rev, cid) == "paused", within=15)
    assert "question_timed_out" in event_types(rev, cid)
