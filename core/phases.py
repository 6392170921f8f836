"""Contract types, their ordered phases and the deliverables each phase expects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from core.api.base import wire_alias
from core.errors import InvalidDeliverable, ValidationFailed


class ContractType(StrEnum):
    SIMPLE = "simple"  # plan → execute
    SPECIFICATION = "specification"  # research → specify → plan → execute → review
    EXECUTE = "execute"  # execute only, no deliverables
    CUSTOM = "custom"  # phases from the contract's own PhaseConfig


class DeliverablePriority(StrEnum):
    REQUIRED = "required"  # blocks advancing past the phase
    RECOMMENDED = "recommended"
    OPTIONAL = "optional"


@dataclass(frozen=True, slots=True)
class DeliverableDef:
    id: str
    name: str
    priority: DeliverablePriority = DeliverablePriority.REQUIRED

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "priority": self.priority.value}


@dataclass(frozen=True, slots=True)
class PhaseDef:
    id: str
    name: str
    order: int

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "order": self.order}


class WaitPolicyKind(StrEnum):
    """What a contract waiting on a person in a phase does when nobody answers."""

    WAIT = "wait"  # wait as long as it takes
    ESCALATE = "escalate"  # after a while, mark the items escalated and tell the escalation list
    TIMEOUT = "timeout"  # after a while, pause the contract (the input timeout)


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    """A phase's wait policy; `after_hours` None takes the settings' figure for the kind."""

    kind: WaitPolicyKind
    after_hours: float | None = None
    escalate_to: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"policy": self.kind.value}
        if self.after_hours is not None:
            wire["afterHours"] = self.after_hours
        if self.escalate_to:
            wire["escalateTo"] = list(self.escalate_to)
        return wire


class TaskRule(StrEnum):
    """The task part of a phase's completion gate (spec §2.2.1 `TaskRequirement`)."""

    NONE = "none"
    ALL_COMPLETE = "all_complete"
    MIN_COMPLETE = "min_complete"
    NAMED = "named"


@dataclass(frozen=True, slots=True)
class GateSpec:
    """A phase's configured completion gate (`phaseConfig.gates[phase]`), as stored.

    `core.gates` turns it into the `PhaseCompletionGate` the progress flow checks; the
    deliverables part is always the phase's required deliverables.
    """

    required_tasks: TaskRule = TaskRule.ALL_COMPLETE
    min_complete: int = 0
    names: tuple[str, ...] = ()
    auto_advance: bool = True

    def to_wire(self) -> dict[str, Any]:
        tasks: Any = self.required_tasks.value
        if self.required_tasks is TaskRule.MIN_COMPLETE:
            tasks = {"min_complete": self.min_complete}
        elif self.required_tasks is TaskRule.NAMED:
            tasks = {"named": list(self.names)}
        return {"requiredTasks": tasks, "autoAdvance": self.auto_advance}


@dataclass(frozen=True, slots=True)
class PhaseConfig:
    """Ordered phases with their deliverables. `phases` is kept sorted by `order`."""

    phases: tuple[PhaseDef, ...]
    default_phase: str
    deliverables: Mapping[str, tuple[DeliverableDef, ...]] = field(default_factory=dict)
    wait_policies: Mapping[str, WaitPolicy] = field(default_factory=dict)  # by phase id
    gates: Mapping[str, GateSpec] = field(default_factory=dict)  # configured phases only

    @property
    def phase_ids(self) -> list[str]:
        return [p.id for p in self.phases]

    @property
    def terminal_phase(self) -> str:
        return self.phases[-1].id

    def has_phase(self, phase: str) -> bool:
        return any(p.id == phase for p in self.phases)

    def index_of(self, phase: str) -> int:
        for index, p in enumerate(self.phases):
            if p.id == phase:
                return index
        raise ValidationFailed(
            f"Unknown phase '{phase}'. Valid phases: {', '.join(self.phase_ids)}",
            missing_requirements=[f"Phase must be one of: {', '.join(self.phase_ids)}"],
        )

    def next_phase(self, phase: str) -> str | None:
        index = self.index_of(phase)
        return self.phases[index + 1].id if index + 1 < len(self.phases) else None

    def phases_between(self, start: str, end: str) -> list[str]:
        """Phases passed when moving forward from `start` to `end` (start included, end not)."""
        return self.phase_ids[self.index_of(start) : self.index_of(end)]

    def deliverables_for(self, phase: str) -> tuple[DeliverableDef, ...]:
        return tuple(self.deliverables.get(phase, ()))

    def required_for(self, phase: str) -> list[str]:
        return [
            d.id for d in self.deliverables_for(phase) if d.priority is DeliverablePriority.REQUIRED
        ]

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "phases": [p.to_wire() for p in self.phases],
            "defaultPhase": self.default_phase,
            "deliverables": {k: [d.to_wire() for d in v] for k, v in self.deliverables.items()},
        }
        if self.wait_policies:
            wire["waitPolicies"] = {k: v.to_wire() for k, v in self.wait_policies.items()}
        if self.gates:
            wire["gates"] = {k: g.to_wire() for k, g in self.gates.items()}
        return wire


