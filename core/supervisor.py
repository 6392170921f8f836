"""Supervisor lifecycle, heartbeats, persisted state and the restoration decision (spec §3).

A supervisor is the automation driving one contract. It reports its state in heartbeats
(§3.3), saves a `SupervisorPersistentState` (§3.4) and, after a daemon restart, asks the
server how to restore itself (§3.6): resume the saved state, fall back to its last
checkpoint, or start fresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from core.api.base import wire_alias
from core.clock import iso, parse_iso, utc
from core.errors import InvalidTransition, ValidationFailed
from core.model import Contract, Question, Task
from core.status import ContractStatus


class SupervisorState(StrEnum):
    INITIALIZING = "initializing"  # starting up or restoring; no work yet
    IDLE = "idle"  # running with nothing to do
    WORKING = "working"  # actively working (model call, planning, spawning tasks)
    WAITING_FOR_USER = "waiting_for_user"  # a question or confirmation waits on a human
    WAITING_FOR_TASKS = "waiting_for_tasks"  # waiting for child tasks to finish
    BLOCKED = "blocked"  # stopped on something outside the system
    COMPLETED = "completed"  # its work is done (terminal until a restart)
    FAILED = "failed"  # stopped by an error (terminal until a restart)
    INTERRUPTED = "interrupted"  # its daemon stopped or was killed; restorable

    @classmethod
    def parse(cls, value: Any) -> SupervisorState:
        """Parse a state in any case; anything else is a validation error listing the states."""
        if isinstance(value, str) and value.strip().lower() in _STATE_VALUES:
            return cls(value.strip().lower())
        raise ValidationFailed(
            f"Unknown supervisor state {value!r}. Valid states: {', '.join(_STATE_VALUES)}",
            details={"field": "state", "value": repr(value)},
        )

    @property
    def is_terminal(self) -> bool:
        return self in (SupervisorState.COMPLETED, SupervisorState.FAILED)


_STATE_VALUES = tuple(s.value for s in SupervisorState)
_ALL_STATES = frozenset(SupervisorState)
_RESTART_ONLY = frozenset({SupervisorState.INITIALIZING})

# A working supervisor may go anywhere; a finished one only back to the start (a restart).
SUPERVISOR_TRANSITIONS: Mapping[SupervisorState, frozenset[SupervisorState]] = {
    state: _RESTART_ONLY if state.is_terminal else _ALL_STATES for state in SupervisorState
}


class InvalidSupervisorMove(InvalidTransition):
    """INVALID_TRANSITION for a supervisor state, worded for a supervisor, not a contract."""

    def __init__(self, old: SupervisorState, new: SupervisorState, allowed: Sequence[str]) -> None:
        super().__init__(old.value, new.value, allowed)
        self.message = (
            f"Cannot move a supervisor from '{old}' to '{new}'; "
            f"allowed from '{old}': {', '.join(allowed) or 'none'}"
        )
        self.args = (self.message,)


def check_supervisor_move(old: SupervisorState, new: SupervisorState) -> None:
    """Raise unless `old → new` is in SUPERVISOR_TRANSITIONS.

    Staying in the same state is not a move and always passes: every heartbeat repeats the
    state, and a finished supervisor may keep reporting `completed`.
    """
    if old is new or new in SUPERVISOR_TRANSITIONS[old]:
        return
    allowed = [s.value for s in SupervisorState if s in SUPERVISOR_TRANSITIONS[old]]
    raise InvalidSupervisorMove(old, new, allowed)


def _field(raw: Mapping[str, Any], snake: str) -> Any:
    """A body field under its snake_case or camelCase key (snake_case wins if both)."""
    return raw[snake] if snake in raw else raw.get(wire_alias(snake))


# The store's column widths (ids are UUIDs; phase ids as in a phase config): checked here so
# both databases refuse the same input with VALIDATION_FAILED (PostgreSQL would fail the
# INSERT, SQLite would store it).
MAX_ID = 36
MAX_PHASE = 100
MAX_ACTIVITY = 10_000
MAX_WORKTREES = 1000  # per contract and heartbeat
MAX_PATH = 4096


def _required_text(raw: Mapping[str, Any], snake: str, longest: int) -> str:
    value = _field(raw, snake)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"'{snake}' must be a non-empty string", details={"field": snake})
    return _within(value, snake, longest)


def _within(value: str, snake: str, longest: int) -> str:
    if len(value) > longest:
        raise ValidationFailed(
            f"'{snake}' must be at most {longest} characters, got {len(value)}",
            details={"field": snake, "max_length": longest},
        )
    return value


def _progress(value: Any) -> int:
    # bool is an int subclass; `true` is not a percentage.
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationFailed(
            f"'progress' must be a whole number from 0 to 100, got {value!r}",
            details={"field": "progress", "value": repr(value)},
        )
    return value


def _id_list(value: Any, snake: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() and len(v) <= MAX_ID for v in value
    ):
        raise ValidationFailed(
            f"'{snake}' must be a list of ids (at most {MAX_ID} characters each)",
            details={"field": snake},
        )
    return tuple(value)


MAX_DAEMON = 200


def _optional_text(value: Any, snake: str, longest: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"'{snake}' must be a non-empty string", details={"field": snake})
    return _within(value, snake, longest)


def _worktrees(value: Any) -> tuple[str, ...] | None:
    """A heartbeat's `worktrees`: None when absent (nothing reported, nothing replaced)."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_WORKTREES
        or not all(isinstance(v, str) and v.strip() and len(v) <= MAX_PATH for v in value)
    ):
        raise ValidationFailed(
            f"'worktrees' must be a list of at most {MAX_WORKTREES} paths "
            f"(at most {MAX_PATH} characters each)",
            details={"field": "worktrees"},
        )
    return tuple(dict.fromkeys(value))


