"""The reviewer's inbox: every item that waits on a human, derived from contracts, no I/O.

One rule for the server's `GET /inbox`, the CLI and the desktop's Inbox page (which builds
it from the replica). Who waits on the reviewer is `core.attention.waiting_on_reviewer`'s
answer; stale is `core.timing.stale_duration`; a ready phase is `core.progress`'s NOTIFY.

Items, oldest first (by `since`, then id):
- `question` — one per pending question of a contract waiting for input
  (`question:<questionId>`, since it was asked);
- `phase_confirmation` — the open guarded-advance request of a contract waiting for input
  (`confirmation:<transitionId>`, since it was requested);
- `completion_confirmation` — a contract in `completing` (`completion:<contractId>`, since
  the completion was detected);
- `phase_ready` — an active contract whose gate is met but which a human advances
  (auto-advance off: `phase_ready:<contractId>:<phase>`, since its last activity);
- `stale` — an active contract quiet past the threshold, held up by its supervisor
  (`stale:<contractId>`, since its last activity; `blocked_by` says who holds it up). A
  ready phase is not stale: its quiet is the reviewer's, and it is listed as `phase_ready`.

Ids are stable: the same waiting thing keeps its id across calls and devices, so a snooze,
a claim or a selection can name it. `deadline` is when the waiting ends on its own (input
timeout pauses the contract, the completion grace completes it) when a config is given.

Snooze and claim live on the server as `InboxMark`s (one per item and owner); `with_marks`
lays them on the derived items, and the rules for them are here:
- a snooze hides an item until its time is up, or until the item changes: each item has a
  `revision` (the evidence digest of a confirmation, the activity time of a ready or stale
  contract, ...) and a snooze holds only for the revision it was taken on;
- a claim shows who is on the item and since when; it lapses `claim_expiry` after it was
  taken, and the sweep then announces the expiry once (`claim_expiry_due`) so the item
  alarms again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from core.attention import waiting_on_reviewer
from core.clock import iso, parse_iso, utc
from core.config import ContractTimeoutConfig, parse_duration
from core.errors import ValidationFailed
from core.event_payloads import (
    EventPayload,
    InboxClaimed,
    InboxClaimExpired,
    InboxEscalated,
    InboxSnoozed,
    InboxUnclaimed,
    InboxUnsnoozed,
    payload_of,
)
from core.events import EventType, LoggedEvent, NewEvent
from core.evidence import evidence_of
from core.model import Contract, Question, Task
from core.progress import ProgressAction, ProgressSettings, decide_progress
from core.status import ContractStatus, WaitingFor
from core.timing import stale_duration, wait_deadline

# Who holds a stale contract up: an active contract waits on nobody but its supervisor.
STALE_BLOCKER = "supervisor"


class InboxKind(StrEnum):
    PHASE_CONFIRMATION = "phase_confirmation"
    QUESTION = "question"
    COMPLETION_CONFIRMATION = "completion_confirmation"
    PHASE_READY = "phase_ready"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: str
    kind: InboxKind
    contract_id: str
    contract_name: str
    phase: str
    since: datetime
    question_id: str | None = None
    transition_id: str | None = None
    snoozed_until: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    deadline: datetime | None = None
    blocked_by: str | None = None
    escalated: bool = False
    # What the item is about right now: a snooze taken on another revision no longer holds.
    revision: str = ""

    def to_wire(self) -> dict[str, Any]:
        """The API's inbox item (camelCase; optional fields null where they do not apply)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "contractId": self.contract_id,
            "contractName": self.contract_name,
            "phase": self.phase,
            "since": iso(self.since),
            "questionId": self.question_id,
            "transitionId": self.transition_id,
            "snoozedUntil": iso(self.snoozed_until),
            "claimedBy": self.claimed_by,
            "claimedAt": iso(self.claimed_at),
            "deadline": iso(self.deadline),
            "blockedBy": self.blocked_by,
            "escalated": self.escalated,
        }


