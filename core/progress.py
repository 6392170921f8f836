"""The auto-advance decision (spec §2.2.3): what to do once a task or deliverable lands.

`decide_progress` only decides; `core.lifecycle` applies the decision (and repeats it, since
an advance can land in a phase whose gate is already satisfied).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.gates import (
    PhaseCompletionGate,
    Validator,
    check_phase_readiness,
    completion_readiness,
    default_gates,
)
from core.model import Contract, Task
from core.status import ContractStatus


@dataclass(frozen=True, slots=True)
class ProgressSettings:
    """The server-wide switches: `[contracts] auto_advance_phases` and the `auto_complete`
    feature flag."""

    auto_advance_phases: bool = True
    auto_complete_enabled: bool = True


DEFAULT_PROGRESS = ProgressSettings()


class ProgressAction(StrEnum):
    NOTHING = "nothing"  # not ready, not active, or already waiting on a reviewer
    NOTIFY = "notify"  # ready, but a human advances it (auto-advance or auto-complete off)
    AWAIT_CONFIRMATION = "await_confirmation"  # ready, phase guard: ask the reviewer
    ADVANCE = "advance"  # ready, unguarded: move to the next phase
    START_COMPLETING = "start_completing"  # terminal phase ready: enter `completing`


@dataclass(frozen=True, slots=True)
class ProgressDecision:
    action: ProgressAction
    phase: str
    next_phase: str | None = None
    missing: tuple[str, ...] = ()
    reason: str = ""


def decide_progress(
    contract: Contract,
    tasks: Sequence[Task],
    settings: ProgressSettings = DEFAULT_PROGRESS,
    gates: Mapping[str, PhaseCompletionGate] | None = None,
    validators: Mapping[str, Validator] | None = None,
) -> ProgressDecision:
    """Decide the next automatic step for the contract's current phase.

    Trap: a phase confirmation already pending means NOTHING, otherwise every task update
    would ask the reviewer again. A phase without a gate counts as ready but, having no
    `auto_advance` flag, only ever NOTIFYs (or completes, in the terminal phase).
    """
    phase = contract.phase
    if contract.status is not ContractStatus.ACTIVE:
        return ProgressDecision(
            ProgressAction.NOTHING, phase, reason=f"status is {contract.status}"
        )
    if contract.pending_confirmation is not None:
        return ProgressDecision(ProgressAction.NOTHING, phase, reason="a confirmation is pending")
    all_gates = default_gates(contract.phase_config) if gates is None else gates
    if contract.in_terminal_phase:
        readiness = completion_readiness(contract, tasks, all_gates, validators)
    else:
        readiness = check_phase_readiness(contract, tasks, all_gates, validators)
    if not readiness.ready:
        return ProgressDecision(
            ProgressAction.NOTHING, phase, missing=readiness.missing, reason="gate not satisfied"
        )
    if contract.in_terminal_phase:
        return _terminal_decision(contract, settings)
    return _advance_decision(contract, settings, all_gates.get(phase))


def _terminal_decision(contract: Contract, settings: ProgressSettings) -> ProgressDecision:
    if contract.auto_complete_enabled and settings.auto_complete_enabled:
        return ProgressDecision(
            ProgressAction.START_COMPLETING, contract.phase, reason="terminal phase complete"
        )
    return ProgressDecision(ProgressAction.NOTIFY, contract.phase, reason="auto-complete is off")


def _advance_decision(
    contract: Contract, settings: ProgressSettings, gate: PhaseCompletionGate | None
) -> ProgressDecision:
    phase, next_phase = contract.phase, contract.phase_config.next_phase(contract.phase)
    if gate is None or not gate.auto_advance or not settings.auto_advance_phases:
        return ProgressDecision(
            ProgressAction.NOTIFY, phase, next_phase, reason="auto-advance is off"
        )
    if contract.phase_guard:
        return ProgressDecision(
            ProgressAction.AWAIT_CONFIRMATION, phase, next_phase, reason="phase guard is on"
        )
    return ProgressDecision(ProgressAction.ADVANCE, phase, next_phase, reason="gate satisfied")


def auto_advance_enabled(contract: Contract, settings: ProgressSettings = DEFAULT_PROGRESS) -> bool:
    """Whether the current phase advances on its own once ready: the global switch and the
    phase's gate (`phaseConfig.gates[phase].autoAdvance`) both on. Shown by phase-readiness."""
    gate = default_gates(contract.phase_config).get(contract.phase)
    return settings.auto_advance_phases and gate is not None and gate.auto_advance
