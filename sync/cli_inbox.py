"""`contracts inbox`: what waits on me, oldest first (the server's `GET /inbox`); and
`contracts snooze|unsnooze|claim|unclaim ITEM` on its items.

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
from core.errors import ValidationFailed
from core.inbox import InboxItem, InboxKind, snooze_until
from core.timing import age
from sync import render
from sync.cli_session import CliSession, UsageError
from sync.client import ContractClient
from sync.errors import ApiError

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
    if item.claimed_by:
        parts.append(
            f"claimed by {item.claimed_by} {format_duration(age(item.claimed_at or now, now))} ago"
        )
    if item.snoozed_until is not None:
        parts.append(f"snoozed {format_duration(item.snoozed_until - now)} more")
    if item.escalated:
        parts.append("escalated")
    if item.deadline is not None:
        left = item.deadline - now
        parts.append(f"due in {format_duration(left)}" if left.total_seconds() > 0 else "due now")
    return ", ".join(parts) or "-"


# --- snooze and claim -------------------------------------------------------------------------


async def snooze(session: CliSession) -> int:
    """`contracts snooze ITEM 1h|tomorrow|ISO` or `--until ISO`."""
    args = session.args
    when = args.until or args.when
    if not when:
        raise UsageError("say how long: a duration (1h, 30m), 'tomorrow' or --until ISO")
    if args.until and args.when:
        raise UsageError("give either a duration or --until, not both")
    try:
        until = snooze_until(when, session.now())
    except ValidationFailed as error:
        raise UsageError(error.message) from None
    async with session.client() as client:
        item = await client.snooze_item(await item_id(client, args.item), until)
    local = until.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    session.print(f"Snoozed {item.id} ({item.contract_name}) until {local}")
    return 0


async def unsnooze(session: CliSession) -> int:
    async with session.client() as client:
        item = await client.unsnooze_item(await item_id(client, session.args.item))
    session.print(f"{item.id} ({item.contract_name}) is back in the inbox")
    return 0


async def claim(session: CliSession) -> int:
    async with session.client() as client:
        item = await client.claim_item(await item_id(client, session.args.item))
    session.print(f"Claimed {item.id} ({item.contract_name}) as {item.claimed_by}")
    return 0


async def unclaim(session: CliSession) -> int:
    async with session.client() as client:
        item = await client.unclaim_item(await item_id(client, session.args.item))
    session.print(f"Released the claim on {item.id} ({item.contract_name})")
    return 0


async def item_id(client: ContractClient, ident: str) -> str:
    """An inbox item's id from its full id, a unique prefix of it, or a contract id (or
    prefix, as the inbox table shows) with exactly one item waiting."""
    items = await client.inbox(include_snoozed=True)
    if any(item.id == ident for item in items):
        return ident
    by_id = [item.id for item in items if item.id.startswith(ident)]
    if by_id:
        return _one_item(by_id, ident)
    by_contract = [item.id for item in items if item.contract_id.startswith(ident)]
    if by_contract:
        return _one_item(by_contract, ident)
    raise ApiError(404, "INBOX_ITEM_NOT_FOUND", f"No inbox item with id or id prefix {ident!r}")


def _one_item(found: list[str], ident: str) -> str:
    if len(found) == 1:
        return found[0]
    listed = ", ".join(found[:5])
    raise UsageError(f"{ident!r} matches {len(found)} inbox items ({listed}); give the item id")
