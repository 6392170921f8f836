"""`contracts monitor`: follow the monitor stream until Ctrl-C or SIGTERM (or `q` in the tui).

Formats: `json` (one event per line, the wire object), `text` (one readable line per
event), `tui` (a live dashboard, see `sync.cli_monitor_tui`; the default on a terminal,
`text` the default into a pipe).
`--quiet` keeps the important events only; `--stale` only stale detections. The hidden
`--max-events N` and `--duration S` end it on their own (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Mapping
from typing import Any

from core.events import IMPORTANT_EVENTS, EventType, LoggedEvent, MonitorFilter
from sync import render
from sync.answers import EventPage
from sync.cli_contracts import parse_statuses
from sync.cli_monitor_tui import TuiView
from sync.cli_session import CliSession
from sync.client import ContractClient
from sync.monitor import MonitorClient, MonitorState


def wanted_types(args: Any) -> frozenset[EventType] | None:
    """The event types to show (None: all)."""
    if args.stale:
        return frozenset({EventType.STALE_DETECTED})
    if args.quiet:
        return IMPORTANT_EVENTS
    return None


def output_format(session: CliSession) -> str:
    """--format, else the live table on a terminal and text lines into a pipe or file."""
    if session.args.format:
        return str(session.args.format)
    try:
        return "tui" if session.out.isatty() else "text"
    except (AttributeError, ValueError):
        return "text"


async def monitor(session: CliSession) -> int:
    args = session.args
    async with session.client() as client:
        ids = [await session.contract_id(client, ident) for ident in args.ids]
        wanted = MonitorFilter(
            contract_ids=frozenset(ids) if ids else None,
            statuses=frozenset(parse_statuses(args.status) or []) or None,
            include_stale=True,
            include_heartbeats=False,
        )
        view = await _view(session, client, wanted)
        say = view.notice if isinstance(view, TuiView) else _warner(session)
        follower = _Follower(session, view, wanted_types(args), args.max_events, say)

        async def catch_up(after: int) -> EventPage:
            only = ids[0] if len(ids) == 1 else None
            return await client.events(after=after, contract_id=only)

        stream = MonitorClient(
            session.settings.api_url,
            session.settings.api_key,
            monitor_filter=wanted,
            after=args.after,
            on_event=follower.on_event,
            catch_up=catch_up,
            on_state=follower.on_state,
            heartbeat_events=follower.on_heartbeat,
            verify=session.verify,
        )
        follower.stream = stream
        if isinstance(view, TuiView):
            view.bind(stream.stop)
        try:
            with _stopped_by_signals(stream), _stopped_after(stream, args.duration):
                await stream.run()
        finally:
            view.close()
    return 0


@contextlib.contextmanager
def _stopped_by_signals(stream: MonitorClient) -> Any:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stream.stop)
            installed.append(sig)
        except (ValueError, RuntimeError, NotImplementedError):
            pass  # not the main thread (tests), or no signals on this platform
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _stopped_after(stream: MonitorClient, seconds: float | None) -> Any:
    if seconds is None:
        yield
        return
    timer = asyncio.get_running_loop().call_later(seconds, stream.stop)
    try:
        yield
    finally:
        timer.cancel()


class _View:
    """Shows events; the formats differ only here."""

    def event(self, event: LoggedEvent) -> None:
        raise NotImplementedError

    def heartbeat(self, beat: Mapping[str, Any]) -> None:
        return None

    def close(self) -> None:
        return None


class _JsonView(_View):
    def __init__(self, session: CliSession) -> None:
        self.session = session

    def event(self, event: LoggedEvent) -> None:
        self.session.print(render.event_json(event))


class _TextView(_View):
    def __init__(self, session: CliSession) -> None:
        self.session = session

    def event(self, event: LoggedEvent) -> None:
        self.session.print(render.event_text(event, max(self.session.width, 60)))


def _warner(session: CliSession) -> Callable[[str, str], None]:
    def warn(message: str, state: str) -> None:
        del state
        session.warn(message)

    return warn


async def _view(
    session: CliSession, client: ContractClient, wanted: MonitorFilter
) -> _View | TuiView:
    fmt = output_format(session)
    if fmt == "json":
        return _JsonView(session)
    if fmt == "text":
        return _TextView(session)
    view = TuiView(session, client, wanted)
    await view.start()
    return view


class _Follower:
    """Connects the monitor stream to a view: filters, counts, reports connection state."""

    def __init__(
        self,
        session: CliSession,
        view: _View | TuiView,
        types: frozenset[EventType] | None,
        max_events: int | None,
        say: Callable[[str, str], None],
    ) -> None:
        """`say(message, state)`: tell the connection's state (a line, or a word)."""
        self.say = say
        self.session = session
        self.view = view
        self.types = types
        self.max_events = max_events
        self.shown = 0
        self.was_live = False
        self.lost = False
        self.stream: MonitorClient | None = None

    async def on_event(self, event: LoggedEvent) -> None:
        if self.types is not None and event.type not in self.types:
            return
        self.view.event(event)
        self.shown += 1
        if self.max_events is not None and self.shown >= self.max_events and self.stream:
            self.stream.stop()

    async def on_heartbeat(self, beat: dict[str, Any]) -> None:
        self.view.heartbeat(beat)

    def on_state(self, state: MonitorState) -> None:
        if state is MonitorState.LIVE:
            if not self.was_live:
                self.say(f"Monitoring {self.session.settings.api_url} (Ctrl-C to stop)", "live")
            elif self.lost:
                self.say("Reconnected.", "live")
            self.was_live, self.lost = True, False
        elif state is MonitorState.DISCONNECTED and self.was_live and not self.lost:
            stopped = self.stream is None or self.stream.stopped
            if not stopped:
                self.say("Connection lost; reconnecting…", "connection lost; reconnecting…")
            self.lost = not stopped
