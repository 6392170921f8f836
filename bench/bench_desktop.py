"""Desktop benchmark: prints figures, is not a test.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_desktop.py [--contracts 10000]
        [--inbox 500] [--rate 1000] [--seconds 30] [--page inbox|contracts|dashboard]
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_desktop.py --launch

`--launch` times the real `contract-desk --demo` process instead: launch → first paint,
→ the embedded server answering, → live data (see bench/desk_launch.py).

What it does, in one process like the real desk: a replica with N contracts; the main
window over a backend that applies events to that replica the way the sync feed does (a
page of events per 50 ms, written on the store's threads); RATE events a second for
SECONDS. It measures:

- launch: from the start of this script (imports included) and from building the window,
  to the first paint of the inbox (the page the desk opens on) with its items (target ≤ 1.5 s);
- event-loop stall: a 5 ms precise timer; a stall is how late it fires (target p99 ≤ 16 ms,
  max ≤ 50 ms);
- memory: peak RSS (target ≤ 300 MB);
- how far behind the table is at the end (rows whose shown version is older);
- the inbox (`--inbox N` of the contracts wait for a phase confirmation, and get task events
  like the rest): with `--page inbox`, a real `j` key event is posted every 100 ms while the
  events arrive; keypress → next item selected (the list's current row moved, the pane
  shows it) is timed (target ≤ 50 ms), and keypress → the pane filled from the replica.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qasync  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QKeyEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.actors import Actor, Role  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.events import EventType, LoggedEvent  # noqa: E402
from core.model import Contract, PendingPhaseConfirmation  # noqa: E402
from core.phases import ContractType  # noqa: E402
from core.status import ContractStatus, WaitingFor  # noqa: E402
from desktop.bridge import SyncBridge  # noqa: E402
from desktop.operations import TaskRunner  # noqa: E402
from desktop.ports import LIVE  # noqa: E402
from desktop.views.main_window import MainWindow  # noqa: E402
from sync.observers import Observers  # noqa: E402
from sync.outbox import Outbox, OutboxEntry  # noqa: E402
from sync.replica import Replica  # noqa: E402

SUPERVISOR = Actor("bench", Role.SUPERVISOR)
PAGE_EVERY = 0.05  # seconds between event pages, like a busy monitor stream


class ReplicaBackend:
    """The desk's port over a replica the benchmark writes to (no server)."""

    def __init__(self, replica: Replica) -> None:
        self._replica = replica
        self._outbox = Outbox(replica)
        self.states: Observers[str] = Observers("state")

    @property
    def replica(self) -> Replica:
        return self._replica

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    @property
    def state(self) -> str:
        return LIVE

    @property
    def offline_since(self) -> datetime | None:
        return None

    def on_state(self, callback: Callable[[str], None]) -> Callable[[], None]:
        return self.states.subscribe(callback)

    def on_contracts(self, callback: Callable[[frozenset[str]], None]) -> Callable[[], None]:
        return self._replica.contracts_changed.subscribe(callback)

    def on_outbox(self, callback: Callable[[OutboxEntry], None]) -> Callable[[], None]:
        return self._outbox.entry_changed.subscribe(callback)

    def on_events(self, callback: Callable[[tuple[LoggedEvent, ...]], None]) -> Callable[[], None]:
        return self._replica.events_applied.subscribe(callback)

    def send_soon(self) -> None:
        return None

    async def batch_preview(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._replica.close()


def contracts(count: int, now: datetime, waiting: int = 0) -> list[Contract]:
    """`count` active contracts, the first `waiting` of them waiting for a confirmation."""
    rng = random.Random(7)
    phases = ("plan", "execute")
    found = []
    for number in range(count):
        quiet = timedelta(seconds=rng.randint(0, 1200))  # none stale yet (30 min)
        contract = Contract(
            id=str(uuid.UUID(int=number + 1)),
            owner="replica",
            name=f"Bench contract {number:05d}",
            contract_type=ContractType.SIMPLE,
            phase=phases[number % 2],
            status=ContractStatus.ACTIVE,
            created_at=now - timedelta(days=1),
            updated_at=now - quiet,
            status_changed_at=now - quiet,
            last_activity_at=now - quiet,
            version=1,
        )
        if number < waiting:
            contract = replace(
                contract,
                phase="plan",
                status=ContractStatus.WAITING_FOR_INPUT,
                waiting_for=WaitingFor.PHASE_CONFIRMATION,
                completed_deliverables={"plan": ("plan-document",)},
                pending_confirmation=PendingPhaseConfirmation(
                    str(uuid.UUID(int=10**9 + number)), "execute", now - quiet
                ),
            )
        found.append(contract)
    return found


class FirstPaint(QObject):
    """Records the first paint of a widget after `armed` says its data is shown."""

    def __init__(self, armed: Callable[[], bool]) -> None:
        super().__init__()
        self.armed = armed
        self.at: float | None = None
        self.done = asyncio.Event()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.at is None and self.armed():
            self.at = time.perf_counter()
            self.done.set()
        return False


class StallMeter:
    """A 5 ms precise timer; how late each tick fires is the event loop's stall."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.interval = interval_ms / 1000
        self.stalls: list[float] = []
        self._last = 0.0
        self.timer = QTimer(interval=interval_ms)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.stalls.append(max(0.0, now - self._last - self.interval))
        self._last = now


async def feed(
    replica: Replica,
    ids: list[str],
    rate: int,
    seconds: float,
    waiting: frozenset[str] = frozenset(),
) -> int:
    """RATE events a second on random contracts, applied a page at a time (the `waiting`
    ones get tasks only: their confirmation stays open)."""
    rng = random.Random(11)
    cursor = await replica.cursor()
    seq = cursor.last_seq
    paused: set[str] = set()
    per_page = max(1, round(rate * PAGE_EVERY))
    clock = SystemClock()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    sent = 0
    next_page = loop.time()
    while loop.time() < end:
        page = []
        now = clock.now()
        for _ in range(per_page):
            seq += 1
            contract_id = rng.choice(ids)
            page.append(_event(seq, contract_id, now, rng, paused, contract_id in waiting))
        await replica.apply_events(page)
        sent += len(page)
        next_page += PAGE_EVERY
        await asyncio.sleep(max(0.0, next_page - loop.time()))
    return sent


def _event(  # noqa: PLR0917 - one event from its parts
    seq: int, contract_id: str, now: datetime, rng: random.Random, paused: set[str], waiting: bool
) -> LoggedEvent:
    if waiting or rng.random() < 0.5:
        task = f"task-{seq}"
        payload = {"task_id": task, "task_name": "bench work", "is_supervisor": False}
        return LoggedEvent(seq, now, EventType.TASK_CREATED, contract_id, SUPERVISOR, payload)
    old, new = ("paused", "active") if contract_id in paused else ("active", "paused")
    paused.symmetric_difference_update({contract_id})
    payload = {"old_status": old, "new_status": new, "reason": "bench"}
    return LoggedEvent(seq, now, EventType.STATUS_CHANGED, contract_id, SUPERVISOR, payload)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(args: argparse.Namespace, app: QApplication) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    now = datetime.now(UTC)
    seeding = await Replica.open(folder / "replica.db")
    seeded = contracts(args.contracts, now, args.inbox)
    for start in range(0, len(seeded), 2000):
        await seeding.put_contracts(seeded[start : start + 2000])
    await seeding.close()

    # The launch as the desk does it: open the replica, build the window, paint.
    opened = time.perf_counter()
    replica = await Replica.open(folder / "replica.db")
    backend = ReplicaBackend(replica)
    bridge = SyncBridge(backend, TaskRunner(asyncio.get_running_loop()))
    window = MainWindow(bridge)
    # The desk opens on the inbox: its first paint with the items is the launch's end.
    painted = FirstPaint(lambda: window.inbox.feed.loaded)
    window.inbox.list.viewport().installEventFilter(painted)
    window.resize(1400, 900)
    window.show()
    window.start()
    await painted.done.wait()
    assert painted.at is not None
    launch = {
        "imports_s": args.imported - STARTED,
        "open_to_paint_s": painted.at - opened,
        "total_s": args.imported - STARTED + painted.at - opened,
    }
    if args.page == "contracts":
        window.show_contracts()
    if args.page == "inbox":
        window.show_inbox()
        await _until(lambda: window.inbox.count >= args.inbox, 60)
    if args.search:
        window.contracts.search.setText(args.search)
    await asyncio.sleep(1.0)
    # The same meter with nothing to do: what the machine itself costs (other processes).
    idle = StallMeter()
    idle.start()
    await asyncio.sleep(args.idle)
    idle.stop()
    meter = StallMeter()
    meter.start()
    cpu = time.process_time()
    waiting = frozenset(c.id for c in seeded[: args.inbox])
    keys = KeyTimer(window) if args.page == "inbox" else None
    keying = asyncio.ensure_future(keys.run(args.seconds)) if keys is not None else None
    sent = await feed(replica, [c.id for c in seeded], args.rate, args.seconds, waiting)
    cpu = time.process_time() - cpu
    if keying is not None:
        await keying
    await asyncio.sleep(0.5)
    meter.stop()
    inbox_count = window.inbox.count
    behind = await lag(window, replica)
    window.close()
    await bridge.runner.drain()
    await backend.stop()
    stalls_ms = [s * 1000 for s in meter.stalls]
    idle_ms = [s * 1000 for s in idle.stalls]
    return {
        "idle_stall_ms": {
            "p99": percentile(idle_ms, 0.99),
            "max": max(idle_ms, default=0.0),
            "seconds": args.idle,
        },
        "cpu_share": cpu / args.seconds,
        "contracts": args.contracts,
        "events_sent": sent,
        "seconds": args.seconds,
        "launch": launch,
        "stall_ms": {
            "samples": len(stalls_ms),
            "p50": percentile(stalls_ms, 0.50),
            "p99": percentile(stalls_ms, 0.99),
            "max": max(stalls_ms, default=0.0),
            "mean": statistics.fmean(stalls_ms) if stalls_ms else 0.0,
            "over_16ms": sum(1 for s in stalls_ms if s > 16),
            "over_50ms": sum(1 for s in stalls_ms if s > 50),
        },
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "table_rows_behind_at_end": behind,
        "table_rows": window.contracts.model.rowCount(),
        "inbox_items": inbox_count,
        "keys": keys.figures() if keys is not None else None,
    }


class KeyTimer:
    """Posts a real `j` key event to the inbox list every `every` seconds (as a keyboard
    would: queued behind whatever the loop is doing) and times keypress → the next item
    selected and shown by the pane, and keypress → the pane filled from the replica."""

    def __init__(self, window: MainWindow, every: float = 0.1) -> None:
        self.window = window
        self.every = every
        self.selected_ms: list[float] = []
        self.filled_ms: list[float] = []

    async def run(self, seconds: float) -> None:
        page = self.window.inbox
        page.select_row(0)
        page.focus_list()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            before = page.current_item()
            sent = time.perf_counter()
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                key = QKeyEvent(kind, Qt.Key.Key_J, Qt.KeyboardModifier.NoModifier, "j")
                QCoreApplication.postEvent(page.list, key)
            await _until(
                lambda b=before: (
                    page.current_item() != b
                    and page.pane.item is not None
                    and page.pane.item == page.current_item()
                ),
                5,
                poll=0.0005,
            )  # type: ignore[misc]
            self.selected_ms.append((time.perf_counter() - sent) * 1000)
            await _until(lambda: page.pane.seen() is not None, 5, poll=0.0005)
            self.filled_ms.append((time.perf_counter() - sent) * 1000)
            if page.current_item() == page.model.item_at(page.model.rowCount() - 1):
                page.select_row(0)  # the end of the list: from the top again
            await asyncio.sleep(max(0.0, self.every - (time.perf_counter() - sent)))

    def figures(self) -> dict[str, Any]:
        return {
            "presses": len(self.selected_ms),
            "selected_p50": percentile(self.selected_ms, 0.5),
            "selected_p99": percentile(self.selected_ms, 0.99),
            "selected_max": max(self.selected_ms, default=0.0),
            "filled_p50": percentile(self.filled_ms, 0.5),
            "filled_p99": percentile(self.filled_ms, 0.99),
        }


async def _until(condition: Callable[[], bool], within: float, poll: float = 0.02) -> None:
    deadline = time.perf_counter() + within
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(poll)


async def lag(window: MainWindow, replica: Replica) -> int:
    shown = {c.id: c for c in window.contracts.model.contracts()}
    stored = await replica.contracts_by_id(shown)
    return sum(1 for i, c in stored.items() if shown[i].status != c.status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--inbox", type=int, default=500, help="contracts waiting on you")
    parser.add_argument("--page", choices=["inbox", "contracts", "dashboard"], default="inbox")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle baseline")
    parser.add_argument("--search", default="", help="type this in the table's search box")
    parser.add_argument("--launch", action="store_true", help="time `contract-desk --demo`")
    args = parser.parse_args()
    if args.launch:
        from bench.desk_launch import main as launch

        return launch()
    app = QApplication(["bench"])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    args.imported = time.perf_counter()  # the QApplication exists: the desk's imports are done
    with loop:
        figures = loop.run_until_complete(run(args, app))
    report(figures)
    return 0


def report(figures: dict[str, Any]) -> None:
    launch, stall = figures["launch"], figures["stall_ms"]
    print(f"contracts in replica      {figures['contracts']}")
    print(f"events applied            {figures['events_sent']} in {figures['seconds']:.0f} s")
    print(
        f"launch → painted inbox     {launch['total_s']:.3f} s (imports and QApplication "
        f"{launch['imports_s']:.3f} s + open replica, build window, load, paint "
        f"{launch['open_to_paint_s']:.3f} s)   target ≤ 1.5 s"
    )
    print(
        f"event-loop stall          p50 {stall['p50']:.1f} ms  p99 {stall['p99']:.1f} ms  "
        f"max {stall['max']:.1f} ms  (>16 ms: {stall['over_16ms']}, >50 ms: "
        f"{stall['over_50ms']} of {stall['samples']})   target p99 ≤ 16, max ≤ 50"
    )
    idle = figures["idle_stall_ms"]
    print(
        f"idle baseline stall       p99 {idle['p99']:.1f} ms  max {idle['max']:.1f} ms over "
        f"{idle['seconds']:.0f} s with no events (the machine's own noise)"
    )
    print(
        f"CPU used by the desk      {figures['cpu_share'] * 100:.0f}% of one core "
        f"during the event load (all threads)"
    )
    print(f"peak RSS                  {figures['peak_rss_mb']:.0f} MB   target ≤ 300 MB")
    print(
        f"table rows behind at end  {figures['table_rows_behind_at_end']} "
        f"of {figures['table_rows']}"
    )
    print(f"inbox items at end        {figures['inbox_items']}")
    keys = figures["keys"]
    if keys:
        print(
            f"keypress → next selected  p50 {keys['selected_p50']:.1f} ms  p99 "
            f"{keys['selected_p99']:.1f} ms  max {keys['selected_max']:.1f} ms over "
            f"{keys['presses']} presses of j   target ≤ 50 ms"
        )
        print(
            f"keypress → pane filled    p50 {keys['filled_p50']:.1f} ms  p99 "
            f"{keys['filled_p99']:.1f} ms (its contract read from the replica)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
