"""Random sequences of use cases through the repository on SQLite (hypothesis, stateful).

Invariants after every step: a contract's stored version never goes down and grows by at
most one per use case; a refused use case changes nothing; an accepted one appends exactly
its events, gap-free; every logged status change is a move of core.status.TRANSITIONS.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.errors import DomainError
from core.events import EventType
from core.model import TaskStatus
from core.phase_change import PhaseChangeRequest
from core.status import TRANSITIONS, ContractStatus
from core.store import Applied, ContractRepository, Store, open_store, queries
from core.supervisor import Heartbeat, SupervisorState
from tests.pg import run_outside_loop
from tests.store.helpers import REVIEWER, SUPERVISOR

PHASES = ["plan", "execute", "research", "specify", "review", "nowhere"]
DELIVERABLES = ["plan-document", "pull-request", "research-notes", "bogus"]
ACTORS = st.sampled_from([REVIEWER, SUPERVISOR])
TEXT = st.sampled_from(["", "because", "waiting on CI"])
_TEMPLATE: dict[str, Path] = {}


def _migrated_template() -> Path:
    """One migrated database file, copied for every run (migrating each time is slow)."""
    if "path" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="store-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"

        async def build() -> None:
            store = await open_store(f"sqlite:///{path}", migrate=True)
            await store.close()

        run_outside_loop(build())
        _TEMPLATE["path"] = path
    return _TEMPLATE["path"]


class LifecycleThroughTheStore(RuleBasedStateMachine):
    contracts = Bundle("contracts")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="store-stateful-"))
        shutil.copy(_migrated_template(), self.folder / "store.db")
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock()
        self.store: Store = self.run(open_store(f"sqlite:///{self.folder / 'store.db'}"))
        self.repo = ContractRepository(self.store, self.clock, ContractTimeoutConfig())
        self.versions: dict[str, int] = {}
        self.log_length = 0
        self.pending: dict[str, str] = {}  # question id → contract id
        self.tasks: dict[str, str] = {}  # task id → contract id

    def run(self, awaitable: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def attempt(
        self, contract_id: str | None, action: Callable[[], Awaitable[Applied]]
    ) -> Applied | None:
        """Run one use case and check what it did (or that a refusal did nothing)."""
        before = self.snapshot(contract_id)
        try:
            applied: Applied = self.run(action())
        except DomainError:
            assert self.snapshot(contract_id) == before
            return None
        self.check_applied(before, applied)
        return applied

    def snapshot(self, contract_id: str | None) -> tuple[Any, int]:
        stored = None
        if contract_id is not None:
            stored = self.run(queries.get_contract(self.store, contract_id, "alice")).contract
        return stored, self.run(queries.head_seq(self.store))

    def check_applied(self, before: tuple[Any, int], applied: Applied) -> None:
        old, head = before
        seqs = [e.seq for e in applied.events]
        assert seqs == list(range(head + 1, head + 1 + len(seqs)))
        for event in applied.events:
            if event.type is EventType.STATUS_CHANGED:
                pair = (
                    ContractStatus(event.payload["old_status"]),
                    ContractStatus(event.payload["new_status"]),
                )
                assert pair[1] in TRANSITIONS[pair[0]], pair
        if old is not None and not applied.deleted:
            assert applied.contract.version in (old.version, old.version + 1)
        if not applied.deleted:
            self.versions[applied.contract.id] = applied.contract.version

    @rule(
        target=contracts,
        kind=st.sampled_from(["simple", "specification", "execute"]),
        guard=st.booleans(),
    )
    def create(self, kind: str, guard: bool) -> str:
        self.clock.advance(1)
        applied = self.attempt(
            None, lambda: self.repo.create_contract(REVIEWER, "c", kind, phase_guard=guard)
        )
        assert applied is not None and applied.contract.version == 1
        return applied.contract.id

    @rule(target=contracts, kind=st.sampled_from(["simple", "specification"]), guard=st.booleans())
    def start(self, kind: str, guard: bool) -> str:
        """Most interesting states need a running contract: create, supervise, activate."""
        contract = self.create(kind, guard)
        task = self.attempt(
            contract, lambda: self.repo.create_task(contract, SUPERVISOR, "s", is_supervisor=True)
        )
        assert task is not None
        started = self.attempt(
            contract, lambda: self.repo.change_status(contract, SUPERVISOR, "active")
        )
        assert started is not None and started.contract.status is ContractStatus.ACTIVE
        return contract

    @rule(contract=contracts, supervisor=st.booleans())
    def create_task(self, contract: str, supervisor: bool) -> None:
        applied = self.attempt(
            contract,
            lambda: self.repo.create_task(contract, SUPERVISOR, "t", is_supervisor=supervisor),
        )
        if applied is not None:
            self.tasks[applied.tasks[0].id] = contract

    @precondition(lambda self: bool(self.tasks))
    @rule(data=st.data(), status=st.sampled_from(list(TaskStatus)))
    def update_task(self, data: st.DataObject, status: TaskStatus) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.tasks)))
        contract = self.tasks[task_id]
        self.attempt(contract, lambda: self.repo.update_task(contract, SUPERVISOR, task_id, status))

    @rule(
        contract=contracts,
        target_status=st.sampled_from(list(ContractStatus)),
        actor=ACTORS,
        text=TEXT,
    )
    def change_status(
        self, contract: str, target_status: ContractStatus, actor: Any, text: str
    ) -> None:
        self.attempt(
            contract,
            lambda: self.repo.change_status(
                contract, actor, target_status, reason=text, blocker=text
            ),
        )

    @rule(
        contract=contracts,
        phase=st.sampled_from(PHASES),
        confirmed=st.booleans(),
        feedback=st.sampled_from([None, "redo"]),
        force=st.booleans(),
        actor=ACTORS,
    )
    def change_phase(
        self,
        *,
        contract: str,
        phase: str,
        confirmed: bool,
        feedback: str | None,
        force: bool,
        actor: Any,
    ) -> None:
        request = PhaseChangeRequest(phase, confirmed, feedback, force=force)
        self.attempt(contract, lambda: self.repo.change_phase(contract, actor, request))

    @rule(contract=contracts, deliverable=st.sampled_from(DELIVERABLES))
    def mark_deliverable(self, contract: str, deliverable: str) -> None:
        self.attempt(
            contract, lambda: self.repo.mark_deliverable(contract, SUPERVISOR, deliverable)
        )

    @rule(contract=contracts, kind=st.sampled_from(["free_text", "confirmation"]))
    def ask(self, contract: str, kind: str) -> None:
        applied = self.attempt(
            contract, lambda: self.repo.ask_question(contract, SUPERVISOR, "?", kind)
        )
        if applied is not None:
            self.pending[applied.questions[0].id] = contract

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data(), answer=st.sampled_from(["yes", "no", "maybe"]))
    def answer(self, data: st.DataObject, answer: str) -> None:
        question = data.draw(st.sampled_from(sorted(self.pending)))
        contract = self.pending[question]
        self.attempt(contract, lambda: self.repo.answer_question(question, REVIEWER, answer))

    @rule(contract=contracts)
    def heartbeat(self, contract: str) -> None:
        beat = Heartbeat(
            "s", contract, SupervisorState.WORKING, "plan", "", 1, (), self.clock.now()
        )
        self.run(self.repo.record_heartbeats([beat], "alice"))

    @rule(minutes=st.sampled_from([1, 31, 60 * 25, 60 * 24 * 31]))
    def time_passes(self, minutes: int) -> None:
        head = self.run(queries.head_seq(self.store))
        report = self.run(self.repo.sweep(self.clock.advance(minutes=minutes)))
        assert [e.seq for e in report.events] == list(
            range(head + 1, head + 1 + len(report.events))
        )
        for contract_id in report.deleted:
            self.versions.pop(contract_id, None)

    @invariant()
    def versions_never_go_down(self) -> None:
        every = queries.ContractFilter(limit=1000)
        page = self.run(queries.list_contracts(self.store, "alice", every, now=self.clock.now()))
        stored = {c.id: c.version for c in page.contracts}
        for contract_id, version in self.versions.items():
            assert stored.get(contract_id, version) >= version
        self.versions = {cid: stored.get(cid, v) for cid, v in self.versions.items()}

    @invariant()
    def log_is_gap_free(self) -> None:
        page = self.run(queries.events_after(self.store, None, after=self.log_length, limit=1000))
        seqs = [e.seq for e in page.events]
        assert seqs == list(range(self.log_length + 1, self.log_length + 1 + len(seqs)))
        self.log_length = page.last_seq


LifecycleThroughTheStore.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_lifecycle_through_the_store = LifecycleThroughTheStore.TestCase
