"""The contract use cases against the database: load, decide in core, persist — one transaction.

Every method opens one write unit of work, loads the contract scoped to the actor's owner
(`ContractNotFound` for a missing contract and for another owner's alike), passes it to
the pure use case of `core.lifecycle`, and writes the returned `Outcome` with
`persist`: the contract row under its version check, the changed tasks and questions, and
the events with their `seq`. A use case that raises writes nothing.

The trap: `now` is read inside the transaction (after the write lock), so event times
follow commit order as closely as the clock allows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core import lifecycle
from core.actors import Actor
from core.clock import Clock
from core.config import ContractTimeoutConfig, FeatureFlags
from core.errors import EvidenceChanged
from core.events import LoggedEvent
from core.evidence import evidence_changes, evidence_versions
from core.model import Contract, Question, Task, TaskStatus
from core.outcome import Outcome
from core.phase_change import PhaseChangeRequest
from core.progress import ProgressSettings
from core.status import ContractStatus
from core.store import queries, worktrees
from core.store.engine import Store
from core.store.supervision import HeartbeatBatch, SupervisorStore
from core.store.sweep import Sweeper, SweepReport
from core.store.unit_of_work import Applied, WriteUnitOfWork, owner_scope
from core.supervisor import (
    Heartbeat,
    RestorationPlan,
    SupervisorPersistentState,
    SupervisorState,
)
from core.worktrees import request_cleanup


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a use case reads besides the contract (only what it asked for)."""

    contract: Contract
    tasks: Sequence[Task]
    questions: Sequence[Question]
    now: datetime


Decide = Callable[[Loaded], Outcome]
Which = Literal["pending", "all"] | None


