"""`contracts inbox`: what waits on me, oldest first (the server's `GET /inbox`).

The table is drawn by rich, fitted to the terminal; `--format json` prints the API's
`{items: [...]}` for scripts.
"""

from __future__ import annotations

from datetime import datetime

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.config import format_duration
from core.inbox import InboxItem, InboxKind
from core.timing import age
from sync import render
from sync.cli_session import CliSession

# How each kind reads in the table's first column.
KIND_LABELS = {
    InboxKind.PHASE_CONFIRMATION: "confirm phase",
    InboxKind.QUESTION: "question",
    InboxKind.COMPLETION_CONFIRMATION: "confirm completion",
    InboxKind.PHASE_READY: "phase ready",
    InboxKind.STALE: "stale",
}


async def inbox(session: CliSession) -> int:
    args = session.args
    async with session.client() as client:
        items = await client.inbox(include_snoozed=args.include_snoozed)
    if args.format == "json":
        session.print(render.dumps({"items": [item.to_wire() for item in items]}))
        return 0
    if not items:
        session.print("Nothing waits on you.")
        return 0
    console = Console(
        file=session.out, width=session.width, no_color=True, highlight=False, soft_wrap=False
    )
    console.print(inbox_table(items, session.now()))
    return 0


def inbox_table(items: list[InboxItem], now: datetime) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("WAITING", no_wrap=True)
    table.add_column("KIND", no_wrap=True)
    table.add_column("CONTRACT", no_wrap=True, max_width=10)
    # NAME and ITEM give way when the terminal is narrow (rich shrinks wrappable columns
    # first); their cells stay one line, cut with "…".
    table.add_column("NAME", min_width=10)
    table.add_column("PHASE", no_wrap=True)
    table.add_column("ITEM", min_width=10)
    for item in items:
        table.add_row(
            format_duration(age(item.since, now)),
            KIND_LABELS[item.kind],
            render.short(item.contract_id),
            _one_line(item.contract_name),
            item.phase,
            _one_line(_note(item, now)),
        )
    return table


def _one_line(text: str) -> Text:
    return Text(render.fit(text, len(text)), no_wrap=True, overflow="ellipsis")


def _note(item: InboxItem, now: datetime) -> str:
    """The part of the item a reviewer acts on: the question id, who blocks, the deadline."""
    parts = []
    if item.question_id:
        parts.append(f"question {render.short(item.question_id)}")
    if item.blocked_by:
        parts.append(f"blocked by {item.blocked_by}")
    if item.deadline is not None:
        left = item.deadline - now
        parts.append(f"due in {format_duration(left)}" if left.total_seconds() > 0 else "due now")
    return ", ".join(parts) or "-"