def _timestamp(value: Any, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        when = utc(value) if isinstance(value, datetime) else parse_iso(value)
    except (TypeError, ValueError, AttributeError):
        raise ValidationFailed(
            f"'timestamp' must be an ISO 8601 time, got {value!r}", details={"field": "timestamp"}
        ) from None
    # A supervisor whose clock runs ahead would otherwise look alive after it died.
    return min(when, utc(now))


def _contract_id(raw: Mapping[str, Any], from_url: str | None) -> str:
    in_body = _field(raw, "contract_id")
    if in_body is None and from_url is not None:
        return from_url
    body_id = _required_text(raw, "contract_id", MAX_ID)
    if from_url is not None and body_id != from_url:
        raise ValidationFailed(
            f"Heartbeat is for contract {body_id} but was sent to contract {from_url}",
            details={"field": "contract_id"},
        )
    return body_id


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One `SupervisorHeartbeat` (§3.3)."""

    task_id: str
    contract_id: str
    state: SupervisorState
    phase: str
    current_activity: str
    progress: int
    pending_task_ids: tuple[str, ...]
    timestamp: datetime
    daemon_id: str | None = None  # the daemon running this supervisor (dashboard figures)
    # The daemon's worktrees of this contract (paths), replacing those stored; None: not sent.
    worktrees: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], contract_id: str | None, now: datetime) -> Heartbeat:
        """Parse a body with snake_case or camelCase keys; every problem is VALIDATION_FAILED.

        `contract_id` is the one from the URL (None for a daemon's batch, where the body must
        name it); a body naming another contract is rejected. `timestamp` defaults to `now`
        and is capped at `now`; `progress` defaults to 0; unknown keys are ignored.
        """
        if not isinstance(raw, Mapping):
            raise ValidationFailed("A heartbeat must be a JSON object")
        activity = _field(raw, "current_activity")
        if activity is not None and not isinstance(activity, str):
            raise ValidationFailed("'current_activity' must be a string")
        return cls(
            task_id=_required_text(raw, "task_id", MAX_ID),
            contract_id=_contract_id(raw, contract_id),
            state=SupervisorState.parse(_field(raw, "state")),
            phase=_required_text(raw, "phase", MAX_PHASE),
            current_activity=_within(activity or "", "current_activity", MAX_ACTIVITY),
            progress=_progress(_field(raw, "progress")),
            pending_task_ids=_id_list(_field(raw, "pending_task_ids"), "pending_task_ids"),
            timestamp=_timestamp(_field(raw, "timestamp"), now),
            daemon_id=_optional_text(_field(raw, "daemon_id"), "daemon_id", MAX_DAEMON),
            worktrees=_worktrees(_field(raw, "worktrees")),
        )

    def to_transient_event_payload(self) -> dict[str, Any]:
        """The payload of the transient `heartbeat` monitor event."""
        return {
            "state": self.state.value,
            "activity": self.current_activity,
            "progress": self.progress,
        }

    def to_history_wire(self) -> dict[str, Any]:
        """One entry of `GET /contracts/{id}/supervisor/heartbeats`."""
        return {
            "timestamp": iso(self.timestamp),
            "state": self.state.value,
            "activity": self.current_activity,
            "progress": self.progress,
            "phase": self.phase,
        }


def is_alive(last_heartbeat: datetime | None, now: datetime, timeout: timedelta) -> bool:
    """Alive while the last heartbeat is at most `timeout` old; never heard from is dead."""
    return last_heartbeat is not None and utc(now) - utc(last_heartbeat) <= timeout


class SupervisorPersistentState(BaseModel):
    """The state a supervisor saves to survive a restart (§3.4); camelCase or snake_case in.

    Build it with `parse` at the edge: it turns pydantic's errors into VALIDATION_FAILED.
    """

    model_config = ConfigDict(
        alias_generator=wire_alias, validate_by_name=True, validate_by_alias=True, frozen=True
    )

    state: SupervisorState
    phase: Annotated[str, Field(max_length=MAX_PHASE)]
    conversation_history: list[dict[str, Any]] = []
    pending_questions: list[dict[str, Any]] = []
    spawned_task_ids: list[Annotated[str, Field(max_length=MAX_ID)]] = []
    waiting_on_task_ids: list[Annotated[str, Field(max_length=MAX_ID)]] = []
    last_checkpoint: dict[str, Any] | None = None
    current_activity: Annotated[str, Field(max_length=MAX_ACTIVITY)] = ""
    error: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def parse(cls, raw: Any) -> SupervisorPersistentState:
        try:
            return cls.model_validate(raw)
        except PydanticValidationError as exc:
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            raise ValidationFailed(
                f"Invalid supervisor state: {'; '.join(problems)}", details={"errors": problems}
            ) from None

    @field_validator("state", mode="before")
    @classmethod
    def _any_case_state(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("conversation_history")
    @classmethod
    def _messages_have_role_and_content(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for message in value:
            if not isinstance(message.get("role"), str) or not isinstance(
                message.get("content"), str
            ):
                raise ValueError("each message needs string 'role' and 'content'")
        return value

    @field_validator("last_checkpoint")
    @classmethod
    def _checkpoint_has_id(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and not (isinstance(value.get("id"), str) and value["id"].strip()):
            raise ValueError("a checkpoint needs a non-empty string 'id'")
        return value

    @field_validator("created_at", "updated_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        return utc(value)

    def to_wire(self) -> dict[str, Any]:
        """The specification's shape, key for key (snake_case), times in ISO with `Z`."""
        wire = self.model_dump(mode="json")
        wire["created_at"] = iso(self.created_at)
        wire["updated_at"] = iso(self.updated_at)
        return wire


def state_problems(
    saved: SupervisorPersistentState, contract: Contract, tasks: Sequence[Task]
) -> list[str]:
    """Why `saved` cannot be resumed for `contract` as it is now (empty: consistent).

    Checked: the phase exists in the contract's phase config (a phase behind the contract's
    current one is fine: a reviewer may have confirmed an advance while it was down); every
    waited-on and spawned id is a task of this contract; `updated_at` is not before
    `created_at`; `failed` carries an error text; and `completed` is not claimed while the
    contract is still open outside its terminal phase (in the terminal phase, completion
    may simply still be in its grace period).
    """
    known = {t.id for t in tasks if t.contract_id == contract.id}
    problems = [
        *_phase_problem(saved, contract),
        *_unknown_tasks("waiting on", saved.waiting_on_task_ids, known),
        *_unknown_tasks("spawned", saved.spawned_task_ids, known),
    ]
    if saved.updated_at < saved.created_at:
        problems.append("updated_at is before created_at")
    if saved.state is SupervisorState.FAILED and not (saved.error and saved.error.strip()):
        problems.append("state is failed but no error is recorded")
    return problems + _completed_problem(saved, contract)


def _phase_problem(saved: SupervisorPersistentState, contract: Contract) -> list[str]:
    config = contract.phase_config
    if config.has_phase(saved.phase):
        return []
    return [
        f"phase '{saved.phase}' is not a phase of this contract ({', '.join(config.phase_ids)})"
    ]


def _unknown_tasks(what: str, ids: Sequence[str], known: set[str]) -> list[str]:
    unknown = [i for i in ids if i not in known]
    return [f"{what} task(s) not of this contract: {', '.join(unknown)}"] if unknown else []


def _completed_problem(saved: SupervisorPersistentState, contract: Contract) -> list[str]:
    if saved.state is not SupervisorState.COMPLETED or not contract.status.is_open:
        return []
    if contract.in_terminal_phase:
        return []
    return [
        f"state is completed but the contract is still {contract.status} in phase "
        f"'{contract.phase}' (terminal phase: '{contract.terminal_phase}')"
    ]


class RestorationAction(StrEnum):
    START_FRESH = "start_fresh"  # nothing usable was saved
    RESUME = "resume"  # the saved state is consistent: continue from it
    FROM_CHECKPOINT = "from_checkpoint"  # the saved state is inconsistent: use its checkpoint


@dataclass(frozen=True, slots=True)
class RestorationPlan:
    action: RestorationAction
    state: SupervisorPersistentState | None  # None when starting fresh
    redeliver_questions: tuple[Question, ...]
    waiting_on_task_ids: tuple[str, ...]
    problems: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        """The answer of `GET /contracts/{id}/supervisor/restore`."""
        return {
            "action": self.action.value,
            "state": self.state.to_wire() if self.state else None,
            "redeliver_questions": [q.to_wire() for q in self.redeliver_questions],
            "waiting_on_task_ids": list(self.waiting_on_task_ids),
            "problems": list(self.problems),
        }


def decide_restoration(
    saved: SupervisorPersistentState | None,
    contract: Contract,
    tasks: Sequence[Task],
    pending_questions: Sequence[Question],
) -> RestorationPlan:
    """The §3.6 protocol as one decision.

    Not found → start fresh; inconsistent (see `state_problems`) → from the last checkpoint,
    or fresh when there is none; consistent → resume. Whatever the action, the contract's
    pending questions (oldest first) are redelivered — they still wait on a human — and the
    saved waited-on tasks that exist and are not finished are handed back. When starting
    fresh, `state` is None: an inconsistent state must not be half-used.
    """
    questions = _still_pending(contract, pending_questions)
    if saved is None:
        return RestorationPlan(
            RestorationAction.START_FRESH, None, questions, (), ("no saved state",)
        )
    problems = tuple(state_problems(saved, contract, tasks))
    waiting = _still_running(saved.waiting_on_task_ids, contract, tasks)
    if not problems:
        return RestorationPlan(RestorationAction.RESUME, saved, questions, waiting, ())
    if saved.last_checkpoint:
        return RestorationPlan(
            RestorationAction.FROM_CHECKPOINT, saved, questions, waiting, problems
        )
    return RestorationPlan(RestorationAction.START_FRESH, None, questions, waiting, problems)


def _still_pending(contract: Contract, questions: Sequence[Question]) -> tuple[Question, ...]:
    mine = [q for q in questions if q.contract_id == contract.id and q.is_pending]
    return tuple(sorted(mine, key=lambda q: (utc(q.asked_at), q.id)))


def _still_running(
    ids: Sequence[str], contract: Contract, tasks: Sequence[Task]
) -> tuple[str, ...]:
    open_ids = {t.id for t in tasks if t.contract_id == contract.id and not t.status.is_finished}
    return tuple(i for i in ids if i in open_ids)


# The states in which a supervisor is doing the contract's work: its first heartbeat or
# saved state in one of them is the "supervisor starts" trigger of the status table.
WORKING_STATES = frozenset(
    {
        SupervisorState.IDLE,
        SupervisorState.WORKING,
        SupervisorState.WAITING_FOR_USER,
        SupervisorState.WAITING_FOR_TASKS,
    }
)


def wrong_task(task_id: str, supervisor_task_id: str | None) -> str | None:
    """Why a heartbeat naming `task_id` is refused for a contract whose supervisor task is
    `supervisor_task_id` (None: it is that task). A made-up task must never look alive."""
    if supervisor_task_id is None:
        return f"task {task_id} is not this contract's supervisor: the contract has none"
    if task_id != supervisor_task_id:
        return f"task {task_id} is not this contract's supervisor task ({supervisor_task_id})"
    return None


def starts_contract(contract: Contract, state: SupervisorState) -> bool:
    """A `created` contract with a supervisor task starts (→ `active`) when its supervisor
    reports a working state (API.md transitions: created → active, "supervisor starts")."""
    return (
        contract.status is ContractStatus.CREATED
        and contract.supervisor_task_id is not None
        and state in WORKING_STATES
    )


def state_changed_payload(
    supervisor_task_id: str | None, old: SupervisorState | None, new: SupervisorState
) -> dict[str, Any] | None:
    """The `supervisor_state_changed` payload when the state really moved (else None)."""
    if old is new:
        return None
    return {
        "supervisor_task_id": supervisor_task_id,
        "old_state": old.value if old else None,
        "new_state": new.value,
    }
