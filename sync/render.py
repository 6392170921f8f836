"""Text the CLI prints: tables (fit for an 80-column terminal), compact lines and JSON.

Tables show the first 8 characters of ids (the CLI accepts any unique prefix back) and
shorten long names with "…", so a row never wraps. JSON output is the API's wire shape, so
scripts see the same objects as `curl` would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.api.batch import BatchResult
from core.clock import iso
from core.config import format_duration
from core.events import LoggedEvent
from core.model import Contract, Question
from core.projection import describe
from core.timing import age

SHORT_ID = 8
ELLIPSIS = "…"
SUMMARY_LINES = 12  # of a deliverable's summary in a review; `contracts show --format json` has all


def fit(text: str, width: int) -> str:
    """`text` cut to `width` characters, ending in "…" when it was longer."""
    text = str(text).replace("\r", " ").replace("\n", " ").replace("\t", " ")  # one line
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def short(ident: str) -> str:
    return ident[:SHORT_ID]


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], widths: Sequence[int]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    lines = []
    for row in [list(headers), *rows]:
        cells = [fit(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# contracts ------------------------------------------------------------------------------

_CONTRACT_FIXED = (SHORT_ID, 17, 9, 8)  # id, status, phase, idle


def contracts_table(contracts: Sequence[Contract], now: datetime, width: int = 80) -> str:
    if not contracts:
        return "No contracts."
    name_width = max(10, width - sum(_CONTRACT_FIXED) - 2 * len(_CONTRACT_FIXED) - 1)
    rows = [
        [
            short(c.id),
            c.name,
            _status(c),
            c.phase,
            format_duration(age(c.last_activity_at, now)),
        ]
        for c in contracts
    ]
    widths = (SHORT_ID, name_width, *_CONTRACT_FIXED[1:])
    return table(("ID", "NAME", "STATUS", "PHASE", "IDLE"), rows, widths)


def _status(contract: Contract) -> str:
    return contract.status.value


def contracts_compact(contracts: Sequence[Contract], now: datetime, width: int = 80) -> str:
    lines = []
    for c in contracts:
        head = f"{short(c.id)} {c.status.value}/{c.phase} "
        lines.append(head + fit(c.name, max(10, width - len(head) - 1)))
    return "\n".join(lines)


def contracts_json(contracts: Sequence[Contract]) -> str:
    return dumps([c.to_wire() for c in contracts])


# questions ------------------------------------------------------------------------------


def questions_table(questions: Sequence[Question], now: datetime, width: int = 80) -> str:
    if not questions:
        return "No pending questions."
    fixed = (SHORT_ID, SHORT_ID, 12, 8)
    question_width = max(10, width - sum(fixed) - 2 * len(fixed) - 1)
    rows = [
        [
            short(q.id),
            short(q.contract_id),
            q.question_type.value,
            format_duration(age(q.asked_at, now)),
            q.question + (f" [{' / '.join(q.choices)}]" if q.choices else ""),
        ]
        for q in questions
    ]
    widths = (*fixed, question_width)
    return table(("ID", "CONTRACT", "TYPE", "ASKED", "QUESTION"), rows, widths)


def questions_compact(questions: Sequence[Question], width: int = 80) -> str:
    lines = []
    for q in questions:
        head = f"{short(q.id)} {short(q.contract_id)} "
        lines.append(head + fit(q.question, max(10, width - len(head) - 1)))
    return "\n".join(lines)


def questions_json(questions: Sequence[Question]) -> str:
    return dumps([q.to_wire() for q in questions])


# one contract ---------------------------------------------------------------------------


def key_values(pairs: Iterable[tuple[str, Any]], width: int = 80) -> str:
    pairs = list(pairs)
    label = max((len(k) for k, _ in pairs), default=0) + 1
    return "\n".join(
        f"{(k + ':').ljust(label)} {fit(_show(v), max(10, width - label - 2))}" for k, v in pairs
    )


def _show(value: Any) -> str:
    if value is None or (isinstance(value, str | list | tuple | dict) and not value):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return iso(value) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value)
    return str(value)


def contract_summary(contract: Contract, now: datetime, width: int = 80) -> str:
    c = contract
    phases = " → ".join(f"[{p}]" if p == c.phase else p for p in c.phase_config.phase_ids)
    return key_values(
        [
            ("ID", c.id),
            ("Name", c.name),
            ("Type", c.contract_type.value),
            ("Status", c.status.value),
            ("Phase", phases),
            ("Waiting for", c.waiting_for.value if c.waiting_for else None),
            (
                "Pending phase",
                c.pending_confirmation.next_phase if c.pending_confirmation else None,
            ),
            ("Blocked", c.blocked_reason),
            ("Failure", c.failure_reason),
            ("Phase guard", c.phase_guard),
            ("Auto-complete", c.auto_complete_enabled),
            ("Version", c.version),
            ("Created", c.created_at),
            (
                "Last activity",
                f"{iso(c.last_activity_at)} ({format_duration(age(c.last_activity_at, now))} ago)",
            ),
        ],
        width,
    )


def deliverables_review(contract: Contract, phase: str) -> str:
    """The deliverables of `phase` with what is done, for a reviewer confirming an advance,
    each with its link and the start of its summary (Markdown, shown as written)."""
    defs = contract.phase_config.deliverables_for(phase)
    if not defs:
        return f"  (phase {phase} has no deliverables)"
    done = set(contract.completed_in(phase))
    lines = []
    for d in defs:
        lines.append(f"  [{'x' if d.id in done else ' '}] {d.name} ({d.id}, {d.priority.value})")
        note = contract.note_of(phase, d.id)
        if note is not None and note.url:
            lines.append(f"      {note.url}")
        if note is not None and note.summary:
            lines += [
                f"      {line}".rstrip() for line in note.summary.splitlines()[:SUMMARY_LINES]
            ]
            if len(note.summary.splitlines()) > SUMMARY_LINES:
                lines.append(f"      {ELLIPSIS}")
    return "\n".join(lines)


def event_text(event: LoggedEvent | Mapping[str, Any], width: int = 120) -> str:
    """One readable line: time, contract and what happened (core's sentence), and who.

    The sentence names the kind of event, so the line leaves the type out (`--format json`
    carries it for scripts).
    """
    wire = event.to_wire() if isinstance(event, LoggedEvent) else dict(event)
    when = str(wire.get("at") or "")[:19].replace("T", " ")
    actor = wire.get("actor")
    who = f" by {actor.get('user') or actor.get('owner')}" if isinstance(actor, Mapping) else ""
    head = f"{when}  {short(str(wire.get('contract_id')))}"
    return fit(f"{head}  {describe(str(wire.get('type')), wire)}{who}", width)


def event_json(event: LoggedEvent | Mapping[str, Any]) -> str:
    wire = event.to_wire() if isinstance(event, LoggedEvent) else dict(event)
    return json.dumps(wire, ensure_ascii=False, separators=(",", ":"))


def batch_lines(result: BatchResult, names: Mapping[str, str]) -> list[str]:
    """One line per affected contract and per error of a batch result."""
    lines = [f"  {cid}  {fit(names.get(cid, ''), 40)}".rstrip() for cid in result.affected_ids]
    for error in result.errors:
        lines.append(f"  error {error.contract_id}: {error.error}")
    return lines
