"""The evidence of a pending confirmation and its digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from core.errors import ValidationFailed
from core.evidence import (
    MAX_SUMMARY_BYTES,
    DeliverableState,
    PhaseEvidence,
    check_note,
    evidence_changes,
    evidence_of,
)
from core.model import Contract, DeliverableNote, PendingPhaseConfirmation
from core.phases import ContractType
from core.status import ContractStatus, WaitingFor
from tests.core.factories import T0, make_contract


def _pending(**overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "contract_type": ContractType.SPECIFICATION,
        "phase": "research",
        "status": ContractStatus.WAITING_FOR_INPUT,
        "waiting_for": WaitingFor.PHASE_CONFIRMATION,
        "pending_confirmation": PendingPhaseConfirmation("tr-1", "specify", T0),
    }
    fields.update(overrides)
    return make_contract(**fields)


def test_no_pending_confirmation_has_no_evidence() -> None:
    assert evidence_of(make_contract()) is None


def test_evidence_lists_deliverables_with_state_url_summary_and_what_is_missing() -> None:
    bare = evidence_of(_pending())
    assert bare is not None
    assert (bare.phase, bare.next_phase, bare.transition_id) == ("research", "specify", "tr-1")
    assert [(d.id, d.state) for d in bare.deliverables] == [
        ("research-notes", DeliverableState.MISSING)
    ]
    assert bare.missing == ("Deliverable: research-notes",)
    note = DeliverableNote("https://example.org/notes", "# Notes\n\nThree options.")
    done = evidence_of(
        _pending(
            completed_deliverables={"research": ("research-notes",)},
            deliverable_notes={"research": {"research-notes": note}},
        )
    )
    assert done is not None
    row = done.deliverables[0]
    assert (row.state, row.url, row.summary) == (DeliverableState.DONE, note.url, note.summary)
    assert done.missing == ()


def test_the_digest_is_sha256_of_the_canonical_json_and_ignores_the_transition_id() -> None:
    evidence = evidence_of(_pending())
    assert evidence is not None
    text = json.dumps(evidence.canonical(), sort_keys=True, separators=(",", ":"))
    assert evidence.digest == hashlib.sha256(text.encode()).hexdigest()
    other = evidence_of(
        _pending(pending_confirmation=PendingPhaseConfirmation("tr-2", "specify", T0))
    )
    assert other is not None and other.digest == evidence.digest
    # Unrelated changes (version, activity, tasks are not evidence) keep the digest.
    busy = evidence_of(_pending(version=9, last_activity_at=T0.replace(hour=15)))
    assert busy is not None and busy.digest == evidence.digest


def test_a_new_summary_changes_the_digest_and_the_change_names_it() -> None:
    def with_summary(text: str) -> PhaseEvidence | None:
        return evidence_of(
            _pending(
                completed_deliverables={"research": ("research-notes",)},
                deliverable_notes={"research": {"research-notes": DeliverableNote(None, text)}},
            )
        )

    before, after = with_summary("v1"), with_summary("v2")
    assert before is not None and after is not None
    assert before.digest != after.digest
    changes = evidence_changes(before.canonical(), after.canonical())
    assert [c.to_wire() for c in changes] == [
        {"field": "deliverables.research-notes.summary", "before": "v1", "after": "v2"}
    ]


def test_the_contract_wire_names_the_open_request_and_its_digest() -> None:
    contract = _pending()
    evidence = evidence_of(contract)
    assert evidence is not None
    wire = contract.to_wire()
    assert wire["pendingConfirmation"]["transitionId"] == "tr-1"
    assert wire["pendingConfirmation"]["evidenceDigest"] == evidence.digest
    assert make_contract().to_wire()["pendingConfirmation"] is None


@pytest.mark.parametrize(
    "url", ["https://example.org/pr/1", "http://host:8080/x?y=1", "file:///tmp/notes.md"]
)
def test_http_and_file_urls_are_accepted(url: str) -> None:
    assert check_note(url, None) == (url, None)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "javascript:alert(1)", "notes.md", "https://", "http://a b"]
)
def test_other_urls_are_refused_naming_the_field(url: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_note(url, None)
    assert caught.value.details["field"] == "url"


def test_a_summary_over_64_kib_is_refused_naming_the_field() -> None:
    assert check_note(None, "x" * MAX_SUMMARY_BYTES) == (None, "x" * MAX_SUMMARY_BYTES)
    with pytest.raises(ValidationFailed) as caught:
        check_note(None, "é" * (MAX_SUMMARY_BYTES // 2 + 1))
    assert caught.value.details["field"] == "summary"


def test_the_wire_round_trip_keeps_the_request_and_the_notes() -> None:
    from core.wire import contract_from_wire

    note = DeliverableNote("file:///work/notes.md", "**done**")
    contract = _pending(
        completed_deliverables={"research": ("research-notes",)},
        deliverable_notes={"research": {"research-notes": note}},
    )
    back = contract_from_wire(contract.to_wire(), owner=contract.owner)
    assert back.pending_confirmation == contract.pending_confirmation
    assert back.deliverable_notes == {"research": {"research-notes": note}}
    assert evidence_of(back) == evidence_of(contract)
