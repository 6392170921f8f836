"""The Qt adapter over the sync service: plain callbacks in, Qt signals out.

`SyncBridge` subscribes to the backend's observers (connection state, changed contract ids,
outbox entries) and re-emits them as signals on the GUI thread. Changed contract ids are
coalesced: however many events arrive, the bridge reads the changed rows from the replica
once per tick (`TICK_MS`) and hands models one list (`contractsUpdated`) — never a reset
per event, so 1,000 events a second cost ten small reads.

It also keeps the one in-memory copy of every contract (`contracts`) that the table model,
the alerts and the dashboard's stale rows share, and turns changes into alerts for the
notifier: a contract that starts waiting for an answer or a confirmation, and a contract
that goes stale (once per quiet episode).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from core.attention import waiting_on_reviewer
from core.clock import Clock, SystemClock, utc
from core.config import ContractTimeoutConfig
from core.dashboard import Dashboard
from core.errors import ContractNotFound, DomainError
from core.events import EventType, LoggedEvent
from core.model import Contract, Question, QuestionStatus
from core.projection import describe
from core.status import WaitingFor
from core.store.queries import SupervisorStatus
from core.supervisor import Heartbeat
from core.timing import stale_duration
from desktop.operations import Operations, TaskRunner, describe_error
from desktop.ports import LIVE, OFFLINE, DeskBackend
from desktop.times import duration_text
from sync.errors import ApiError
from sync.outbox import OutboxEntry
from sync.replica import Replica, ReplicaDetail

log = logging.getLogger(__name__)

TICK_MS = 100  # contract changes are read from the replica at most this often
STALE_SCAN_MS = 5_000  # how often the in-memory copy is checked for stale contracts
MAX_STALE_ALERTS = 10  # per scan: a thousand contracts going stale at once is one story
QUESTIONS_MS = 500  # questionsChanged at most this often
ALERT_FEED_MS = 1_000  # the notifier recounts what waits at most this often
PAGE = 1000


@dataclass(frozen=True, slots=True)
class ContractSnapshot:
    """Everything the detail view shows of one contract, read from the replica."""

    detail: ReplicaDetail
    history: tuple[LoggedEvent, ...]
    supervisor: SupervisorStatus | None
    heartbeats: tuple[Heartbeat, ...]
    outbox: tuple[OutboxEntry, ...]

    @property
    def contract(self) -> Contract:
        return self.detail.contract


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """The settings that shape alerts (from the settings dialog)."""

    stale_threshold: timedelta = timedelta(minutes=30)
    notifications: bool = True
    heartbeat_timeout: timedelta = timedelta(seconds=120)


def is_stale(contract: Contract, now: datetime, threshold: timedelta) -> bool:
    """Stale by core's rule (active and quiet longer than `threshold`), for a GUI threshold."""
    return stale_duration(contract, now, threshold) is not None


