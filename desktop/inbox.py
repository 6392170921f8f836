"""The reviewer's inbox, built on this machine from the replica (so it works offline).

`InboxFeed` follows the bridge and asks `core.inbox.contract_items` — the one rule of what
waits on a reviewer, the same the server's `GET /api/v1/inbox` answers — for the contracts
that changed, with their pending questions and tasks (read from the replica). It never
restates the rule: it only decides *when* to ask it again.

- a tick of changed contracts: their tasks are read (one query), their items recomputed;
- questions changed (the bridge throttles it): the pending questions are read again and
  the contracts whose questions changed are recomputed;
- the periodic stale scan and a new server config (threshold, deadlines): every contract is
  recomputed, a slice at a time, so 10,000 contracts never hold the GUI for one long call.

`itemsChanged(list[InboxItem])` then carries every item, oldest first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from PySide6.QtCore import QObject, QTimer, Signal

from core.clock import utc
from core.inbox import InboxItem, contract_items
from core.model import Contract, Question, Task
from desktop.bridge import SyncBridge

log = logging.getLogger(__name__)

SLICE = 150  # contracts recomputed between two returns to the event loop (~4 ms)
QUIET_MS = 50  # changes arriving within this are recomputed together


class InboxFeed(QObject):
    """Every item waiting on the reviewer, kept up to date from the bridge."""

    itemsChanged = Signal(list)  # list[InboxItem], oldest first

    def __init__(self, bridge: SyncBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.items_by_contract: dict[str, list[InboxItem]] = {}
        self._questions: dict[str, list[Question]] = {}  # contract id → its pending ones
        self._tasks: dict[str, list[Task]] = {}
        self._dirty: set[str] = set()  # contracts to recompute
        self._unread_tasks: set[str] = set()  # … whose tasks are to be read first
        self._everything = False  # a full recompute is due
        self._questions_due = False
        self._running = False
        self.loaded = False
        self._stopped = False
        self._emitted: list[InboxItem] = []
        self._timer = QTimer(self, singleShot=True, interval=QUIET_MS)
        self._timer.timeout.connect(self._start)
        bridge.contractsUpdated.connect(self._updated)
        bridge.contractsRemoved.connect(self._removed)
        bridge.questionsChanged.connect(self._questions_changed)
        bridge.staleScanned.connect(self.recompute_all)
        bridge.serverConfigChanged.connect(self.recompute_all)
        bridge.contractsLoaded.connect(self._first_load)
        if bridge.loaded:
            self._first_load()

    # --- what changed --------------------------------------------------------------------

    def _first_load(self) -> None:
        self._unread_tasks.update(self.bridge.contracts)
        self._questions_due = True
        self.recompute_all()

    def _updated(self, contracts: list[Contract]) -> None:
        ids = [c.id for c in contracts]
        self._unread_tasks.update(ids)
        self._dirty.update(ids)
        self._schedule()

    def _removed(self, ids: list[str]) -> None:
        for gone in ids:
            self._tasks.pop(gone, None)
            self._questions.pop(gone, None)
        self._dirty.update(ids)
        self._schedule()

    def _questions_changed(self) -> None:
        self._questions_due = True
        self._schedule()

    def recompute_all(self, *_: object) -> None:
        """Time alone makes contracts stale, a new threshold too: ask the rule for all."""
        self._everything = True
        self._schedule()

    def _schedule(self) -> None:
        if not self._stopped and not self._running and not self._timer.isActive():
            self._timer.start()

    # --- recomputing ---------------------------------------------------------------------

    def _start(self) -> None:
        if self._running or self._stopped:
            return
        self._running = True
        self.bridge.runner.spawn(self._run(), self._failed)

    def _failed(self, error: BaseException) -> None:
        self._running = False
        log.warning("inbox: recomputing failed: %s", error)
        self.bridge.operationFailed.emit("Inbox", str(error))

    async def _run(self) -> None:
        try:
            while self._dirty or self._everything or self._questions_due or self._unread_tasks:
                await self._one_round()
        finally:
            self._running = False

    async def _one_round(self) -> None:
        if self._questions_due:
            self._questions_due = False
            self._dirty.update(await self._read_questions())
        if self._unread_tasks:
            ids, self._unread_tasks = self._unread_tasks, set()
            await self._read_tasks(ids)
        if self._everything:
            self._everything = False
            self._dirty.clear()
            await self._recompute(list(self.bridge.contracts), whole=True)
        elif self._dirty:
            ids, self._dirty = self._dirty, set()
            await self._recompute(list(ids), whole=False)
        first = not self.loaded
        self.loaded = self.loaded or self.bridge.loaded
        items = self.items()
        if first or items != self._emitted:  # nothing new: the views have nothing to do
            self._emitted = items
            self.itemsChanged.emit(items)

    async def _read_questions(self) -> set[str]:
        """The pending questions now; returns the contracts whose questions changed."""
        found: dict[str, list[Question]] = {}
        for question in await self.bridge.pending_questions():
            found.setdefault(question.contract_id, []).append(question)
        changed = {
            c
            for c in found.keys() | self._questions.keys()
            if found.get(c) != self._questions.get(c)
        }
        self._questions = found
        return changed

    async def _read_tasks(self, ids: Iterable[str]) -> None:
        wanted = [i for i in ids if i in self.bridge.contracts]
        found = await self.bridge.replica.tasks_of(wanted)
        for contract_id in wanted:
            self._tasks[contract_id] = found.get(contract_id, [])

    async def _recompute(self, ids: list[str], *, whole: bool) -> None:
        now = self.bridge.now()
        threshold = self.bridge.policy.stale_threshold
        config = self.bridge.config
        contracts = self.bridge.contracts
        fresh: dict[str, list[InboxItem]] = {}
        for start in range(0, len(ids), SLICE):
            if start:
                await asyncio.sleep(0)  # let the GUI breathe between slices
            for contract_id in ids[start : start + SLICE]:
                contract = contracts.get(contract_id)
                if contract is None:
                    continue
                found = contract_items(
                    contract,
                    now,
                    threshold,
                    self._questions.get(contract_id, ()),
                    self._tasks.get(contract_id, ()),
                    config,
                )
                if found:
                    fresh[contract_id] = found
        if whole:
            self.items_by_contract = fresh
            return
        for contract_id in ids:
            if contract_id in fresh:
                self.items_by_contract[contract_id] = fresh[contract_id]
            else:
                self.items_by_contract.pop(contract_id, None)

    # --- reading -------------------------------------------------------------------------

    def items(self) -> list[InboxItem]:
        """Every item, oldest first (the rule's own order: since, then id)."""
        every = [item for found in self.items_by_contract.values() for item in found]
        return sorted(every, key=lambda item: (utc(item.since), item.id))

    def stop(self) -> None:
        """Follow the bridge no more (the window is closing)."""
        self._stopped = True
        self._timer.stop()


def count_text(count: int) -> str:
    return (
        f"{count} item{'s' if count != 1 else ''} waiting on you"
        if count
        else "Nothing waits on you"
    )
