"""Phase completion gates: what a phase needs before it may advance (spec §2.2.1, §2.2.2).

A gate lists the phase's required deliverables, a task requirement and optionally the name
of a validator. Checking a gate never raises: it reports what is missing, with the exact
message texts of the specification, so the server, the desktop preview and the progress
flow all show the same list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from core.model import Contract, Task, TaskStatus
from core.phases import GateSpec, PhaseConfig, TaskRule
from core.status import ContractStatus

# A custom check: returns a missing-item message, or None when satisfied.
Validator = Callable[[Contract, Sequence[Task]], str | None]


class TaskRequirementKind(StrEnum):
    NONE = "none"  # tasks do not matter
    ALL_COMPLETE = "all_complete"  # every non-supervisor task is done
    MIN_COMPLETE = "min_complete"  # at least `min_complete` non-supervisor tasks are done
    NAMED_TASKS = "named_tasks"  # each task named in `names` is done
    # Completion only (`completion_gate`): no task pending or running any more (a failed one
    # is over and does not count), and at least `min_complete` done.
    ALL_FINISHED = "all_finished"


@dataclass(frozen=True, slots=True)
class TaskRequirement:
    kind: TaskRequirementKind
    min_complete: int = 0
    names: tuple[str, ...] = ()

    @classmethod
    def none(cls) -> TaskRequirement:
        return cls(TaskRequirementKind.NONE)

    @classmethod
    def all_complete(cls) -> TaskRequirement:
        return cls(TaskRequirementKind.ALL_COMPLETE)

    @classmethod
    def at_least(cls, n: int) -> TaskRequirement:
        if n < 0:
            raise ValueError(f"a task requirement needs a non-negative count, got {n}")
        return cls(TaskRequirementKind.MIN_COMPLETE, min_complete=n)

    @classmethod
    def named(cls, *names: str) -> TaskRequirement:
        return cls(TaskRequirementKind.NAMED_TASKS, names=names)

    def missing(self, tasks: Sequence[Task]) -> list[str]:
        """The unmet parts, in the specification's words.

        Trap: the supervisor task never counts, neither as incomplete nor as done, since it
        runs for the whole contract and would otherwise block every gate.
        """
        work = [t for t in tasks if not t.is_supervisor]
        done = [t for t in work if t.status is TaskStatus.DONE]
        if self.kind is TaskRequirementKind.ALL_COMPLETE and len(done) < len(work):
            return [f"{len(work) - len(done)} tasks incomplete"]
        if self.kind is TaskRequirementKind.MIN_COMPLETE and len(done) < self.min_complete:
            return [f"Need {self.min_complete} tasks complete, have {len(done)}"]
        if self.kind is TaskRequirementKind.ALL_FINISHED:
            return _unfinished(work, len(done), self.min_complete)
        if self.kind is TaskRequirementKind.NAMED_TASKS:
            done_names = {t.name for t in done}
            return [f"Task '{name}' not complete" for name in self.names if name not in done_names]
        return []


def _unfinished(work: Sequence[Task], done: int, at_least: int) -> list[str]:
    open_count = sum(1 for t in work if not t.status.is_finished)
    missing = [f"{open_count} tasks incomplete"] if open_count else []
    if done < at_least:
        missing.append(f"Need {at_least} tasks complete, have {done}")
    return missing


@dataclass(frozen=True, slots=True)
class PhaseCompletionGate:
    required_deliverables: tuple[str, ...]
    required_tasks: TaskRequirement
    validator: str | None = None  # name looked up in the validators mapping
    auto_advance: bool = True  # advance on its own once satisfied (spec §2.2.3 step 3)


class ReadinessKind(StrEnum):
    READY = "ready"
    NOT_READY = "not_ready"
    NO_GATE = "no_gate"  # the phase has no gate: nothing to wait for


@dataclass(frozen=True, slots=True)
class PhaseReadiness:
    kind: ReadinessKind
    phase: str
    missing: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        """True for READY and for NO_GATE: a phase without a gate has nothing missing."""
        return self.kind is not ReadinessKind.NOT_READY

    def to_wire(self, auto_advance_enabled: bool) -> dict[str, Any]:
        """The `GET /contracts/{id}/phase-readiness` body (snake_case, as the spec shows)."""
        return {
            "phase": self.phase,
            "ready": self.ready,
            "missing": list(self.missing),
            "auto_advance_enabled": auto_advance_enabled,
        }


@dataclass(frozen=True, slots=True)
class CompletionCheck:
    ready: bool
    would_complete: bool
    missing: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        """The `POST /contracts/{id}/check-completion` body."""
        return {
            "ready": self.ready,
            "would_complete": self.would_complete,
            "missing": list(self.missing),
        }


def default_gates(config: PhaseConfig, auto_advance: bool = True) -> dict[str, PhaseCompletionGate]:
    """One gate per phase: its required deliverables, and the task rule and auto-advance of
    `phaseConfig.gates` where configured (else every task complete, `auto_advance`)."""
    return {phase: _gate_of(config, phase, auto_advance) for phase in config.phase_ids}


def _gate_of(config: PhaseConfig, phase: str, auto_advance: bool) -> PhaseCompletionGate:
    required = tuple(config.required_for(phase))
    spec = config.gates.get(phase)
    if spec is None:
        return PhaseCompletionGate(required, TaskRequirement.all_complete(), None, auto_advance)
    return PhaseCompletionGate(required, _requirement(spec), None, spec.auto_advance)


def _requirement(spec: GateSpec) -> TaskRequirement:
    if spec.required_tasks is TaskRule.NONE:
        return TaskRequirement.none()
    if spec.required_tasks is TaskRule.MIN_COMPLETE:
        return TaskRequirement.at_least(spec.min_complete)
    if spec.required_tasks is TaskRule.NAMED:
        return TaskRequirement.named(*spec.names)
    return TaskRequirement.all_complete()


def completion_gate(gate: PhaseCompletionGate) -> PhaseCompletionGate:
    """The terminal gate as the completion check reads it (spec `check_contract_completion`).

    The specification checks the terminal gate on its deliverables, not on how the tasks
    ended, so a failed worker task must not keep a contract `active` for ever (it can be
    retried instead; see README). "Every task complete" therefore becomes "no task still
    pending or running": failed ones are over. A terminal phase with no required
    deliverables (an `execute` contract) also needs one task done, or it would complete the
    moment it starts. A task rule configured on purpose (`min_complete`, `named`, `none`)
    is kept as it is.
    """
    if gate.required_tasks.kind is not TaskRequirementKind.ALL_COMPLETE:
        return gate
    at_least = 0 if gate.required_deliverables else 1
    finished = TaskRequirement(TaskRequirementKind.ALL_FINISHED, min_complete=at_least)
    return replace(gate, required_tasks=finished)


def completion_readiness(
    contract: Contract,
    tasks: Sequence[Task],
    gates: Mapping[str, PhaseCompletionGate] | None = None,
    validators: Mapping[str, Validator] | None = None,
) -> PhaseReadiness:
    """Readiness of the terminal phase's gate as completion reads it (`completion_gate`)."""
    terminal = contract.terminal_phase
    all_gates = default_gates(contract.phase_config) if gates is None else gates
    gate = all_gates.get(terminal)
    if gate is None:
        return PhaseReadiness(ReadinessKind.NO_GATE, terminal)
    return readiness_of(contract, terminal, tasks, {terminal: completion_gate(gate)}, validators)


