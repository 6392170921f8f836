"""NewEvent / LoggedEvent are generic over the typed payloads of core.event_payloads."""

from __future__ import annotations

from typing import assert_type

from core.actors import SYSTEM
from core.event_payloads import PhaseChanged, RawPayload, StatusChanged
from core.events import EventType, LoggedEvent, NewEvent, event_of, status_changed
from tests.core.factories import T0


def test_an_event_of_a_typed_payload_keeps_its_type_and_the_wire_form() -> None:
    event = event_of("c1", PhaseChanged("plan", "execute", comment="ship"))
    assert_type(event, NewEvent[PhaseChanged])
    assert event.type is EventType.PHASE_CHANGED
    assert event.data == PhaseChanged("plan", "execute", comment="ship")
    assert event.payload["new_phase"] == "execute"  # the flat form the log stores


def test_the_status_change_helper_is_typed_and_its_wire_unchanged() -> None:
    event = status_changed("c1", "active", "paused", "lunch")
    assert event.data.new_status == "paused"
    assert dict(event.payload) == {
        "old_status": "active",
        "new_status": "paused",
        "reason": "lunch",
    }


def test_a_logged_event_of_another_version_reads_as_raw() -> None:
    newer = LoggedEvent(1, T0, EventType.PHASE_CHANGED, "c1", SYSTEM, {"new_phase": 3})
    assert isinstance(newer.data, RawPayload)
    known = LoggedEvent(
        2, T0, EventType.STATUS_CHANGED, "c1", SYSTEM, {"old_status": "a", "new_status": "b"}
    )
    assert isinstance(known.data, StatusChanged)