def _linear(*phases: tuple[str, str, str | None, str | None]) -> PhaseConfig:
    """Build a built-in config: (phase id, phase name, deliverable id, deliverable name)."""
    defs = tuple(PhaseDef(pid, name, order) for order, (pid, name, _, _) in enumerate(phases))
    deliverables = {
        pid: (DeliverableDef(did, dname),) for pid, _, did, dname in phases if did and dname
    }
    return PhaseConfig(defs, defs[0].id, deliverables)


BUILTIN_PHASES: Mapping[ContractType, PhaseConfig] = {
    ContractType.SIMPLE: _linear(
        ("plan", "Plan", "plan-document", "Plan Document"),
        ("execute", "Execute", "pull-request", "Pull Request"),
    ),
    ContractType.SPECIFICATION: _linear(
        ("research", "Research", "research-notes", "Research Notes"),
        ("specify", "Specify", "requirements-document", "Requirements Document"),
        ("plan", "Plan", "plan-document", "Plan Document"),
        ("execute", "Execute", "pull-request", "Pull Request"),
        ("review", "Review", "release-notes", "Release Notes"),
    ),
    ContractType.EXECUTE: _linear(("execute", "Execute", None, None)),
}


def phase_config_for(contract_type: ContractType, custom: PhaseConfig | None) -> PhaseConfig:
    """The phases a contract runs through: its own config for `custom`, else the built-in."""
    if contract_type is ContractType.CUSTOM:
        if custom is None:
            raise ValidationFailed(
                "A custom contract needs a phaseConfig", details={"field": "phaseConfig"}
            )
        return custom
    return BUILTIN_PHASES[contract_type]


def validate_deliverable(config: PhaseConfig, phase: str, deliverable_id: str) -> DeliverableDef:
    """Return the deliverable, or raise with the exact message of the specification."""
    config.index_of(phase)
    defs = config.deliverables_for(phase)
    for d in defs:
        if d.id == deliverable_id:
            return d
    raise InvalidDeliverable(deliverable_id, phase, [d.id for d in defs])


def parse_contract_type(value: str) -> ContractType:
    try:
        return ContractType(value)
    except ValueError:
        valid = ", ".join(t.value for t in ContractType)
        raise ValidationFailed(
            f"Unknown contractType '{value}'. Valid types: {valid}",
            details={"field": "contractType"},
        ) from None


_CONFIG_KEYS = frozenset(
    {
        "phases",
        "defaultPhase",
        "default_phase",
        "deliverables",
        "gates",
        "waitPolicies",
        "wait_policies",
    }
)
_PHASE_KEYS = frozenset({"id", "name", "order"})
_DELIVERABLE_KEYS = frozenset({"id", "name", "priority"})
_GATE_KEYS = frozenset({"requiredTasks", "required_tasks", "autoAdvance", "auto_advance"})


