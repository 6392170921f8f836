"""The rules of snooze, claim, wait policy and the feedback thread (core, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.actors import Actor, Role
from core.config import ContractTimeoutConfig, load_config
from core.errors import ValidationFailed
from core.events import EventType, LoggedEvent
from core.feedback import AckVia, Delivery, acknowledgements, feedback_thread
from core.inbox import (
    InboxItem,
    InboxKind,
    claim_expiry_due,
    claim_holds,
    claim_mark,
    marks_from_events,
    snooze_holds,
    snooze_mark,
    with_marks,
)
from core.phases import WaitPolicyKind, parse_phase_config

NOW = datetime(2026, 12, 8, 12, tzinfo=UTC)
ITEM = InboxItem(
    "confirmation:t1", InboxKind.PHASE_CONFIRMATION, "c1", "C", "plan", NOW, revision="r1"
)
ANN = Actor("team", Role.REVIEWER, "Ann")


def test_a_snooze_holds_until_its_time_and_only_for_the_revision_it_was_taken_on() -> None:
    mark = snooze_mark(None, ITEM, "team", until=NOW + timedelta(hours=1), by="Ann", now=NOW)
    assert snooze_holds(mark, ITEM, NOW + timedelta(minutes=59))
    assert not snooze_holds(mark, ITEM, NOW + timedelta(hours=1))
    assert not snooze_holds(mark, replace(ITEM, revision="r2"), NOW)
    assert with_marks([ITEM], {ITEM.id: mark}, NOW, timedelta(hours=24)) == []
    with pytest.raises(ValidationFailed):
        snooze_mark(None, ITEM, "team", until=NOW, by="Ann", now=NOW)


def test_a_claim_lapses_after_the_expiry_and_its_lapse_is_announced_once() -> None:
    expiry = timedelta(hours=24)
    mark = claim_mark(None, ITEM, "team", "Ann", NOW)
    assert claim_holds(mark, NOW + expiry - timedelta(seconds=1), expiry)
    assert not claim_holds(mark, NOW + expiry, expiry)
    assert claim_expiry_due(mark, NOW + expiry, expiry)
    assert not claim_expiry_due(replace(mark, claim_expired_at=NOW + expiry), NOW + expiry, expiry)
    (shown,) = with_marks([ITEM], {ITEM.id: mark}, NOW, expiry)
    assert (shown.claimed_by, shown.claimed_at) == ("Ann", NOW)


def _event(seq: int, kind: EventType, actor: Actor = ANN, **payload: object) -> LoggedEvent:
    return LoggedEvent(seq, NOW + timedelta(seconds=seq), kind, "c1", actor, payload, "team")


def test_marks_fold_from_events_as_the_server_keeps_them() -> None:
    until = "2026-12-08T14:00:00.000Z"
    log = [
        _event(1, EventType.INBOX_SNOOZED, item_id=ITEM.id, until=until, revision="r1"),
        _event(2, EventType.INBOX_CLAIMED, item_id=ITEM.id, claimed_by="Ann"),
        _event(3, EventType.INBOX_CLAIM_EXPIRED, Actor("system", Role.SYSTEM), item_id=ITEM.id),
        _event(
            4,
            EventType.INBOX_ESCALATED,
            Actor("system", Role.SYSTEM),
            phase="plan",
            item_ids=["question:q"],
        ),
    ]
    marks = marks_from_events(log)
    assert marks[ITEM.id].snoozed_revision == "r1" and marks[ITEM.id].claimed_by is None
    assert marks["question:q"].escalated_at == NOW + timedelta(seconds=4)
    unsnoozed = marks_from_events([*log, _event(5, EventType.INBOX_UNSNOOZED, item_id=ITEM.id)])
    assert ITEM.id not in unsnoozed


def test_wait_policies_parse_strictly_and_the_settings_check_the_word() -> None:
    config = parse_phase_config(
        {
            "phases": [{"id": "plan", "name": "Plan", "order": 0}],
            "waitPolicies": {
                "plan": {"policy": "escalate", "afterHours": 2, "escalateTo": ["lead"]}
            },
        }
    )
    policy = config.wait_policies["plan"]
    assert (policy.kind, policy.after_hours, policy.escalate_to) == (
        WaitPolicyKind.ESCALATE,
        2.0,
        ("lead",),
    )
    assert parse_phase_config(config.to_wire()) == config
    with pytest.raises(ValidationFailed):
        parse_phase_config(
            {
                "phases": [{"id": "plan", "name": "P", "order": 0}],
                "waitPolicies": {"nope": {"policy": "wait"}},
            }
        )
    assert load_config(env={"CONTRACTS_ESCALATE_TO": "a, b"}).escalation_list == ("a", "b")
    with pytest.raises(ValidationFailed):
        load_config(env={"CONTRACTS_WAIT_POLICY": "later"})
    assert ContractTimeoutConfig().wait_policy == "timeout"


def test_the_feedback_thread_tracks_delivery_and_the_reply() -> None:
    supervisor = Actor("team", Role.SUPERVISOR)
    log = [
        _event(1, EventType.CHANGES_REQUESTED, feedback="Split it", feedback_id="f1", phase="plan"),
        _event(
            2,
            EventType.QUESTION_ASKED,
            supervisor,
            question_id="q",
            question="How many?",
            question_type="free_text",
        ),
    ]
    (entry,) = feedback_thread(log)
    assert entry.delivery is Delivery.NOT_YET_PICKED_UP and entry.requested_by == "Ann"
    assert entry.reply is not None and entry.reply.kind == "question"
    (ack,) = acknowledgements([entry], "c1", ["f1", "f1", "unknown"], AckVia.HEARTBEAT)
    acked = _event(3, EventType.FEEDBACK_ACKNOWLEDGED, supervisor, **ack.payload)
    (entry,) = feedback_thread([*log, acked])
    assert entry.delivery is Delivery.DELIVERED and entry.acknowledged_via == "heartbeat"
    assert acknowledgements([entry], "c1", ["f1"], AckVia.ACK) == []
