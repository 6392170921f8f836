"""The one projection of events every reader asks: typed payloads, status after, activity,
and the sentence shown to a person."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.actors import SYSTEM
from core.event_payloads import (
    PhaseChanged,
    QuestionAsked,
    RawPayload,
    StatusChanged,
    payload_of,
    payload_type,
)
from core.events import EventType, LoggedEvent
from core.projection import ACTIVITY_EVENTS, StatusBook, describe, is_activity, status_after

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def logged(kind: EventType, contract_id: str = "c1", **payload: Any) -> LoggedEvent:
    return LoggedEvent(1, AT, kind, contract_id, SYSTEM, payload)


def test_every_event_type_has_a_payload_type() -> None:
    assert [t for t in EventType if payload_type(t) is None] == []


def test_a_payload_reads_its_fields_and_writes_them_back() -> None:
    wire = {"old_phase": "research", "new_phase": "specify", "comment": "ok", "forced": True}
    payload = payload_of(EventType.PHASE_CHANGED, wire)
    assert payload == PhaseChanged("research", "specify", "ok", forced=True)
    assert payload.to_wire() == wire


def test_choices_come_back_as_a_list_on_the_wire() -> None:
    wire = {"question_id": "q", "question": "Which?", "question_type": "choice",
            "choices": ["a", "b"], "phase": "plan"}  # fmt: skip
    payload = payload_of(EventType.QUESTION_ASKED, wire)
    assert isinstance(payload, QuestionAsked)
    assert payload.choices == ("a", "b")
    assert payload.to_wire() == wire


def test_envelope_fields_and_newer_additions_are_ignored() -> None:
    wire = {"seq": 4, "at": "x", "old_status": "active", "new_status": "paused", "extra": 1}
    assert payload_of("status_changed", wire) == StatusChanged("active", "paused")


@pytest.mark.parametrize(
    ("kind", "wire"),
    [
        ("item_from_the_future", {"a": 1}),  # a newer server's event type
        ("status_changed", {"old_status": "active"}),  # a required field missing
        ("status_changed", {"old_status": None, "new_status": "paused"}),  # null text
        ("heartbeat", {"state": "working", "progress": "half"}),  # text for a number
        ("task_completed", {"task_id": "t", "task_name": "x", "success": "yes"}),
    ],
)
def test_what_this_version_cannot_read_stays_raw(kind: str, wire: dict[str, Any]) -> None:
    payload = payload_of(kind, wire)
    assert payload == RawPayload(wire)
    assert payload.to_wire() == wire


@given(st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text(max_size=8)))
def test_no_payload_ever_crashes_a_reader(wire: dict[str, Any]) -> None:
    for kind in [*EventType, "unknown_kind"]:
        payload_of(kind, wire)
        describe(kind, wire)


def test_status_after_moves_only_on_creation_status_change_and_deletion() -> None:
    created = logged(EventType.CONTRACT_CREATED, name="n", contract_type="feature",
                     phase="research", status="created")  # fmt: skip
    assert status_after(created, None) == "created"
    moved = logged(EventType.STATUS_CHANGED, old_status="created", new_status="active")
    assert status_after(moved, "created") == "active"
    assert status_after(logged(EventType.TASK_CREATED, task_id="t", task_name="x"), "active") == (
        "active"
    )
    assert status_after(logged(EventType.CONTRACT_DELETED, name="n"), "active") is None


def test_the_status_book_does_not_invent_contracts_it_never_saw() -> None:
    book = StatusBook()
    assert book.track(logged(EventType.TASK_CREATED, "c9", task_id="t", task_name="x")) is None
    assert not book.knows("c9")
    book.learn({"c9": "active"})
    paused = logged(EventType.STATUS_CHANGED, "c9", old_status="active", new_status="paused")
    assert book.track(paused) == "paused"
    assert book.track(logged(EventType.CONTRACT_DELETED, "c9")) is None
    assert book.knows("c9") and book.get("c9") is None


def test_activity_is_the_timing_rules_list() -> None:
    assert is_activity(EventType.QUESTION_ANSWERED)
    assert is_activity("phase_changed")
    assert not is_activity(EventType.STATUS_CHANGED)
    assert not is_activity(EventType.STALE_DETECTED)
    assert EventType.HEARTBEAT not in ACTIVITY_EVENTS  # transient: the server records it


@pytest.mark.parametrize(
    ("kind", "wire", "sentence"),
    [
        ("phase_changed", {"old_phase": "plan", "new_phase": "execute", "forced": True},
         "moved phase plan → execute (forced)"),
        ("status_changed", {"old_status": "active", "new_status": "paused", "reason": "lunch"},
         "changed status active → paused (lunch)"),
        ("question_answered", {"question_id": "q", "answer": "blue-green"},
         "answered: blue-green"),
        ("task_completed", {"task_id": "t", "task_name": "build", "success": False},
         "failed task build"),
        ("changes_requested", {"feedback": "add tests"}, "requested changes: add tests"),
        ("question_timed_out", {"question_id": "q"}, "question timed out"),
        ("item_from_the_future", {}, "item from the future"),
    ],
)  # fmt: skip
def test_describe_gives_one_sentence(kind: str, wire: dict[str, Any], sentence: str) -> None:
    assert describe(kind, wire) == sentence


def test_every_declared_field_type_is_checked_on_read() -> None:
    from dataclasses import fields

    from core.event_payloads import _ADMITS

    declared = {str(f.type) for t in EventType if (cls := payload_type(t)) for f in fields(cls)}
    assert declared <= set(_ADMITS)
