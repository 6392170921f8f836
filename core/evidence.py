"""The evidence of a pending phase confirmation, and the digest a decision is bound to.

A reviewer confirms what they saw: the phase, the phase it moves to, each deliverable of the
phase with its state, URL and summary, and what is still missing. `evidence_of` derives it
from a contract; `PhaseEvidence.digest` is the sha256 of its canonical JSON (sorted keys,
no whitespace, the transition id and times left out), so the server, the replica and the
desktop compute the same digest from the same contract.

The evidence reads the contract only: tasks, questions and heartbeats are not part of it, so
they never invalidate a confirmation (a busy contract would otherwise always conflict).

`check_note` validates what a supervisor attaches to a deliverable (API.md: `url` http(s) or
file, `summary` Markdown of at most 64 KiB).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.errors import ValidationFailed
from core.phases import DeliverablePriority

if TYPE_CHECKING:  # the model imports this module for its wire form
    from collections.abc import Iterable, Mapping

    from core.model import Contract

MAX_SUMMARY_BYTES = 64 * 1024  # API.md: summary ≤ 64 KiB (UTF-8)
MAX_URL_LENGTH = 2048
URL_SCHEMES = frozenset({"http", "https", "file"})


@dataclass(frozen=True, slots=True)
class DeliverableNote:
    """Where a recorded deliverable lives and what it says, as its supervisor attached them.

    `url` is an http(s) or file URL, `summary` Markdown; both optional (validated on the way
    in by `check_note`). `core.model.Contract.deliverable_notes` holds them.
    """

    url: str | None = None
    summary: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.url is None and self.summary is None

    def to_wire(self) -> dict[str, Any]:
        return {"url": self.url, "summary": self.summary}


class DeliverableState(StrEnum):
    DONE = "done"  # recorded for the phase
    MISSING = "missing"  # required and not recorded: blocks the advance without force
    OPEN = "open"  # recommended or optional, not recorded


@dataclass(frozen=True, slots=True)
class DeliverableEvidence:
    id: str
    name: str
    priority: DeliverablePriority
    state: DeliverableState
    url: str | None = None
    summary: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "priority": self.priority.value,
            "state": self.state.value,
            "url": self.url,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class PhaseEvidence:
    """What a reviewer confirms when confirming `phase → next_phase` (request `transition_id`)."""

    transition_id: str
    phase: str
    next_phase: str
    deliverables: tuple[DeliverableEvidence, ...]
    missing: tuple[str, ...]

    def canonical(self) -> dict[str, Any]:
        """The digested content: everything but the transition id (not evidence)."""
        return {
            "phase": self.phase,
            "nextPhase": self.next_phase,
            "deliverables": [d.to_wire() for d in self.deliverables],
            "missing": list(self.missing),
        }

    @property
    def digest(self) -> str:
        return evidence_digest(self.canonical())

    def to_wire(self) -> dict[str, Any]:
        return {"transitionId": self.transition_id, "digest": self.digest, **self.canonical()}


def evidence_digest(canonical: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON: sorted keys, compact separators, UTF-8."""
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def evidence_of(contract: Contract) -> PhaseEvidence | None:
    """The evidence of the contract's pending phase confirmation (None: nothing pending)."""
    pending = contract.pending_confirmation
    if pending is None:
        return None
    phase = contract.phase
    done = set(contract.completed_in(phase))
    items = tuple(
        _deliverable(contract, phase, d.id, d.name, d.priority, d.id in done)
        for d in contract.phase_config.deliverables_for(phase)
    )
    missing = tuple(f"Deliverable: {d}" for d in contract.missing_required(phase))
    return PhaseEvidence(pending.transition_id, phase, pending.next_phase, items, missing)


def _deliverable(  # noqa: PLR0917 - one evidence row from its parts
    contract: Contract,
    phase: str,
    deliverable_id: str,
    name: str,
    priority: DeliverablePriority,
    done: bool,
) -> DeliverableEvidence:
    if done:
        state = DeliverableState.DONE
    elif priority is DeliverablePriority.REQUIRED:
        state = DeliverableState.MISSING
    else:
        state = DeliverableState.OPEN
    note = contract.note_of(phase, deliverable_id)
    url = note.url if note else None
    summary = note.summary if note else None
    return DeliverableEvidence(deliverable_id, name, priority, state, url, summary)