def question_item_id(question_id: str) -> str:
    return f"question:{question_id}"


def confirmation_item_id(transition_id: str) -> str:
    return f"confirmation:{transition_id}"


def completion_item_id(contract_id: str) -> str:
    return f"completion:{contract_id}"


def phase_ready_item_id(contract_id: str, phase: str) -> str:
    return f"phase_ready:{contract_id}:{phase}"


def stale_item_id(contract_id: str) -> str:
    return f"stale:{contract_id}"


def inbox_items(
    contracts: Iterable[Contract],
    now: datetime,
    stale_threshold: timedelta,
    *,
    questions: Iterable[Question] = (),
    tasks: Iterable[Task] | None = None,
    config: ContractTimeoutConfig | None = None,
) -> list[InboxItem]:
    """Every item waiting on the reviewer among `contracts`, oldest first.

    `questions` may hold any questions (only pending ones of a waiting contract count);
    `tasks` are needed for `phase_ready` (None: not derived, e.g. a caller that did not load
    tasks). `config` gives the deadlines and the auto-advance switches (None: no deadlines,
    default switches).
    """
    by_contract: dict[str, list[Question]] = {}
    for q in questions:
        if q.is_pending:
            by_contract.setdefault(q.contract_id, []).append(q)
    tasks_of: dict[str, list[Task]] | None = None
    if tasks is not None:
        tasks_of = {}
        for t in tasks:
            tasks_of.setdefault(t.contract_id, []).append(t)
    items: list[InboxItem] = []
    for contract in contracts:
        pending = by_contract.get(contract.id, [])
        work = None if tasks_of is None else tasks_of.get(contract.id, [])
        items.extend(contract_items(contract, now, stale_threshold, pending, work, config))
    return sorted(items, key=lambda item: (utc(item.since), item.id))


def contract_items(  # noqa: PLR0917 - the inputs of one contract's items
    contract: Contract,
    now: datetime,
    stale_threshold: timedelta,
    questions: Sequence[Question] = (),
    tasks: Sequence[Task] | None = None,
    config: ContractTimeoutConfig | None = None,
) -> list[InboxItem]:
    """The items of one contract (unordered); `questions` of other contracts are ignored."""
    waits = waiting_on_reviewer(contract)
    if waits is WaitingFor.COMPLETION_CONFIRMATION:
        return [_completion(contract, config)]
    if waits is not None and waits is not WaitingFor.PHASE_READY:
        return _waiting_for_input(contract, questions, config)
    # A ready phase waits on the reviewer, so its quiet is not the supervisor's: not stale.
    # The server marks it (`waitingFor: phase_ready`); a contract not marked yet (an older
    # server, a replica before the event) is judged from its tasks.
    marked = waits is WaitingFor.PHASE_READY
    ready = None if tasks is None or marked else ready_phase(contract, tasks, config)
    if marked or ready is not None:
        ident = phase_ready_item_id(contract.id, contract.phase)
        since = contract.last_activity_at
        return [_item(contract, InboxKind.PHASE_READY, ident, since, revision=iso(since) or "")]
    if stale_duration(contract, now, stale_threshold) is not None:
        ident = stale_item_id(contract.id)
        since = contract.last_activity_at
        return [
            _item(
                contract,
                InboxKind.STALE,
                ident,
                since,
                blocked_by=STALE_BLOCKER,
                revision=iso(since) or "",
            )
        ]
    return []


def ready_phase(
    contract: Contract, tasks: Sequence[Task], config: ContractTimeoutConfig | None = None
) -> str | None:
    """The next phase when the current one is ready but a human advances it (else None).

    The progress flow's NOTIFY with a next phase: the gate is met and auto-advance is off
    (globally, or for the phase's gate). The terminal phase has no next phase.
    """
    if contract.status is not ContractStatus.ACTIVE:
        return None
    cfg = config or ContractTimeoutConfig()
    settings = ProgressSettings(cfg.auto_advance_phases, cfg.auto_complete_enabled)
    decision = decide_progress(contract, tasks, settings)
    if decision.action is ProgressAction.NOTIFY and decision.next_phase is not None:
        return decision.next_phase
    return None


