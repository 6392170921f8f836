"""The evidence of a phase confirmation as the reviewer reads it: Markdown, and words for
what changed.

The evidence itself is `core.evidence`'s (`evidence_of(contract)`, or its wire form that an
EVIDENCE_CHANGED conflict carries: `{phase, nextPhase, deliverables: [{id, name, priority,
state, url, summary}], missing}`); these functions only render it. A supervisor's summary is
its own Markdown, shown as a quote under the deliverable; a link opens outside the desk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from core.evidence import DeliverableState, evidence_of
from core.model import Contract

FIELD_WORDS = {
    "state": "state",
    "url": "link",
    "summary": "summary",
    "name": "name",
    "priority": "priority",
}


def evidence_markdown(contract: Contract) -> str:
    """The evidence of the contract's open request, as Markdown."""
    evidence = evidence_of(contract)
    if evidence is None:
        return "*No phase change is waiting for a confirmation.*"
    return wire_markdown(evidence.to_wire())


def wire_markdown(evidence: Mapping[str, Any] | None) -> str:
    """Each deliverable with its state, its link and its summary (quoted), as Markdown."""
    if not evidence:
        return "*No evidence.*"
    blocks = []
    for d in _deliverables(evidence):
        done = d.get("state") == DeliverableState.DONE.value
        name = _md(str(d.get("name") or d.get("id")))
        line = f"{'☑' if done else '☐'} **{name}** — {d.get('state')}"
        if not done and d.get("priority"):
            line += f" ({d.get('priority')})"
        url = d.get("url")
        if isinstance(url, str) and url:
            line += f" · [{_md(link_text(url))}]({_link(url)})"
        blocks.append(line)
        summary = d.get("summary")
        if isinstance(summary, str) and summary.strip():
            blocks.append("\n".join(f"> {row}" for row in summary.splitlines()))
    missing = evidence.get("missing") or []
    if missing:
        blocks.append("**Missing:** " + "; ".join(_md(str(m)) for m in missing))
    return "\n\n".join(blocks) if blocks else "*This phase has no deliverables.*"


def change_rows(
    changes: Sequence[Any], seen: Mapping[str, Any] | None, now: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """(what, as you saw it, as it is now) for each change of an EVIDENCE_CHANGED conflict;
    `changes` have `field`, `before`, `after` (`deliverables.<id>.<field>`, `missing`, …)."""
    names = {str(d.get("id")): str(d.get("name") or d.get("id")) for d in _deliverables(seen)}
    names |= {str(d.get("id")): str(d.get("name") or d.get("id")) for d in _deliverables(now)}
    rows = []
    for change in changes:
        field = str(getattr(change, "field", ""))
        rows.append(
            (field_words(field, names), value_text(change.before), value_text(change.after))
        )
    return rows


def field_words(field: str, names: Mapping[str, str]) -> str:
    """`deliverables.research-notes.summary` → "Research Notes: summary"."""
    parts = field.split(".")
    if parts[0] == "deliverables" and len(parts) >= 2:
        name = names.get(parts[1], parts[1])
        return f"{name}: {FIELD_WORDS.get(parts[2], parts[2])}" if len(parts) > 2 else name
    return {"nextPhase": "next phase", "missing": "missing"}.get(field, field)


def value_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "nothing"
    if isinstance(value, Mapping):
        return f"{value.get('name') or value.get('id')}: {value.get('state')}"
    return str(value)


def link_text(url: str) -> str:
    """What a link reads as: the file name of a file URL, the address of a web one."""
    parts = QUrl(url)
    if parts.isLocalFile():
        return parts.fileName() or parts.toLocalFile()
    return url if len(url) <= 60 else url[:57] + "…"


def open_link(url: QUrl) -> bool:
    """A deliverable's link: http(s) in the browser, file in the file manager; anything
    else is not opened (False)."""
    if url.scheme() not in ("http", "https", "file"):
        return False
    return bool(QDesktopServices.openUrl(url))


def _deliverables(evidence: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    found = (evidence or {}).get("deliverables") or []
    return [d for d in found if isinstance(d, Mapping)]


def _link(url: str) -> str:
    """A URL inside Markdown's (...): spaces and parentheses encoded."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _md(text: str) -> str:
    """Plain text inside our own Markdown: its markup characters are escaped."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!<>|" else c for c in text)
