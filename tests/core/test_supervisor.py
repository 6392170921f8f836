"""Supervisor states, heartbeats, persisted state and the restoration decision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.errors import ErrorCode, InvalidTransition, ValidationFailed
from core.model import QuestionStatus, TaskStatus
from core.status import ContractStatus
from core.supervisor import (
    SUPERVISOR_TRANSITIONS,
    Heartbeat,
    RestorationAction,
    SupervisorPersistentState,
    SupervisorState,
    check_supervisor_move,
    decide_restoration,
    is_alive,
    state_problems,
)
from tests.core.factories import T0, make_contract, make_question, make_task

S = SupervisorState
NON_TERMINAL = [s for s in S if s not in (S.COMPLETED, S.FAILED)]


# --- states -----------------------------------------------------------------------------


def test_there_are_the_nine_states_of_the_specification() -> None:
    assert [s.value for s in S] == [
        "initializing",
        "idle",
        "working",
        "waiting_for_user",
        "waiting_for_tasks",
        "blocked",
        "completed",
        "failed",
        "interrupted",
    ]


@pytest.mark.parametrize("old", NON_TERMINAL)
def test_a_running_supervisor_may_move_to_any_state(old: SupervisorState) -> None:
    for new in S:
        check_supervisor_move(old, new)
    assert SUPERVISOR_TRANSITIONS[old] == frozenset(S)


@pytest.mark.parametrize("old", [S.COMPLETED, S.FAILED])
def test_a_finished_supervisor_may_only_restart(old: SupervisorState) -> None:
    check_supervisor_move(old, S.INITIALIZING)
    check_supervisor_move(old, old)  # repeating the state in heartbeats is not a move

    with pytest.raises(InvalidTransition) as caught:
        check_supervisor_move(old, S.WORKING)

    error = caught.value
    assert error.code is ErrorCode.INVALID_TRANSITION
    assert error.details == {"from": old.value, "to": "working", "allowed": ["initializing"]}
    assert f"supervisor from '{old}'" in str(error)
    assert "allowed from" in error.message


def test_states_parse_in_any_case() -> None:
    assert S.parse(" Waiting_For_Tasks ") is S.WAITING_FOR_TASKS


@pytest.mark.parametrize("value", ["sleeping", "", None, 3])
def test_unknown_states_are_a_validation_error(value: Any) -> None:
    with pytest.raises(ValidationFailed, match="Valid states: initializing"):
        S.parse(value)


# --- heartbeats ---------------------------------------------------------------------------


def heartbeat_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_id": "sup1",
        "contract_id": "c1",
        "state": "working",
        "phase": "plan",
        "current_activity": "writing the plan",
        "progress": 40,
        "pending_task_ids": ["t1", "t2"],
        "timestamp": "2026-01-01T11:59:00Z",
    }
    body.update(overrides)
    return body


def test_a_snake_case_heartbeat_parses() -> None:
    beat = Heartbeat.parse(heartbeat_body(), "c1", T0)

    assert beat == Heartbeat(
        task_id="sup1",
        contract_id="c1",
        state=S.WORKING,
        phase="plan",
        current_activity="writing the plan",
        progress=40,
        pending_task_ids=("t1", "t2"),
        timestamp=T0 - timedelta(minutes=1),
    )


def test_a_camel_case_heartbeat_parses_with_the_contract_from_the_url() -> None:
    body = {
        "taskId": "sup1",
        "state": "idle",
        "phase": "plan",
        "currentActivity": "resting",
        "progress": 0,
        "pendingTaskIds": [],
    }

    beat = Heartbeat.parse(body, "c1", T0)

    assert (beat.task_id, beat.contract_id, beat.current_activity) == ("sup1", "c1", "resting")
    assert beat.timestamp == T0  # no timestamp: now


def test_optional_heartbeat_fields_have_defaults() -> None:
    body = {"task_id": "sup1", "contract_id": "c1", "state": "idle", "phase": "plan"}

    beat = Heartbeat.parse(body, None, T0)

    assert (beat.current_activity, beat.progress, beat.pending_task_ids) == ("", 0, ())


def test_a_timestamp_ahead_of_now_is_capped_at_now() -> None:
    beat = Heartbeat.parse(heartbeat_body(timestamp="2026-01-02T00:00:00Z"), "c1", T0)

    assert beat.timestamp == T0


@pytest.mark.parametrize("progress", [101, -1, "x", 50.5, True])
def test_progress_must_be_a_whole_percentage(progress: Any) -> None:
    with pytest.raises(ValidationFailed, match="progress"):
        Heartbeat.parse(heartbeat_body(progress=progress), "c1", T0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"task_id": ""}, "task_id"),
        ({"task_id": None}, "task_id"),
        ({"phase": 3}, "phase"),
        ({"contract_id": "c2"}, "contract"),
        ({"contract_id": ""}, "contract_id"),
        ({"state": "dreaming"}, "state"),
        ({"pending_task_ids": "t1"}, "pending_task_ids"),
        ({"pending_task_ids": ["t1", ""]}, "pending_task_ids"),
        ({"current_activity": 5}, "current_activity"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 12}, "timestamp"),
    ],
)
def test_bad_heartbeats_are_rejected(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed, match=field):
        Heartbeat.parse(heartbeat_body(**overrides), "c1", T0)


def test_a_heartbeat_without_any_contract_id_is_rejected() -> None:
    body = heartbeat_body()
    del body["contract_id"]

    with pytest.raises(ValidationFailed, match="contract_id"):
        Heartbeat.parse(body, None, T0)


def test_a_heartbeat_must_be_an_object() -> None:
    with pytest.raises(ValidationFailed, match="object"):
        Heartbeat.parse(["not", "a", "mapping"], "c1", T0)  # type: ignore[arg-type]


def test_heartbeat_wire_shapes() -> None:
    beat = Heartbeat.parse(heartbeat_body(), "c1", T0)

    assert beat.to_transient_event_payload() == {
        "state": "working",
        "activity": "writing the plan",
        "progress": 40,
    }
    assert beat.to_history_wire() == {
        "timestamp": "2026-01-01T11:59:00.000Z",
        "state": "working",
        "activity": "writing the plan",
        "progress": 40,
        "phase": "plan",
    }


def test_liveness_ends_exactly_after_the_timeout() -> None:
    timeout = timedelta(seconds=120)

    assert is_alive(T0, T0 + timeout, timeout) is True
    assert is_alive(T0, T0 + timeout + timedelta(milliseconds=1), timeout) is False
    assert is_alive(None, T0, timeout) is False
    assert is_alive(T0.replace(tzinfo=None), T0 + timedelta(seconds=1), timeout) is True


# --- persisted state ---------------------------------------------------------------------


def saved_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "state": "waiting_for_tasks",
        "phase": "plan",
        "conversation_history": [{"role": "user", "content": "go", "at": "x"}],
        "pending_questions": [{"question_id": "q1"}],
        "spawned_task_ids": ["t1", "t2"],
        "waiting_on_task_ids": ["t1", "t2"],
        "last_checkpoint": None,
        "current_activity": "waiting",
        "error": None,
        "created_at": "2026-01-01T10:00:00Z",
        "updated_at": "2026-01-01T11:00:00Z",
    }
    body.update(overrides)
    return body


def saved_state(**overrides: Any) -> SupervisorPersistentState:
    return SupervisorPersistentState.parse(saved_body(**overrides))


def test_persistent_state_accepts_camel_case() -> None:
    camel = {
        "state": "Working",
        "phase": "plan",
        "conversationHistory": [],
        "spawnedTaskIds": ["t1"],
        "waitingOnTaskIds": [],
        "lastCheckpoint": {"id": "cp1", "label": "after plan"},
        "currentActivity": "thinking",
        "createdAt": "2026-01-01T10:00:00Z",
        "updatedAt": "2026-01-01T10:00:00Z",
    }

    state = SupervisorPersistentState.parse(camel)

    assert state.state is S.WORKING
    assert state.spawned_task_ids == ["t1"]
    assert state.last_checkpoint == {"id": "cp1", "label": "after plan"}


def test_persistent_state_wire_is_snake_case_with_z_times() -> None:
    wire = saved_state().to_wire()

    assert wire == {
        **saved_body(),
        "created_at": "2026-01-01T10:00:00.000Z",
        "updated_at": "2026-01-01T11:00:00.000Z",
    }
    assert SupervisorPersistentState.parse(wire) == saved_state()


@pytest.mark.parametrize(
    "overrides",
    [
        {"state": "dreaming"},
        {"phase": None},
        {"created_at": "not a time"},
        {"conversation_history": [{"role": "user"}]},
        {"conversation_history": "hello"},
        {"last_checkpoint": {"label": "no id"}},
        {"spawned_task_ids": [1, 2]},
    ],
)
def test_bad_persistent_state_is_a_validation_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed, match="Invalid supervisor state"):
        saved_state(**overrides)


def test_missing_required_fields_are_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        SupervisorPersistentState.parse({"state": "idle"})

    assert any("phase" in e for e in caught.value.details["errors"])


# --- restoration --------------------------------------------------------------------------

TASKS = [
    make_task(id="t1", status=TaskStatus.RUNNING),
    make_task(id="t2", status=TaskStatus.DONE),
    make_task(id="sup", is_supervisor=True),
]


def test_nothing_saved_starts_fresh_and_still_redelivers_questions() -> None:
    questions = [
        make_question(id="q2", asked_at=T0 + timedelta(minutes=5)),
        make_question(id="q1"),
        make_question(id="q3", status=QuestionStatus.ANSWERED),
        make_question(id="q4", contract_id="other"),
    ]

    plan = decide_restoration(None, make_contract(), TASKS, questions)

    assert plan.action is RestorationAction.START_FRESH
    assert plan.state is None
    assert [q.id for q in plan.redeliver_questions] == ["q1", "q2"]
    assert plan.waiting_on_task_ids == ()
    assert plan.problems == ("no saved state",)


def test_a_consistent_state_resumes_waiting_only_on_unfinished_tasks() -> None:
    saved = saved_state()

    plan = decide_restoration(saved, make_contract(), TASKS, [make_question()])

    assert plan.action is RestorationAction.RESUME
    assert plan.state == saved
    assert plan.waiting_on_task_ids == ("t1",)
    assert [q.id for q in plan.redeliver_questions] == ["q1"]
    assert plan.problems == ()


def test_an_invalid_state_with_a_checkpoint_restores_from_it() -> None:
    saved = saved_state(phase="dance", last_checkpoint={"id": "cp1"})

    plan = decide_restoration(saved, make_contract(), TASKS, [make_question()])

    assert plan.action is RestorationAction.FROM_CHECKPOINT
    assert plan.state == saved
    assert [q.id for q in plan.redeliver_questions] == ["q1"]
    assert len(plan.problems) == 1


def test_an_invalid_state_without_a_checkpoint_starts_fresh() -> None:
    saved = saved_state(waiting_on_task_ids=["t1", "ghost"])

    plan = decide_restoration(saved, make_contract(), TASKS, [make_question()])

    assert plan.action is RestorationAction.START_FRESH
    assert plan.state is None
    assert plan.waiting_on_task_ids == ("t1",)
    assert [q.id for q in plan.redeliver_questions] == ["q1"]
    assert plan.problems == ("waiting on task(s) not of this contract: ghost",)


def test_restoration_wire_shape() -> None:
    question = make_question()
    plan = decide_restoration(saved_state(), make_contract(), TASKS, [question])

    assert plan.to_wire() == {
        "action": "resume",
        "state": saved_state().to_wire(),
        "redeliver_questions": [question.to_wire()],
        "waiting_on_task_ids": ["t1"],
        "problems": [],
    }


def test_a_fresh_start_has_no_state_on_the_wire() -> None:
    assert decide_restoration(None, make_contract(), [], []).to_wire()["state"] is None


@pytest.mark.parametrize(
    ("overrides", "contract_overrides", "problem"),
    [
        (
            {"phase": "research"},
            {},
            "phase 'research' is not a phase of this contract (plan, execute)",
        ),
        ({"waiting_on_task_ids": ["ghost"]}, {}, "waiting on task(s) not of this contract: ghost"),
        ({"spawned_task_ids": ["t1", "x", "y"]}, {}, "spawned task(s) not of this contract: x, y"),
        ({"updated_at": "2026-01-01T09:00:00Z"}, {}, "updated_at is before created_at"),
        ({"state": "failed"}, {}, "state is failed but no error is recorded"),
        ({"state": "failed", "error": "  "}, {}, "state is failed but no error is recorded"),
        (
            {"state": "completed"},
            {},
            "state is completed but the contract is still active in phase 'plan' "
            "(terminal phase: 'execute')",
        ),
    ],
)
def test_each_inconsistency_is_named(
    overrides: dict[str, Any], contract_overrides: dict[str, Any], problem: str
) -> None:
    problems = state_problems(saved_state(**overrides), make_contract(**contract_overrides), TASKS)

    assert problems == [problem]


def test_tasks_of_another_contract_do_not_count_as_known() -> None:
    tasks = [make_task(id="t1", contract_id="other"), make_task(id="t2")]

    assert state_problems(saved_state(), make_contract(), tasks) == [
        "waiting on task(s) not of this contract: t1",
        "spawned task(s) not of this contract: t1",
    ]


@pytest.mark.parametrize(
    "contract_overrides",
    [
        {"phase": "execute"},  # terminal phase: completion may be in its grace period
        {"status": ContractStatus.COMPLETED},
        {"status": ContractStatus.ARCHIVED},
    ],
)
def test_completed_is_consistent_in_the_terminal_phase_or_a_finished_contract(
    contract_overrides: dict[str, Any],
) -> None:
    saved = saved_state(state="completed", phase="plan")

    assert state_problems(saved, make_contract(**contract_overrides), TASKS) == []


def test_failed_with_an_error_and_a_lagging_phase_are_consistent() -> None:
    saved = saved_state(state="failed", error="model quota exceeded", phase="plan")

    assert state_problems(saved, make_contract(phase="execute"), TASKS) == []