def _waiting_for_input(
    contract: Contract, questions: Sequence[Question], config: ContractTimeoutConfig | None
) -> list[InboxItem]:
    # The wait policy (timeout or escalation) holds for the whole contract: every item it
    # waits for shares the deadline.
    deadline = None if config is None else wait_deadline(contract, config)
    items = [
        _item(
            contract,
            InboxKind.QUESTION,
            question_item_id(q.id),
            q.asked_at,
            question_id=q.id,
            deadline=deadline,
            revision=q.question,
        )
        for q in questions
        if q.contract_id == contract.id and q.is_pending
    ]
    pending = contract.pending_confirmation
    evidence = evidence_of(contract)
    if pending is not None and evidence is not None:
        items.append(
            _item(
                contract,
                InboxKind.PHASE_CONFIRMATION,
                confirmation_item_id(pending.transition_id),
                pending.requested_at,
                transition_id=pending.transition_id,
                deadline=deadline,
                revision=evidence.digest,
            )
        )
    return items


def _completion(contract: Contract, config: ContractTimeoutConfig | None) -> InboxItem:
    since = contract.completion_detected_at or contract.status_changed_at
    deadline = None if config is None else since + config.completion_grace_period
    ident = completion_item_id(contract.id)
    return _item(
        contract,
        InboxKind.COMPLETION_CONFIRMATION,
        ident,
        since,
        deadline=deadline,
        revision=iso(since) or "",
    )


def _item(
    contract: Contract,
    kind: InboxKind,
    ident: str,
    since: datetime,
    *,
    question_id: str | None = None,
    transition_id: str | None = None,
    deadline: datetime | None = None,
    blocked_by: str | None = None,
    revision: str = "",
) -> InboxItem:
    return InboxItem(
        id=ident,
        kind=kind,
        contract_id=contract.id,
        contract_name=contract.name,
        phase=contract.phase,
        since=since,
        question_id=question_id,
        transition_id=transition_id,
        deadline=deadline,
        blocked_by=blocked_by,
        revision=revision,
    )


# --- snooze and claim -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxMark:
    """What reviewers of `owner` did to one item: a snooze, a claim, or both (the store's row).

    `snoozed_revision` is the item's revision when snoozed; `claim_expired_at` is set once
    the claim's expiry was announced.
    """

    item_id: str
    owner: str
    contract_id: str
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    snoozed_revision: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    claim_expired_at: datetime | None = None
    escalated_at: datetime | None = None  # the wait policy escalated the item then

    @property
    def is_empty(self) -> bool:
        """Nothing left to keep: no snooze, no claim, no escalation."""
        return self.snoozed_until is None and self.claimed_at is None and self.escalated_at is None


def snooze_holds(mark: InboxMark | None, item: InboxItem, now: datetime) -> bool:
    """Whether `item` is snoozed now: the time is not up and the item has not changed."""
    if mark is None or mark.snoozed_until is None:
        return False
    return utc(now) < utc(mark.snoozed_until) and mark.snoozed_revision == item.revision


def claim_holds(mark: InboxMark | None, now: datetime, claim_expiry: timedelta) -> bool:
    """Whether someone is on the item now: claimed, and the claim has not lapsed."""
    if mark is None or mark.claimed_at is None or mark.claimed_by is None:
        return False
    return utc(now) < utc(mark.claimed_at) + claim_expiry


def claim_expiry_due(mark: InboxMark, now: datetime, claim_expiry: timedelta) -> bool:
    """Whether the sweep must announce that this claim lapsed (once per claim)."""
    if mark.claimed_at is None or mark.claim_expired_at is not None:
        return False
    return not claim_holds(mark, now, claim_expiry)


