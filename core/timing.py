"""Time rules (API.md, "Timing rules") and the use cases the background services run.

Every function takes `now`; none reads a clock. The services ask the predicate, then apply
the use case, whose `Outcome` the store writes in one transaction. Boundaries: "stale" and
"expired" heartbeats need an age strictly *over* the threshold (the specification's
`last_activity_at < now - threshold`); timeouts, grace and retention fire once their
duration has fully elapsed (`start + duration <= now`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.clock import iso, utc
from core.config import ContractTimeoutConfig
from core.contract_change import ContractChange
from core.events import EventType, NewEvent
from core.model import Contract, Question, QuestionStatus, Task
from core.outcome import Outcome
from core.phases import WaitPolicyKind
from core.status import ContractStatus
from core.work import stop_supervisor

INPUT_TIMEOUT_REASON = "input timeout"
GRACE_OVER_REASON = "completion grace period over"


def age(since: datetime, now: datetime) -> timedelta:
    """How long ago `since` was; naive times (as SQLite returns them) count as UTC."""
    return utc(now) - utc(since)


def stale_duration(contract: Contract, now: datetime, threshold: timedelta) -> timedelta | None:
    """How long an `active` contract has been without activity, if longer than `threshold`.

    Only `active` counts: a contract waiting for input, paused or blocked is quiet on purpose.
    """
    if contract.status is not ContractStatus.ACTIVE or contract.waiting_for is not None:
        return None  # `waiting_for` on an active contract: ready, waiting on a human
    idle = age(contract.last_activity_at, now)
    return idle if idle > threshold else None


def should_report_stale(contract: Contract, now: datetime, cfg: ContractTimeoutConfig) -> bool:
    """Stale, and not yet reported in this stale episode.

    An episode starts when the contract goes stale and ends with new activity: a marker
    older than the last activity belongs to an earlier episode, so it is reported again.
    """
    if stale_duration(contract, now, cfg.stale_threshold) is None:
        return False
    notified = contract.stale_notified_at
    return notified is None or utc(notified) < utc(contract.last_activity_at)


def detect_stale(contract: Contract, now: datetime, cfg: ContractTimeoutConfig) -> Outcome | None:
    """Mark a newly stale contract and log `stale_detected`, without a version bump.

    The trap: bumping the version here would make a reviewer's pending action on an
    untouched contract fail with VERSION_CONFLICT just because the detector ran.
    """
    if not should_report_stale(contract, now, cfg):
        return None
    idle = age(contract.last_activity_at, now)
    payload = {
        "last_activity": iso(contract.last_activity_at),
        "stale_duration_secs": int(idle.total_seconds()),
    }
    return Outcome(
        contract=replace(contract, stale_notified_at=now),
        events=(NewEvent(EventType.STALE_DETECTED, contract.id, payload),),
        activity_only=True,
        previous_version=contract.version,
    )


@dataclass(frozen=True, slots=True)
class WaitRule:
    """What waiting on a person does in the contract's phase: `kind`, after how long
    (`after`; None for `wait`), and whom an escalation names."""

    kind: WaitPolicyKind
    after: timedelta | None
    escalate_to: tuple[str, ...] = ()


def wait_rule(contract: Contract, cfg: ContractTimeoutConfig) -> WaitRule:
    """The phase's own policy (its phaseConfig's `waitPolicies`), else the settings'
    `wait_policy`; durations the policy does not give are the settings' (`input_timeout`
    for a timeout, `escalate_after` for an escalation)."""
    policy = contract.phase_config.wait_policies.get(contract.phase)
    kind = policy.kind if policy is not None else WaitPolicyKind(cfg.wait_policy)
    hours = policy.after_hours if policy is not None else None
    given = None if hours is None else timedelta(hours=hours)
    if kind is WaitPolicyKind.TIMEOUT:
        return WaitRule(kind, given or cfg.input_timeout)
    if kind is WaitPolicyKind.ESCALATE:
        names = (policy.escalate_to if policy is not None else ()) or cfg.escalation_list
        return WaitRule(kind, given or cfg.escalate_after, names)
    return WaitRule(kind, None)


def wait_deadline(contract: Contract, cfg: ContractTimeoutConfig) -> datetime | None:
    """When a contract waiting for input times out or escalates (None: it waits as long as
    it takes, or it does not wait for input)."""
    if contract.status is not ContractStatus.WAITING_FOR_INPUT:
        return None
    rule = wait_rule(contract, cfg)
    return None if rule.after is None else contract.status_changed_at + rule.after


def input_timed_out(contract: Contract, now: datetime, cfg: ContractTimeoutConfig) -> bool:
    """`waiting_for_input` for the whole input timeout (counted from entering that status),
    in a phase whose wait policy is `timeout`."""
    rule = wait_rule(contract, cfg)
    if rule.kind is not WaitPolicyKind.TIMEOUT:
        return False
    deadline = wait_deadline(contract, cfg)
    return deadline is not None and utc(deadline) <= utc(now)


def escalation_due(
    contract: Contract, now: datetime, cfg: ContractTimeoutConfig
) -> WaitRule | None:
    """The escalation rule when a contract waiting for input in an `escalate` phase has
    waited past its time (None: not due, or another policy)."""
    rule = wait_rule(contract, cfg)
    if rule.kind is not WaitPolicyKind.ESCALATE:
        return None
    deadline = wait_deadline(contract, cfg)
    return rule if deadline is not None and utc(deadline) <= utc(now) else None


def apply_input_timeout(
    contract: Contract, questions: Sequence[Question], now: datetime, cfg: ContractTimeoutConfig
) -> Outcome | None:
    """`waiting_for_input` → `paused`; the contract's pending questions → `timed_out`.

    A pending phase confirmation is cleared as well, like the questions: everything the
    contract waited for has expired together. Keeping it would leave an `active` contract
    (after resume) carrying a confirmation no status says it waits for; the supervisor asks
    for the advance again once resumed.
    """
    if not input_timed_out(contract, now, cfg):
        return None
    timed_out = _pending_timed_out(contract, questions)
    change = ContractChange(contract)
    change.set(pending_confirmation=None)
    change.move(ContractStatus.PAUSED, now, timed_out, reason=INPUT_TIMEOUT_REASON)
    change.events.extend(_question_timed_out(q) for q in timed_out)
    return change.outcome(now, questions=timed_out)


def _pending_timed_out(contract: Contract, questions: Sequence[Question]) -> tuple[Question, ...]:
    # Questions of other contracts are ignored, so a caller may pass a wider list.
    mine = (q for q in questions if q.contract_id == contract.id and q.is_pending)
    return tuple(replace(q, status=QuestionStatus.TIMED_OUT) for q in mine)


def _question_timed_out(question: Question) -> NewEvent:
    return NewEvent(
        EventType.QUESTION_TIMED_OUT, question.contract_id, {"question_id": question.id}
    )


def completion_grace_over(contract: Contract, now: datetime, cfg: ContractTimeoutConfig) -> bool:
    """`completing` for the whole grace period, counted from the completion detection."""
    if contract.status is not ContractStatus.COMPLETING:
        return False
    started = contract.completion_detected_at or contract.status_changed_at
    return age(started, now) >= cfg.completion_grace_period


def apply_completion_grace(
    contract: Contract, now: datetime, cfg: ContractTimeoutConfig, tasks: Sequence[Task] = ()
) -> Outcome | None:
    """`completing` → `completed` once the grace period is over (None before that); the
    supervisor task of `tasks` is stopped (`core.work.stop_supervisor`, spec §2.2.3 step 9)."""
    if not completion_grace_over(contract, now, cfg):
        return None
    change = ContractChange(contract)
    change.move(ContractStatus.COMPLETED, now, (), reason=GRACE_OVER_REASON)
    stopped = stop_supervisor(change, tasks, now)  # step 9: the supervisor is done
    return change.outcome(now, tasks=stopped)


def archive_expired(contract: Contract, now: datetime, cfg: ContractTimeoutConfig) -> bool:
    """An archived contract kept for the whole retention period: due for deletion."""
    if contract.status is not ContractStatus.ARCHIVED:
        return False
    return age(contract.status_changed_at, now) >= cfg.archive_retention


def heartbeat_expired(timestamp: datetime, now: datetime, cfg: ContractTimeoutConfig) -> bool:
    """A stored heartbeat older than the heartbeat retention (24 h by default)."""
    return age(timestamp, now) > cfg.heartbeat_retention