def evidence_versions(
    contract: Contract, deliverable_events: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Digest → canonical evidence of each state the open request's evidence has been in.

    Replays the contract's `deliverable_completed` payloads (oldest first) for its current
    phase from nothing, so the server can show what a reviewer saw when all it has is the
    digest they sent. States before the request count too: a replica may lag.
    """
    pending = contract.pending_confirmation
    if pending is None:
        return {}
    phase = contract.phase
    done: tuple[str, ...] = ()
    notes: dict[str, DeliverableNote] = {}
    states = [(done, dict(notes))]
    for payload in deliverable_events:
        ident = payload.get("deliverable_id")
        if payload.get("phase") != phase or not isinstance(ident, str):
            continue
        done = done if ident in done else (*done, ident)
        url, summary = payload.get("url"), payload.get("summary")
        if isinstance(url, str) or isinstance(summary, str):
            notes[ident] = DeliverableNote(
                url if isinstance(url, str) else None,
                summary if isinstance(summary, str) else None,
            )
        states.append((done, dict(notes)))
    versions: dict[str, dict[str, Any]] = {}
    for state_done, state_notes in states:
        then = replace(
            contract,
            completed_deliverables={**contract.completed_deliverables, phase: state_done},
            deliverable_notes={**contract.deliverable_notes, phase: state_notes},
        )
        evidence = evidence_of(then)
        if evidence is not None:
            versions[evidence.digest] = evidence.canonical()
    return versions


@dataclass(frozen=True, slots=True)
class EvidenceChange:
    """One difference between the evidence a reviewer saw and the evidence now."""

    field: str  # "phase", "nextPhase", "missing", or "deliverables.<id>.<field>"
    before: Any
    after: Any

    def to_wire(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


def evidence_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[EvidenceChange, ...]:
    """What differs between two canonical evidences (`PhaseEvidence.canonical()` or wire).

    Deliverables are matched by id; a deliverable present on one side only is reported as
    one change of `deliverables.<id>` (the whole row against null).
    """
    old, new = dict(before or {}), dict(after or {})
    changes = [
        EvidenceChange(key, old.get(key), new.get(key))
        for key in ("phase", "nextPhase", "missing")
        if old.get(key) != new.get(key)
    ]
    return (*changes, *_deliverable_changes(old, new))


def _deliverable_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[EvidenceChange]:
    was = {d["id"]: d for d in old.get("deliverables") or () if isinstance(d, dict)}
    now = {d["id"]: d for d in new.get("deliverables") or () if isinstance(d, dict)}
    changes: list[EvidenceChange] = []
    for ident in [*was, *(i for i in now if i not in was)]:
        a, b = was.get(ident), now.get(ident)
        if a is None or b is None:
            changes.append(EvidenceChange(f"deliverables.{ident}", a, b))
            continue
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                changes.append(
                    EvidenceChange(f"deliverables.{ident}.{key}", a.get(key), b.get(key))
                )
    return changes


def check_note(url: str | None, summary: str | None) -> tuple[str | None, str | None]:
    """The note's url and summary, cleaned; a bad one is VALIDATION_FAILED naming the field.

    Blank values count as absent. A URL must be absolute http(s) (with a host) or file.
    """
    return _check_url(url), _check_summary(summary)


def _check_url(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise ValidationFailed(
            f"url must be at most {MAX_URL_LENGTH} characters (got {len(text)})",
            details={"field": "url"},
        )
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES or (scheme != "file" and not parts.netloc):
        raise ValidationFailed(
            f"url must be an absolute http(s) or file URL, got {text[:80]!r}",
            details={"field": "url"},
        )
    if any(ch.isspace() for ch in text):
        raise ValidationFailed("url must not contain spaces", details={"field": "url"})
    return text


def _check_summary(summary: str | None) -> str | None:
    if summary is None or not summary.strip():
        return None
    size = len(summary.encode("utf-8"))
    if size > MAX_SUMMARY_BYTES:
        raise ValidationFailed(
            f"summary must be at most {MAX_SUMMARY_BYTES} bytes of UTF-8 (got {size})",
            details={"field": "summary", "limit": MAX_SUMMARY_BYTES},
        )
    return summary