def with_mark(
    item: InboxItem, mark: InboxMark | None, now: datetime, claim_expiry: timedelta
) -> InboxItem:
    """The item as the reviewers see it: the snooze and the claim that still hold."""
    snoozed = snooze_holds(mark, item, now)
    claimed = claim_holds(mark, now, claim_expiry)
    return replace(
        item,
        snoozed_until=mark.snoozed_until if mark is not None and snoozed else None,
        claimed_by=mark.claimed_by if mark is not None and claimed else None,
        claimed_at=mark.claimed_at if mark is not None and claimed else None,
        escalated=mark is not None and mark.escalated_at is not None,
    )


def with_marks(
    items: Iterable[InboxItem],
    marks: Mapping[str, InboxMark],
    now: datetime,
    claim_expiry: timedelta,
    *,
    include_snoozed: bool = False,
) -> list[InboxItem]:
    """`items` with their marks laid on, in the same order; snoozed ones left out unless
    `include_snoozed`."""
    marked = [with_mark(item, marks.get(item.id), now, claim_expiry) for item in items]
    return [item for item in marked if include_snoozed or item.snoozed_until is None]


# "Snooze until tomorrow" means the next morning at this local hour.
TOMORROW_HOUR = 9


def snooze_until(when: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """When a snooze of `when` taken at `now` ends: a duration ("1h", "30m", "2h 5m"),
    "tomorrow" (TOMORROW_HOUR o'clock the next day, in `tz`, default the local zone), or an
    ISO 8601 time (a time without a zone is in `tz`). The answer is aware and in the future.
    """
    text = when.strip()
    local = now.astimezone(tz)
    if text.lower() == "tomorrow":
        next_day = (local + timedelta(days=1)).date()
        hour = time(TOMORROW_HOUR)
        return datetime.combine(next_day, hour, tzinfo=local.tzinfo)
    try:
        until = now + parse_duration(text)
    except ValidationFailed:
        until = _iso_time(text, local.tzinfo)
    if utc(until) <= utc(now):
        raise ValidationFailed(
            f"Snooze until {text!r} is not in the future", details={"field": "until"}
        )
    return until


def _iso_time(text: str, tz: tzinfo | None) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"Invalid snooze time {text!r}: use a duration (1h, 30m), 'tomorrow' or an ISO "
            "8601 time (2026-12-09T09:00)",
            details={"field": "until", "value": text},
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def snooze_mark(
    mark: InboxMark | None, item: InboxItem, owner: str, *, until: datetime, by: str, now: datetime
) -> InboxMark:
    """The mark after `by` snoozes `item` until `until` (which must be in the future)."""
    if utc(until) <= utc(now):
        raise ValidationFailed(
            "'until' must be in the future", details={"field": "until", "value": iso(until)}
        )
    base = mark or InboxMark(item.id, owner, item.contract_id)
    return replace(base, snoozed_until=until, snoozed_by=by, snoozed_revision=item.revision)


def claim_mark(
    mark: InboxMark | None, item: InboxItem, owner: str, by: str, now: datetime
) -> InboxMark:
    """The mark after `by` claims `item` (a new claim restarts the expiry)."""
    base = mark or InboxMark(item.id, owner, item.contract_id)
    return replace(base, claimed_by=by, claimed_at=now, claim_expired_at=None)


def unsnoozed(mark: InboxMark) -> InboxMark:
    return replace(mark, snoozed_until=None, snoozed_by=None, snoozed_revision=None)


def unclaimed(mark: InboxMark) -> InboxMark:
    return replace(mark, claimed_by=None, claimed_at=None, claim_expired_at=None)


# --- the events of snooze and claim ---------------------------------------------------------


def snoozed_event(item: InboxItem, until: datetime) -> NewEvent:
    payload = InboxSnoozed(item_id=item.id, until=iso(until) or "", revision=item.revision)
    return NewEvent(EventType.INBOX_SNOOZED, item.contract_id, payload.to_wire())


def unsnoozed_event(item: InboxItem) -> NewEvent:
    payload = InboxUnsnoozed(item_id=item.id)
    return NewEvent(EventType.INBOX_UNSNOOZED, item.contract_id, payload.to_wire())


def claimed_event(item: InboxItem, by: str) -> NewEvent:
    payload = InboxClaimed(item_id=item.id, claimed_by=by)
    return NewEvent(EventType.INBOX_CLAIMED, item.contract_id, payload.to_wire())


def unclaimed_event(item: InboxItem, had: str | None) -> NewEvent:
    payload = InboxUnclaimed(item_id=item.id, claimed_by=had)
    return NewEvent(EventType.INBOX_UNCLAIMED, item.contract_id, payload.to_wire())


def escalated_marks(
    items: Iterable[InboxItem], marks: Mapping[str, InboxMark], owner: str, now: datetime
) -> list[InboxMark]:
    """The marks of `items` not escalated yet, now escalated (the sweep writes them)."""
    escalated = []
    for item in items:
        mark = marks.get(item.id) or InboxMark(item.id, owner, item.contract_id)
        if mark.escalated_at is None:
            escalated.append(replace(mark, escalated_at=now))
    return escalated


def escalated_event(
    contract_id: str,
    phase: str,
    item_ids: Sequence[str],
    escalate_to: Sequence[str],
    waited: timedelta,
) -> NewEvent:
    payload = InboxEscalated(
        phase=phase,
        item_ids=tuple(item_ids),
        escalate_to=tuple(escalate_to),
        waited_secs=int(waited.total_seconds()),
    )
    return NewEvent(EventType.INBOX_ESCALATED, contract_id, payload.to_wire())


def claim_expired_event(mark: InboxMark) -> NewEvent:
    payload = InboxClaimExpired(
        item_id=mark.item_id, claimed_by=mark.claimed_by, claimed_at=iso(mark.claimed_at)
    )
    return NewEvent(EventType.INBOX_CLAIM_EXPIRED, mark.contract_id, payload.to_wire())


def marks_from_events(events: Iterable[LoggedEvent]) -> dict[str, InboxMark]:
    """The marks the snooze, claim and escalation events leave, by item id (events in seq
    order; other types are skipped): what a replica, which holds the log but not the server's
    marks table, lays on the items it derives. The owner is each event's."""
    marks: dict[str, InboxMark] = {}
    for event in events:
        payload = payload_of(event.type, event.payload)
        owner = event.owner or event.actor.owner
        if isinstance(payload, InboxEscalated):
            for escalated in payload.item_ids:
                mark = marks.get(escalated) or InboxMark(escalated, owner, event.contract_id)
                marks[escalated] = replace(mark, escalated_at=event.at)
            continue
        item_id = getattr(payload, "item_id", None)
        if not isinstance(item_id, str):
            continue
        mark = marks.get(item_id) or InboxMark(item_id, owner, event.contract_id)
        marks[item_id] = _marked(mark, payload, event)
    return {ident: mark for ident, mark in marks.items() if not mark.is_empty}


def _marked(mark: InboxMark, payload: EventPayload, event: LoggedEvent) -> InboxMark:
    if isinstance(payload, InboxSnoozed):
        until = parse_iso(payload.until)
        return replace(
            mark,
            snoozed_until=until,
            snoozed_by=event.actor.name,
            snoozed_revision=payload.revision,
        )
    if isinstance(payload, InboxUnsnoozed):
        return unsnoozed(mark)
    if isinstance(payload, InboxClaimed):
        return replace(
            mark, claimed_by=payload.claimed_by, claimed_at=event.at, claim_expired_at=None
        )
    if isinstance(payload, InboxUnclaimed | InboxClaimExpired):
        return unclaimed(mark)
    return mark
