"""`contracts monitor --format tui`: a live terminal dashboard (rich.live with a Layout).

Four panels: contracts by status, those waiting for input, the stale ones (by the server's
stale threshold, as its list says), and the recent events of the monitor stream, newest
first. The contract panels are read again from the server when events arrive (at most once
per `RELOAD_SECONDS`) and every `IDLE_RELOAD_SECONDS` (staleness grows with time, not with
events). The layout takes the whole terminal and follows its size (redrawn every
`REDRAW_SECONDS`); `q` quits, as Ctrl-C does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections import Counter, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.layout import Layout
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from core.clock import SystemClock
from core.config import format_duration
from core.events import LoggedEvent, MonitorFilter
from core.model import Contract
from core.status import ContractStatus
from core.timing import age
from sync import render
from sync.cli_session import CliSession
from sync.client import ContractClient
from sync.errors import ApiError, ConnectionFailed

REDRAW_SECONDS = 1.0
RELOAD_SECONDS = 1.0
IDLE_RELOAD_SECONDS = 5.0
RECENT_EVENTS = 200  # kept; as many as fit are shown
PAGE = 1000
QUIT_KEYS = frozenset("qQ")


class TuiView:
    """The dashboard: `start()`, then `event()` per monitor event, `close()` at the end."""

    def __init__(self, session: CliSession, client: ContractClient, wanted: MonitorFilter) -> None:
        self.session = session
        self.client = client
        self.wanted = wanted
        # No fixed size: rich asks the terminal at each render, so a resize is followed.
        self.console = Console(file=session.out)
        self.layout = _layout()
        self.live = Live(
            self.layout,
            console=self.console,
            screen=True,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.contracts: list[Contract] = []
        self.stale: list[Contract] = []
        self.threshold = timedelta(minutes=30)
        self.recent: deque[LoggedEvent] = deque(maxlen=RECENT_EVENTS)
        self.problem = ""
        self.connection = "connecting…"
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._keys: _Keys | None = None

    async def start(self) -> None:
        """Read the server's threshold and contracts, then take over the screen."""
        self.threshold = (await self.client.server_config()).stale_threshold
        await self._load()
        self.live.start()
        self.draw()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._reloads()), loop.create_task(self._redraws())]

    def bind(self, stop: Callable[[], None]) -> None:
        """`q` on the terminal calls `stop` (no terminal, no keys: Ctrl-C still works)."""
        self._keys = _Keys.attach(self.session.stdin, stop)

    def event(self, event: LoggedEvent) -> None:
        self.recent.appendleft(event)
        self._changed.set()
        self.draw()

    def notice(self, message: str, state: str) -> None:
        """The connection's `state` (live, reconnecting), shown in the header: the `message`
        line on stderr would scribble over the dashboard."""
        del message
        self.connection = state
        self.draw()

    def heartbeat(self, beat: dict[str, Any]) -> None:
        del beat  # the dashboard shows contracts, not each beat

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._keys is not None:
            self._keys.detach()
        self.live.stop()

    async def _reloads(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_RELOAD_SECONDS):
                    await self._changed.wait()
            self._changed.clear()
            try:
                await self._load()
                self.problem = ""
            except (ApiError, ConnectionFailed) as error:  # keep the last view, say why
                self.problem = f"refresh failed: {getattr(error, 'message', error)}"
            self.draw()
            await asyncio.sleep(RELOAD_SECONDS)

    async def _redraws(self) -> None:
        while True:
            await asyncio.sleep(REDRAW_SECONDS)
            self.draw()  # ages move on, and the terminal may have been resized

    async def _load(self) -> None:
        statuses = sorted(self.wanted.statuses) if self.wanted.statuses else None
        listed = await self.client.list_contracts(status=statuses, limit=PAGE)
        stale = await self.client.list_contracts(status=statuses, stale=True, limit=PAGE)
        self.contracts = self._only_wanted(listed.contracts)
        self.stale = self._only_wanted(stale.contracts)

    def _only_wanted(self, contracts: list[Contract]) -> list[Contract]:
        ids = self.wanted.contract_ids
        return [c for c in contracts if ids is None or c.id in ids]

    def draw(self) -> None:
        now = SystemClock().now()
        self.layout["header"].update(self._header(now))
        self.layout["counts"].update(_counts(self.contracts))
        self.layout["waiting"].update(_waiting(self.contracts, now))
        self.layout["stale"].update(_stale(self.stale, now, self.threshold))
        self.layout["events"].update(_events(self.recent, self.console.width))
        self.live.refresh()

    def _header(self, now: datetime) -> Text:
        text = Text(f"Contract monitor — {self.session.settings.api_url}", style="bold")
        text.append(f"   {self.connection}   contracts: {len(self.contracts)}")
        text.append(f"   {now.astimezone():%H:%M:%S}")
        if self.problem:
            text.append(f"   {self.problem}", style="red")
        text.append("   q to quit", style="dim")
        return text