def refuse_unknown_keys(raw: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    """Unknown keys are refused naming the key (a typo must not be silently ignored)."""
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise ValidationFailed(
            f"Unknown key '{unknown[0]}' in {where}. Valid keys: {', '.join(sorted(known))}",
            details={"field": f"{where}.{unknown[0]}", "unknown_keys": unknown},
        )


def parse_phase_config(raw: Mapping[str, Any]) -> PhaseConfig:
    """Parse a custom `phaseConfig` (camelCase or snake_case keys), checking it is coherent."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed("phaseConfig must be an object", details={"field": "phaseConfig"})
    refuse_unknown_keys(raw, _CONFIG_KEYS, "phaseConfig")
    phases_raw = _require_list(raw, "phases")
    phases = tuple(sorted((_parse_phase(p) for p in phases_raw), key=lambda p: p.order))
    if not phases:
        raise ValidationFailed("phaseConfig.phases must list at least one phase")
    ids = [p.id for p in phases]
    if len(set(ids)) != len(ids):
        raise ValidationFailed(f"phaseConfig.phases has duplicate ids: {', '.join(ids)}")
    default = raw.get(wire_alias("default_phase"), raw.get("default_phase", ids[0]))
    if not isinstance(default, str) or default not in ids:
        raise ValidationFailed(f"phaseConfig.defaultPhase must be one of: {', '.join(ids)}")
    deliverables = _parse_deliverables(raw.get("deliverables") or {}, ids)
    policies = raw.get("waitPolicies", raw.get("wait_policies")) or {}
    return PhaseConfig(
        phases,
        default,
        deliverables,
        wait_policies=_parse_wait_policies(policies, ids),
        gates=parse_gates(raw.get("gates") or {}, ids),
    )


_POLICY_KEYS = frozenset({"policy", "afterHours", "escalateTo"})


def _parse_wait_policies(raw: Any, phase_ids: list[str]) -> dict[str, WaitPolicy]:
    """`{phase: {policy, afterHours?, escalateTo?}}`; unknown phases or keys are refused."""
    field_name = "phaseConfig.waitPolicies"
    if not isinstance(raw, Mapping):
        raise ValidationFailed(
            f"{field_name} must be an object {{phase: {{policy, afterHours?, escalateTo?}}}}",
            details={"field": field_name},
        )
    return {
        phase: _parse_wait_policy(phase, item, phase_ids, field_name) for phase, item in raw.items()
    }


def _parse_wait_policy(phase: str, item: Any, phase_ids: list[str], where: str) -> WaitPolicy:
    here = f"{where}.{phase}"
    if phase not in phase_ids:
        raise ValidationFailed(f"{where} names unknown phase '{phase}'", details={"field": here})
    if not isinstance(item, Mapping):
        raise ValidationFailed(f"{here} must be an object", details={"field": here})
    unknown = sorted(str(k) for k in item if k not in _POLICY_KEYS)
    if unknown:
        raise ValidationFailed(
            f"{here} has unknown key(s): {', '.join(unknown)}; valid: "
            f"{', '.join(sorted(_POLICY_KEYS))}",
            details={"field": f"{here}.{unknown[0]}"},
        )
    try:
        kind = WaitPolicyKind(str(item.get("policy")))
    except ValueError:
        raise ValidationFailed(
            f"{here}.policy must be one of wait, escalate, timeout",
            details={"field": f"{here}.policy"},
        ) from None
    after = item.get("afterHours")
    if after is not None and (
        isinstance(after, bool) or not isinstance(after, int | float) or not 0 < after < 1e6
    ):
        raise ValidationFailed(
            f"{here}.afterHours must be a positive number of hours",
            details={"field": f"{here}.afterHours"},
        )
    targets = item.get("escalateTo") or []
    if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
        raise ValidationFailed(
            f"{here}.escalateTo must be a list of owners or key users",
            details={"field": f"{here}.escalateTo"},
        )
    hours = None if after is None else float(after)
    return WaitPolicy(kind, hours, tuple(targets))


def parse_gates(raw: Any, phase_ids: Sequence[str]) -> dict[str, GateSpec]:
    """`phaseConfig.gates`: `{phase: {requiredTasks, autoAdvance}}`.

    `requiredTasks` is "none", "all_complete", `{"min_complete": N}` or `{"named": [..]}`
    (default "all_complete"); `autoAdvance` defaults to true.
    """
    if not isinstance(raw, Mapping):
        raise ValidationFailed(
            "phaseConfig.gates must be an object {phase: gate}",
            details={"field": "phaseConfig.gates"},
        )
    gates: dict[str, GateSpec] = {}
    for phase, item in raw.items():
        where = f"phaseConfig.gates.{phase}"
        if phase not in phase_ids:
            raise ValidationFailed(
                f"gate given for unknown phase '{phase}'. Valid phases: {', '.join(phase_ids)}",
                details={"field": where},
            )
        if not isinstance(item, Mapping):
            raise ValidationFailed(f"{where} must be an object", details={"field": where})
        refuse_unknown_keys(item, _GATE_KEYS, where)
        gates[phase] = _parse_gate(item, where)
    return gates


def _parse_gate(item: Mapping[str, Any], where: str) -> GateSpec:
    auto = item.get("autoAdvance", item.get("auto_advance", True))
    if not isinstance(auto, bool):
        raise ValidationFailed(
            f"{where}.autoAdvance must be true or false", details={"field": f"{where}.autoAdvance"}
        )
    tasks = item.get("requiredTasks", item.get("required_tasks", TaskRule.ALL_COMPLETE.value))
    return replace(_parse_task_rule(tasks, f"{where}.requiredTasks"), auto_advance=auto)


def _parse_task_rule(value: Any, where: str) -> GateSpec:
    problem = (
        f'{where} must be "none", "all_complete", {{"min_complete": N}} '
        f'or {{"named": [task names]}}, got {value!r}'
    )
    if value in (TaskRule.NONE.value, TaskRule.ALL_COMPLETE.value):
        return GateSpec(TaskRule(value))
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ValidationFailed(problem, details={"field": where})
    key, arg = next(iter(value.items()))
    if key in ("min_complete", "minComplete"):
        if isinstance(arg, bool) or not isinstance(arg, int) or arg < 0:
            raise ValidationFailed(problem, details={"field": where})
        return GateSpec(TaskRule.MIN_COMPLETE, min_complete=arg)
    if key == "named":
        if not isinstance(arg, list) or not arg or not all(isinstance(n, str) and n for n in arg):
            raise ValidationFailed(problem, details={"field": where})
        return GateSpec(TaskRule.NAMED, names=tuple(arg))
    raise ValidationFailed(problem, details={"field": where})


def _require_list(raw: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = raw.get(key)
    if not isinstance(value, list):
        raise ValidationFailed(f"phaseConfig.{key} must be a list")
    return value


def _parse_phase(item: Any) -> PhaseDef:
    if not isinstance(item, Mapping):
        raise ValidationFailed("each phase must be an object {id, name, order}")
    refuse_unknown_keys(item, _PHASE_KEYS, "phaseConfig.phases[]")
    pid, name, order = item.get("id"), item.get("name", item.get("id")), item.get("order")
    if not isinstance(pid, str) or not pid.strip() or not isinstance(name, str):
        raise ValidationFailed("each phase needs a non-empty string id and name")
    if not isinstance(order, int) or isinstance(order, bool):
        raise ValidationFailed(f"phase '{pid}' needs an integer order")
    return PhaseDef(pid, name, order)


def _parse_deliverables(raw: Any, phase_ids: list[str]) -> dict[str, tuple[DeliverableDef, ...]]:
    if not isinstance(raw, Mapping):
        raise ValidationFailed("phaseConfig.deliverables must be an object {phase: [deliverables]}")
    parsed: dict[str, tuple[DeliverableDef, ...]] = {}
    for phase, items in raw.items():
        if phase not in phase_ids:
            raise ValidationFailed(f"deliverables given for unknown phase '{phase}'")
        if not isinstance(items, list):
            raise ValidationFailed(f"deliverables of phase '{phase}' must be a list")
        parsed[phase] = tuple(_parse_deliverable(phase, d) for d in items)
    return parsed


def _parse_deliverable(phase: str, item: Any) -> DeliverableDef:
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item["id"]:
        raise ValidationFailed(f"each deliverable of phase '{phase}' needs a string id")
    refuse_unknown_keys(item, _DELIVERABLE_KEYS, f"phaseConfig.deliverables.{phase}[]")
    name = item.get("name", item["id"])
    try:
        priority = DeliverablePriority(item.get("priority", "required"))
    except ValueError:
        raise ValidationFailed(
            f"deliverable '{item['id']}' has an unknown priority; "
            "use required, recommended or optional"
        ) from None
    return DeliverableDef(item["id"], str(name), priority)