def check_phase_readiness(
    contract: Contract,
    tasks: Sequence[Task],
    gates: Mapping[str, PhaseCompletionGate] | None = None,
    validators: Mapping[str, Validator] | None = None,
) -> PhaseReadiness:
    """Whether the contract's current phase satisfies its gate (default: `default_gates`)."""
    return readiness_of(contract, contract.phase, tasks, gates, validators)


def readiness_of(
    contract: Contract,
    phase: str,
    tasks: Sequence[Task],
    gates: Mapping[str, PhaseCompletionGate] | None = None,
    validators: Mapping[str, Validator] | None = None,
) -> PhaseReadiness:
    """Readiness of any `phase` of the contract (deliverables are those recorded for it)."""
    gate = (default_gates(contract.phase_config) if gates is None else gates).get(phase)
    if gate is None:
        return PhaseReadiness(ReadinessKind.NO_GATE, phase)
    done = set(contract.completed_in(phase))
    missing = [f"Deliverable: {d}" for d in gate.required_deliverables if d not in done]
    missing += gate.required_tasks.missing(tasks)
    missing += _validator_missing(gate.validator, validators or {}, contract, tasks)
    kind = ReadinessKind.NOT_READY if missing else ReadinessKind.READY
    return PhaseReadiness(kind, phase, tuple(missing))


def _validator_missing(
    name: str | None, validators: Mapping[str, Validator], contract: Contract, tasks: Sequence[Task]
) -> list[str]:
    if name is None:
        return []
    validator = validators.get(name)
    if validator is None:
        # A gate naming a validator nobody registered must not silently pass.
        return [f"Validator '{name}' is not registered"]
    message = validator(contract, tasks)
    return [] if message is None else [message]


def check_contract_completion(
    contract: Contract,
    tasks: Sequence[Task],
    gates: Mapping[str, PhaseCompletionGate] | None = None,
    validators: Mapping[str, Validator] | None = None,
) -> CompletionCheck:
    """Whether the contract is done: in its terminal phase with the terminal gate satisfied.

    `missing` also lists what the terminal gate still lacks when the contract is not yet in
    its terminal phase. `would_complete` says whether auto-completion would act now: it needs
    the contract's own switch on and status `active` (a paused contract never auto-completes).
    """
    terminal = contract.terminal_phase
    readiness = completion_readiness(contract, tasks, gates, validators)
    missing = list(readiness.missing)
    if not contract.in_terminal_phase:
        missing.insert(
            0, f"Not in terminal phase (current: {contract.phase}, terminal: {terminal})"
        )
    ready = contract.in_terminal_phase and readiness.ready
    would = ready and contract.auto_complete_enabled and contract.status is ContractStatus.ACTIVE
    return CompletionCheck(ready, would, tuple(missing))