def _layout() -> Layout:
    layout = Layout()
    layout.split_column(
        Layout(name="header", size=1),
        Layout(name="top", ratio=3),
        Layout(name="events", ratio=2),
    )
    # The lists get the width (names are long); the counts need little.
    layout["top"].split_row(Layout(name="counts", size=30), Layout(name="lists", ratio=1))
    layout["lists"].split_column(Layout(name="waiting"), Layout(name="stale"))
    return layout


def _table(*columns: str) -> Table:
    table = Table(expand=True, box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    return table


def _counts(contracts: list[Contract]) -> Panel:
    counts = Counter(c.status for c in contracts)
    table = _table("Status", "Count")
    for status in ContractStatus:
        if counts[status]:
            table.add_row(status.value, str(counts[status]))
    table.add_row(Text("total", style="bold"), Text(str(len(contracts)), style="bold"))
    return Panel(table, title="Contracts by status")


def _waiting(contracts: list[Contract], now: datetime) -> Panel:
    waiting = [c for c in contracts if c.status is ContractStatus.WAITING_FOR_INPUT]
    waiting.sort(key=lambda c: c.status_changed_at)
    table = _table("ID", "Name", "For", "Since")
    for c in waiting:
        kind = c.waiting_for.value.replace("_", " ") if c.waiting_for else "-"
        since = format_duration(age(c.status_changed_at, now))
        table.add_row(render.short(c.id), c.name, kind, since)
    return Panel(_or_none(table, waiting), title=f"Waiting for input ({len(waiting)})")


def _stale(stale: list[Contract], now: datetime, threshold: timedelta) -> Panel:
    table = _table("ID", "Name", "Phase", "Quiet for")
    for c in sorted(stale, key=lambda c: c.last_activity_at):
        table.add_row(
            render.short(c.id), c.name, c.phase, format_duration(age(c.last_activity_at, now))
        )
    title = f"Stale ({len(stale)}, quiet > {format_duration(threshold)})"
    return Panel(_or_none(table, stale), title=title, border_style="yellow" if stale else "")


def _events(recent: deque[LoggedEvent], width: int) -> Panel:
    lines = [Text(render.event_text(e, max(width - 4, 40))) for e in recent]
    body: RenderableType = Group(*lines) if lines else Text("waiting for events…", style="dim")
    return Panel(body, title="Recent events (newest first)")


def _or_none(table: Table, rows: list[Contract]) -> RenderableType:
    return table if rows else Text("none", style="dim")


class _Keys:
    """The terminal in cbreak mode (keys arrive one by one, unechoed) while the view runs."""

    def __init__(self, fd: int, saved: list[Any]) -> None:
        self.fd = fd
        self.saved = saved

    @classmethod
    def attach(cls, stdin: TextIO, stop: Callable[[], None]) -> _Keys | None:
        try:
            if not stdin.isatty():
                return None
            fd = stdin.fileno()
            saved = termios.tcgetattr(fd)
        except (AttributeError, ValueError, OSError, termios.error):
            return None
        tty.setcbreak(fd)
        keys = cls(fd, saved)
        asyncio.get_running_loop().add_reader(fd, keys._read, stop)
        return keys

    def _read(self, stop: Callable[[], None]) -> None:
        try:
            typed = _read_key(self.fd)
        except OSError:
            return
        if typed in QUIT_KEYS:
            stop()

    def detach(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.fd)
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def _read_key(fd: int) -> str:
    return os.read(fd, 1).decode("utf-8", errors="replace")