class ContractRepository:
    """The use cases of `core.lifecycle`, each one transaction on `store`."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: ContractTimeoutConfig | None = None,
        flags: FeatureFlags | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config or ContractTimeoutConfig()
        self.flags = flags or FeatureFlags()
        # `[contracts] auto_complete_enabled` is only the default of new contracts (§8.1,
        # "global default"); the server-wide switch is the `auto_complete` feature flag.
        self.progress = ProgressSettings(self.config.auto_advance_phases, self.flags.auto_complete)
        self._supervision = SupervisorStore(store, clock)
        self._sweeper = Sweeper(store, self.config)

    async def _apply(
        self,
        contract_id: str,
        actor: Actor,
        decide: Decide,
        *,
        tasks: bool = False,
        questions: Which = None,
    ) -> Applied:
        """Load (with `tasks`, and `questions` "pending" or "all"), decide, persist."""

        def work(uow: WriteUnitOfWork) -> Applied:
            contract = uow.load_for_update(contract_id, owner_scope(actor))
            now = self.clock.now()
            loaded = Loaded(
                contract,
                uow.tasks(contract_id) if tasks else (),
                _questions(uow, contract_id, questions),
                now,
            )
            return uow.apply(decide(loaded), actor, now)

        return await self.store.run_write(work)

    async def create_contract(
        self,
        actor: Actor,
        name: str,
        contract_type: str,
        *,
        description: str | None = None,
        phase_config: Mapping[str, Any] | None = None,
        phase_guard: bool = True,
        auto_complete_enabled: bool = True,
        contract_id: str | None = None,
    ) -> Applied:
        """A new contract owned by `actor.owner` (status `created`, version 1)."""

        def work(uow: WriteUnitOfWork) -> Applied:
            now = self.clock.now()
            outcome = lifecycle.create_contract(
                contract_id or new_id(),
                actor.owner,
                name,
                contract_type,
                now,
                actor,
                description=description,
                phase_config=phase_config,
                phase_guard=phase_guard,
                auto_complete_enabled=auto_complete_enabled,
            )
            return uow.apply(outcome, actor, now)

        return await self.store.run_write(work)

    async def update_contract(
        self,
        contract_id: str,
        actor: Actor,
        *,
        name: str | None = None,
        description: str | None = None,
        phase_guard: bool | None = None,
        expected_version: int | None = None,
    ) -> Applied:
        def decide(x: Loaded) -> Outcome:
            return lifecycle.update_contract(
                x.contract, x.now, actor, name, description, phase_guard, expected_version
            )

        return await self._apply(contract_id, actor, decide)

    async def set_auto_complete(self, contract_id: str, actor: Actor, enabled: bool) -> Applied:
        def decide(x: Loaded) -> Outcome:
            return lifecycle.set_auto_complete(
                x.contract, enabled, x.now, actor, x.tasks, self.progress, new_id
            )

        return await self._apply(contract_id, actor, decide, tasks=True)

    async def check_completion(self, contract_id: str, actor: Actor) -> Applied:
        """The "force completion check": starts completion when the contract is ready."""

        def decide(x: Loaded) -> Outcome:
            return lifecycle.check_completion(x.contract, x.tasks, x.now, actor, self.progress)

        return await self._apply(contract_id, actor, decide, tasks=True)

    async def change_status(
        self,
        contract_id: str,
        actor: Actor,
        target: ContractStatus | str,
        *,
        reason: str | None = None,
        blocker: str | None = None,
        expected_version: int | None = None,
    ) -> Applied:
        """Move the status by the table; `response` is the API's status-change answer."""
        status = target if isinstance(target, ContractStatus) else ContractStatus.parse(target)

        def decide(x: Loaded) -> Outcome:
            return lifecycle.change_status(
                x.contract,
                x.tasks,
                x.questions,
                status,
                x.now,
                actor,
                reason,
                blocker,
                expected_version,
                self.progress,
                new_id,
            )

        return await self._apply(contract_id, actor, decide, tasks=True, questions="pending")

    async def change_phase(
        self, contract_id: str, actor: Actor, request: PhaseChangeRequest
    ) -> Applied:
        """`POST /contracts/{id}/phase`; `response` is set unless the phase moved."""

        def decide(x: Loaded) -> Outcome:
            return lifecycle.change_phase(
                x.contract, x.tasks, x.questions, request, x.now, actor, new_id(), self.progress
            )

        try:
            return await self._apply(contract_id, actor, decide, tasks=True, questions="pending")
        except EvidenceChanged as changed:
            await self._explain(contract_id, actor, changed)
            raise

    async def _explain(self, contract_id: str, actor: Actor, changed: EvidenceChanged) -> None:
        """Add what the reviewer saw (`seen`) and what differs (`changes`) to the error.

        The request carried only a digest; the versions of the evidence are replayed from
        the contract's deliverable events to find the one it names.
        """
        detail = await queries.get_contract(self.store, contract_id, owner_scope(actor))
        payloads = await queries.deliverable_payloads(self.store, contract_id, owner_scope(actor))
        seen = evidence_versions(detail.contract, payloads).get(changed.details["expectedDigest"])
        now = changed.details["evidence"]
        changed.details["seen"] = seen
        if seen is not None:
            changed.details["changes"] = [c.to_wire() for c in evidence_changes(seen, now)]

    async def mark_deliverable(
        self,
        contract_id: str,
        actor: Actor,
        deliverable_id: str,
        *,
        phase: str | None = None,
        url: str | None = None,
        summary: str | None = None,
    ) -> Applied:
        """Record a deliverable, with where it lives (`url`) and what it says (`summary`)."""

        def decide(x: Loaded) -> Outcome:
            return lifecycle.mark_deliverable(
                x.contract,
                x.tasks,
                deliverable_id,
                x.now,
                actor,
                phase,
                self.progress,
                new_id,
                url=url,
                summary=summary,
            )

        return await self._apply(contract_id, actor, decide, tasks=True)

    async def create_task(
        self,
        contract_id: str,
        actor: Actor,
        name: str,
        *,
        is_supervisor: bool = False,
        task_id: str | None = None,
    ) -> Applied:
        """Create a task; the new Task is `applied.tasks[0]`."""
        ident = task_id or new_id()

        def decide(x: Loaded) -> Outcome:
            return lifecycle.create_task(
                x.contract, x.tasks, ident, name, x.now, actor, is_supervisor
            )

        return await self._apply(contract_id, actor, decide, tasks=True)

    async def update_task(
        self, contract_id: str, actor: Actor, task_id: str, status: TaskStatus
    ) -> Applied:
        def decide(x: Loaded) -> Outcome:
            return lifecycle.update_task(
                x.contract, x.tasks, task_id, status, x.now, actor, self.progress, new_id
            )

        return await self._apply(contract_id, actor, decide, tasks=True)

    async def ask_question(
        self,
        contract_id: str,
        actor: Actor,
        question: str,
        question_type: str,
        *,
        choices: Sequence[str] = (),
        question_id: str | None = None,
    ) -> Applied:
        """Ask a question; the new Question is `applied.questions[0]`."""
        ident = question_id or new_id()

        def decide(x: Loaded) -> Outcome:
            return lifecycle.ask_question(
                x.contract, ident, question, question_type, x.now, actor, choices
            )

        return await self._apply(contract_id, actor, decide, questions="pending")

    async def answer_question(self, question_id: str, actor: Actor, answer: str) -> Applied:
        """Answer by question id (its contract must be the actor's); `questions[0]` is it."""

        def work(uow: WriteUnitOfWork) -> Applied:
            asked = uow.question_owner_scoped(question_id, owner_scope(actor))
            contract = uow.load_for_update(asked.contract_id, owner_scope(actor))
            every = uow.questions(contract.id)
            now = self.clock.now()
            outcome = lifecycle.answer_question(
                contract,
                every,
                question_id,
                answer,
                now,
                actor,
                uow.tasks(contract.id),
                self.progress,
            )
            return uow.apply(outcome, actor, now)

        return await self.store.run_write(work)

    async def request_supervisor_restart(self, contract_id: str, actor: Actor) -> Applied:
        def decide(x: Loaded) -> Outcome:
            return lifecycle.request_supervisor_restart(x.contract, x.now, actor)

        return await self._apply(contract_id, actor, decide)

    async def request_worktree_cleanup(
        self, contract_id: str, actor: Actor, paths: Sequence[str] | None
    ) -> Applied:
        """One `worktree_cleanup_requested` event per worktree (None: every reported one)."""

        def work(uow: WriteUnitOfWork) -> Applied:
            contract = uow.load_for_update(contract_id, owner_scope(actor))
            now = self.clock.now()
            reported = worktrees.reported_paths(uow.conn, contract_id)
            outcome = request_cleanup(contract, reported, paths, now, actor)
            return uow.apply(outcome, actor, now)

        return await self.store.run_write(work)

    async def delete_contract(self, contract_id: str, actor: Actor) -> Applied:
        """Delete an archived contract; its `contract_deleted` event stays in the log."""

        def decide(x: Loaded) -> Outcome:
            return lifecycle.delete_contract(x.contract, x.now, actor)

        return await self._apply(contract_id, actor, decide)

    # Supervisors -------------------------------------------------------------------------

    async def record_heartbeats(
        self, heartbeats: Sequence[Heartbeat], owner: str | None
    ) -> HeartbeatBatch:
        """Store a batch in one transaction; see `SupervisorStore.record_heartbeats`."""
        return await self._supervision.record_heartbeats(heartbeats, owner)

    async def save_supervisor_state(
        self, contract_id: str, actor: Actor, state: SupervisorPersistentState
    ) -> Applied:
        """Save the supervisor's state; a state change logs `supervisor_state_changed`."""
        return await self._supervision.save_state(contract_id, actor, state)

    async def load_supervisor_state(
        self, contract_id: str, owner: str | None
    ) -> SupervisorPersistentState | None:
        return await self._supervision.load_state(contract_id, owner)

    async def sync_supervisor_state(
        self, contract_id: str, actor: Actor, heartbeat_state: SupervisorState
    ) -> Applied:
        """`supervisor/sync`: the persisted state agrees with the latest heartbeat."""
        return await self._supervision.sync_state(contract_id, actor, heartbeat_state)

    async def restore_and_redeliver(
        self, contract_id: str, actor: Actor
    ) -> tuple[RestorationPlan, list[LoggedEvent]]:
        """The restoration plan, pending questions re-delivered to the user as events."""
        return await self._supervision.restore_and_redeliver(contract_id, actor)

    async def restoration(self, contract_id: str, owner: str | None) -> RestorationPlan:
        """How the contract's supervisor should restore itself (spec §3.6)."""
        return await self._supervision.restoration(contract_id, owner)

    # Time-driven services -----------------------------------------------------------------

    async def sweep(self, now: datetime | None = None) -> SweepReport:
        """Run every time rule once (stale, input timeout, grace, retention) as of `now`."""
        return await self._sweeper.sweep(now or self.clock.now())


def _questions(uow: WriteUnitOfWork, contract_id: str, which: Which) -> list[Question]:
    if which is None:
        return []
    return uow.questions(contract_id, pending_only=which == "pending")