class SyncBridge(QObject):
    """Signals over a `DeskBackend`; `replica` for reads, `operations` for actions."""

    connectionStateChanged = Signal(str)
    contractsChanged = Signal(list)  # ids, once per tick
    contractsUpdated = Signal(list)  # the changed Contract objects, once per tick
    contractsRemoved = Signal(list)  # ids that are gone from the replica
    contractsLoaded = Signal()  # the first full load is in `contracts`
    questionsChanged = Signal()
    outboxChanged = Signal(str)  # entry id
    outboxEntry = Signal(object)  # the OutboxEntry itself
    conflict = Signal(object)  # an OutboxEntry that just entered CONFLICT
    alert = Signal(dict)  # {kind, contract_id, name, text}
    staleScanned = Signal()  # the periodic stale scan ran (time alone changes staleness)
    serverConfigChanged = Signal(object)  # the server's ContractTimeoutConfig, newly learnt
    operationFailed = Signal(str, str)  # title, message: the one error presenter

    def __init__(
        self,
        backend: DeskBackend,
        runner: TaskRunner,
        *,
        clock: Clock | None = None,
        config: ContractTimeoutConfig | None = None,
        policy: AlertPolicy | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.backend = backend
        self.runner = runner
        self.clock = clock or SystemClock()
        self.config = config or ContractTimeoutConfig()
        self.policy = policy or AlertPolicy()
        self.contracts: dict[str, Contract] = {}
        self.loaded = False
        self._pending: set[str] = set()
        self._stale_alerted: dict[str, datetime] = {}
        self._reading = False
        self.operations = Operations(backend, runner, self)
        self.operations.operationFailed.connect(self.operationFailed)
        self.alert.connect(lambda found: log.info("alert %(kind)s: %(name)s: %(text)s", found))
        self._tick = QTimer(self, singleShot=True, interval=TICK_MS)
        self._tick.timeout.connect(self._flush_pending)
        # Questions are re-read by their panel: at most once per QUESTIONS_MS, not per tick.
        self._questions_tick = QTimer(self, singleShot=True, interval=QUESTIONS_MS)
        self._questions_tick.timeout.connect(self.questionsChanged)
        self._stale_timer = QTimer(self, interval=STALE_SCAN_MS)
        self._stale_timer.timeout.connect(self.scan_stale)
        self._unsubscribe: list[Callable[[], None]] = [
            backend.on_state(self._on_state),
            backend.on_contracts(self._on_contracts),
            backend.on_outbox(self._on_outbox),
            backend.on_events(self._on_events),
        ]

    # --- accessors -----------------------------------------------------------------------

    @property
    def replica(self) -> Replica:
        return self.backend.replica

    @property
    def state(self) -> str:
        return self.backend.state

    @property
    def offline_since(self) -> datetime | None:
        return self.backend.offline_since

    def set_stale_threshold(self, minutes: float) -> None:
        """The threshold the dashboard and the stale filter use until the server's is known
        (the value remembered from the last connection)."""
        self.config = replace(self.config, stale_threshold_minutes=minutes)
        self.policy = replace(self.policy, stale_threshold=timedelta(minutes=minutes))

    def set_policy(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self._stale_alerted.clear()

    def use_server_config(self, config: ContractTimeoutConfig) -> None:
        """The server's timing rules become the desk's: the dashboard, the table's filter,
        the alerts and the settings all show staleness by the server's one threshold."""
        self.config = config
        self.policy = replace(
            self.policy,
            stale_threshold=config.stale_threshold,
            heartbeat_timeout=config.heartbeat_timeout,
        )
        self.serverConfigChanged.emit(config)
        self.scan_stale()

    async def _learn_server_config(self) -> None:
        try:
            found = await self.backend.server_config()
        except (ApiError, DomainError) as error:  # an older server, or gone again: keep ours
            log.info("the server's settings are unknown (%s): keeping the remembered ones", error)
            return
        if found != self.config:
            self.use_server_config(found)

    def waiting_count(self) -> int:
        return sum(1 for c in self.contracts.values() if waiting_on_reviewer(c) is not None)

    # --- life ----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Load every contract from the replica, then follow changes."""
        self._stale_timer.start()
        if self.state == LIVE:  # connected before we listened: no state change will tell us
            self._spawn_learning()
        return self.runner.spawn(self._load_all(), self._failed("Loading contracts"))

    def close(self) -> None:
        """Stop timers and observers (the backend itself is stopped by its owner)."""
        self._tick.stop()
        self._questions_tick.stop()
        self._stale_timer.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def _failed(self, title: str) -> Callable[[BaseException], None]:
        return lambda error: self.operationFailed.emit(title, describe_error(error))

    async def _load_all(self) -> None:
        found: dict[str, Contract] = {}
        offset = 0
        while True:
            page = await self.replica.list_contracts(limit=PAGE, offset=offset, now=self.now())
            found.update((c.id, c) for c in page.contracts)
            offset += PAGE
            if offset >= page.total or not page.contracts:
                break
        self.contracts = found
        self.loaded = True
        self.contractsUpdated.emit(list(found.values()))
        self.contractsLoaded.emit()
        self.questionsChanged.emit()
        self.scan_stale()

    def now(self) -> datetime:
        return self.clock.now()

    # --- observers -----------------------------------------------------------------------

    def _on_state(self, state: str) -> None:
        value = str(getattr(state, "value", state))
        self.connectionStateChanged.emit(value)
        if value == LIVE:  # (re)connected: the server's settings may be new or changed
            self._spawn_learning()

    def _spawn_learning(self) -> None:
        self.runner.spawn(self._learn_server_config(), self._failed("Server settings"))

    def _on_contracts(self, ids: frozenset[str]) -> None:
        self._pending.update(ids)
        if not self._tick.isActive() and not self._reading:
            self._tick.start()

    def _on_events(self, events: tuple[LoggedEvent, ...]) -> None:
        """A restored supervisor's pending questions are asked of the reviewer again
        (`question_redelivered`): no row changes, so the event itself raises the alert."""
        if not self.policy.notifications:
            return
        for event in events:
            contract = self.contracts.get(event.contract_id)
            if event.type is EventType.QUESTION_REDELIVERED and contract is not None:
                self.alert.emit(_alert("question", contract, describe(event.type, event.payload)))

    def _on_outbox(self, entry: OutboxEntry) -> None:
        self.outboxChanged.emit(str(entry.id))
        self.outboxEntry.emit(entry)
        if entry.state.value == "conflict":
            self.conflict.emit(entry)

    def _flush_pending(self) -> None:
        if not self._pending or self._reading:
            return
        ids, self._pending = self._pending, set()
        self._reading = True
        self.runner.spawn(self._read_changed(ids), self._failed("Reading changes"))

    async def _read_changed(self, ids: set[str]) -> None:
        try:
            found = await self.replica.contracts_by_id(ids)
            fresh = self._apply(found, [i for i in ids if i not in found])
            await self._alert_waiting(fresh)
        finally:
            self._reading = False
            if self._pending:
                self._tick.start()

    def _apply(self, found: dict[str, Contract], removed: list[str]) -> list[Contract]:
        """Update the copy, tell the models; returns contracts that just started waiting."""
        before = {i: self.contracts.get(i) for i in found}
        self.contracts.update(found)
        for gone in removed:
            self.contracts.pop(gone, None)
        if found:
            self.contractsUpdated.emit(list(found.values()))
        if removed:
            self.contractsRemoved.emit(removed)
        self.contractsChanged.emit(sorted([*found, *removed]))
        if not self._questions_tick.isActive():
            self._questions_tick.start()
        if not self.loaded:
            return []
        return [c for i, c in found.items() if _starts_waiting(before[i], c)]

    # --- alerts --------------------------------------------------------------------------

    async def _alert_waiting(self, fresh: Iterable[Contract]) -> None:
        if not self.policy.notifications:
            return
        for contract in fresh:
            self.alert.emit(await self._waiting_alert(contract))

    async def _waiting_alert(self, contract: Contract) -> dict[str, Any]:
        if contract.waiting_for is WaitingFor.PHASE_CONFIRMATION:
            pending = contract.pending_confirmation
            target = pending.next_phase if pending else "the next phase"
            text = f"Confirm the move from '{contract.phase}' to '{target}'"
            return _alert("phase_confirmation", contract, text)
        if contract.waiting_for is WaitingFor.PHASE_READY:
            # The gate is met but auto-advance (or auto-complete) is off: a human moves it.
            text = f"Phase '{contract.phase}' is ready: advance it when you are"
            return _alert("phase_ready", contract, text)
        questions = await self.replica.questions(
            status=QuestionStatus.PENDING, contract_id=contract.id
        )
        text = questions[0].question if questions else "A question is waiting for an answer"
        return _alert("question", contract, text)

    def scan_stale(self) -> list[dict[str, Any]]:
        """Alert once per quiet episode for contracts stale by the GUI's threshold.

        At most MAX_STALE_ALERTS per scan, longest quiet first; the rest are marked as
        alerted too (the dashboard and the tray's count show them all).
        """
        if not self.loaded:
            return []
        now = self.now()
        fresh = []
        threshold = self.policy.stale_threshold
        for contract in self.contracts.values():
            if not is_stale(contract, now, threshold):
                continue
            episode = utc(contract.last_activity_at)
            if self._stale_alerted.get(contract.id) == episode:
                continue
            self._stale_alerted[contract.id] = episode
            fresh.append((episode, contract))
        fresh.sort(key=lambda pair: pair[0])
        alerts = []
        for episode, contract in fresh[:MAX_STALE_ALERTS]:
            quiet = duration_text(int((now - episode).total_seconds()))
            alerts.append(_alert("stale", contract, f"No activity for {quiet}"))
        if self.policy.notifications:
            for found in alerts:
                self.alert.emit(found)
        self.staleScanned.emit()
        return alerts

    # --- reads for views -----------------------------------------------------------------

    async def snapshot(self, contract_id: str) -> ContractSnapshot:
        """The detail of one contract, from the replica alone (works offline)."""
        detail = await self.replica.contract(contract_id)
        history = await self.replica.history(contract_id)
        timeout = self.config.heartbeat_timeout
        supervisor = await self.replica.supervisor_status(
            contract_id, now=self.now(), heartbeat_timeout=timeout
        )
        beats = await self.replica.heartbeats(contract_id, limit=10)
        outbox = await self.backend.outbox.entries(contract_id=contract_id)
        return ContractSnapshot(detail, tuple(history), supervisor, tuple(beats), tuple(outbox))

    async def dashboard(self) -> Dashboard:
        return await self.replica.dashboard(now=self.now(), config=self.config)

    async def liveness(self, contract_ids: Iterable[str]) -> dict[str, SupervisorStatus | None]:
        """Supervisor status per contract (for the dashboard's stale rows)."""
        found: dict[str, SupervisorStatus | None] = {}
        for contract_id in contract_ids:
            try:
                found[contract_id] = await self.replica.supervisor_status(
                    contract_id, now=self.now(), heartbeat_timeout=self.config.heartbeat_timeout
                )
            except ContractNotFound:
                found[contract_id] = None
        return found

    async def pending_questions(self) -> list[Question]:
        return await self.replica.questions(status=QuestionStatus.PENDING)

    async def outbox_entries(self) -> list[OutboxEntry]:
        return await self.backend.outbox.entries()

    @property
    def is_offline(self) -> bool:
        return self.state == OFFLINE


def _starts_waiting(before: Contract | None, after: Contract) -> bool:
    """Whether `after` starts waiting on the reviewer for an answer or a phase confirmation
    (core.attention's rule). A completion confirmation is listed, not popped up: the
    contract completes by itself when its grace period ends."""
    waits = waiting_on_reviewer(after)
    if waits is None or waits is WaitingFor.COMPLETION_CONFIRMATION:
        return False
    return before is None or waiting_on_reviewer(before) != waits


def _alert(kind: str, contract: Contract, text: str) -> dict[str, Any]:
    return {"kind": kind, "contract_id": contract.id, "name": contract.name, "text": text}


class AlertFeed(QObject):
    """The bridge as the notifier sees it: alerts at once, changes throttled, and only the
    contracts that can need the reviewer.

    The notifier recounts what waits over every contract it is given, on each change; at
    1,000 events a second over 10,000 contracts that must not run ten times a second over
    all of them. So `contractsChanged` fires at most once per `interval_ms`, and `contracts`
    holds only those waiting for input or active and quiet for half the stale threshold
    (a superset of the stale ones, refreshed on each change and each stale scan).
    """

    alert = Signal(dict)
    contractsChanged = Signal(list)

    def __init__(self, bridge: SyncBridge, interval_ms: int = ALERT_FEED_MS) -> None:
        super().__init__(bridge)
        self.bridge = bridge
        self.contracts: dict[str, Contract] = {}
        self._changed: set[str] = set()
        self._timer = QTimer(self, singleShot=True, interval=interval_ms)
        self._timer.timeout.connect(self._emit)
        bridge.alert.connect(self.alert)
        bridge.contractsUpdated.connect(self._updated)
        bridge.contractsRemoved.connect(self._removed)
        bridge.staleScanned.connect(self._rescan)

    def _updated(self, contracts: list[Contract]) -> None:
        now = self.bridge.now()
        half = self.bridge.policy.stale_threshold / 2
        for contract in contracts:
            held = contract.id in self.contracts
            if waiting_on_reviewer(contract) is not None or is_stale(contract, now, half):
                self.contracts[contract.id] = contract
            elif held:
                del self.contracts[contract.id]
            else:
                continue
            self._changed.add(contract.id)
        self._schedule()

    def _removed(self, ids: list[str]) -> None:
        for gone in ids:
            if self.contracts.pop(gone, None) is not None:
                self._changed.add(gone)
        self._schedule()

    def _rescan(self) -> None:
        self._updated(list(self.bridge.contracts.values()))

    def _schedule(self) -> None:
        if self._changed and not self._timer.isActive():
            self._timer.start()

    def _emit(self) -> None:
        ids, self._changed = sorted(self._changed), set()
        self.contractsChanged.emit(ids)

    def stop(self) -> None:
        self._timer.stop()
