"""Random sequences of use cases keep the lifecycle's promises.

Whatever a reviewer, a supervisor or the system does, in any order: every status move taken
is in the table, the version never goes back and grows by exactly one per accepted change,
a change always says what happened (an event), and `waiting_for_input` always waits on
something. Refusals (DomainError) are fine; they must simply change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from core.actors import SYSTEM, Actor
from core.errors import DomainError
from core.events import EventType
from core.lifecycle import (
    answer_question,
    ask_question,
    change_phase,
    change_status,
    create_task,
    mark_deliverable,
    record_activity,
    set_auto_complete,
    update_contract,
    update_task,
)
from core.model import Contract, TaskStatus
from core.outcome import Outcome
from core.phase_change import PhaseChangeRequest
from core.status import TRANSITIONS, ContractStatus
from tests.core.desk import ADMIN, REVIEWER, SUPERVISOR, Desk

S = ContractStatus
# Weighted towards the working statuses: an early `failed` or `archived` ends the story.
targets = st.sampled_from(
    [S.ACTIVE] * 3
    + [S.WAITING_FOR_INPUT, S.PAUSED, S.BLOCKED] * 2
    + [S.COMPLETING, S.COMPLETED, S.CREATED, S.FAILED, S.ARCHIVED]
)
actors = st.sampled_from([REVIEWER, ADMIN, SUPERVISOR, SYSTEM])
texts = st.sampled_from([None, "", "disk full"])
# Indexes into the contract's own phases and deliverables; one past the end is a bad name.
picks = st.integers(0, 5)


class LifecycleMachine(RuleBasedStateMachine):
    desk: Desk
    ids: int

    @initialize(
        contract_type=st.sampled_from(["simple", "specification", "execute"]),
        guard=st.booleans(),
        auto_complete=st.booleans(),
        start=st.sampled_from([True, True, True, False]),
    )
    def create(self, contract_type: str, guard: bool, auto_complete: bool, start: bool) -> None:
        self.desk = Desk.new(contract_type, phase_guard=guard, auto_complete_enabled=auto_complete)
        self.ids = 0
        if start:
            self.new_task(supervisor=True)
            self.status(S.ACTIVE, SUPERVISOR, None, None)
            assert self.desk.contract.status is S.ACTIVE

    def phase_name(self, pick: int) -> str:
        phases = self.desk.contract.phase_config.phase_ids
        return phases[pick] if pick < len(phases) else "nowhere"

    def deliverable_id(self, pick: int) -> str:
        config = self.desk.contract.phase_config
        ids = [d.id for p in config.phase_ids for d in config.deliverables_for(p)]
        return ids[pick] if pick < len(ids) else "nothing"

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def attempt(self, use_case: Callable[[datetime], Outcome]) -> None:
        """Run a use case at a new time; check and apply it unless it was refused."""
        before, now = self.desk.contract, self.desk.tick()
        try:
            outcome = use_case(now)
        except DomainError:
            return
        check_outcome(before, outcome, now)
        self.desk.apply(outcome)

    @rule(to=targets, actor=actors, reason=texts, blocker=texts)
    def status(
        self, to: ContractStatus, actor: Actor, reason: str | None, blocker: str | None
    ) -> None:
        d = self.desk
        self.attempt(
            lambda now: change_status(
                d.contract, d.task_list, d.question_list, to, now, actor, reason, blocker
            )
        )

    @rule(
        pick=picks,
        confirmed=st.booleans(),
        feedback=st.sampled_from([None, None, "", "redo"]),
        force=st.booleans(),
        actor=actors,
    )
    def phase(
        self, pick: int, confirmed: bool, feedback: str | None, force: bool, actor: Actor
    ) -> None:
        d, tid = self.desk, self.next_id("tr")
        request = PhaseChangeRequest(self.phase_name(pick), confirmed, feedback, force=force)
        self.attempt(
            lambda now: change_phase(
                d.contract, d.task_list, d.question_list, request, now, actor, tid
            )
        )

    @rule(pick=picks, phase=st.sampled_from([None, None, 0, 1, 2, 5]))
    def deliverable(self, pick: int, phase: int | None) -> None:
        d, tid = self.desk, self.next_id("auto")
        deliverable = self.deliverable_id(pick)
        in_phase = None if phase is None else self.phase_name(phase)
        self.attempt(
            lambda now: mark_deliverable(
                d.contract, d.task_list, deliverable, now, SUPERVISOR, in_phase, new_id=lambda: tid
            )
        )

    @rule(supervisor=st.booleans())
    def new_task(self, supervisor: bool) -> None:
        d, task_id = self.desk, self.next_id("t")
        self.attempt(
            lambda now: create_task(
                d.contract, d.task_list, task_id, "work", now, SUPERVISOR, supervisor
            )
        )

    @rule(pick=st.integers(0, 9), status=st.sampled_from(list(TaskStatus)))
    def move_task(self, pick: int, status: TaskStatus) -> None:
        d = self.desk
        task_id = d.task_list[pick % len(d.task_list)].id if d.tasks else "t0"
        self.attempt(
            lambda now: update_task(d.contract, d.task_list, task_id, status, now, SUPERVISOR)
        )

    @rule(kind=st.sampled_from(["free_text", "choice", "confirmation"]))
    def ask(self, kind: str) -> None:
        d, qid = self.desk, self.next_id("q")
        choices = ("a", "b") if kind == "choice" else ()
        self.attempt(
            lambda now: ask_question(d.contract, qid, "Which?", kind, now, SUPERVISOR, choices)
        )

    @rule(pick=st.integers(0, 9), value=st.sampled_from(["a", "yes", "maybe", ""]), actor=actors)
    def answer(self, pick: int, value: str, actor: Actor) -> None:
        d = self.desk
        qid = d.question_list[pick % len(d.questions)].id if d.questions else "q0"
        self.attempt(
            lambda now: answer_question(d.contract, d.question_list, qid, value, now, actor)
        )

    @rule(guard=st.booleans(), auto_complete=st.booleans())
    def switch_settings(self, guard: bool, auto_complete: bool) -> None:
        d = self.desk
        self.attempt(lambda now: update_contract(d.contract, now, REVIEWER, phase_guard=guard))
        self.attempt(lambda now: set_auto_complete(d.contract, auto_complete, now, REVIEWER))

    @rule()
    def heartbeat(self) -> None:
        self.attempt(lambda now: record_activity(self.desk.contract, now))

    @invariant()
    def waiting_has_something_pending(self) -> None:
        if not hasattr(self, "desk"):
            return
        c = self.desk.contract
        if c.status is ContractStatus.WAITING_FOR_INPUT:
            pending = any(q.is_pending for q in self.desk.question_list)
            assert pending or c.pending_confirmation is not None
            assert c.waiting_for is not None


def check_outcome(before: Contract, outcome: Outcome, now: datetime) -> None:
    after = outcome.contract
    assert outcome.previous_version == before.version
    check_status_moves(before, outcome)
    if outcome.activity_only:
        assert (after.version, outcome.events) == (before.version, ())
        return
    if after == before:
        return
    assert after.version == before.version + 1, "one accepted change, one version"
    assert after.updated_at == now
    assert outcome.events, "a change says what happened"


def check_status_moves(before: Contract, outcome: Outcome) -> None:
    """Every status_changed is a move of the table, and together they chain from the status
    read to the status written."""
    moves = [
        (ContractStatus(e.payload["old_status"]), ContractStatus(e.payload["new_status"]))
        for e in outcome.events
        if e.type is EventType.STATUS_CHANGED
    ]
    current = before.status
    for old, new in moves:
        assert old is current and new in TRANSITIONS[old], (old, new)
        current = new
    assert current is outcome.contract.status


LifecycleMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycle = LifecycleMachine.TestCase
