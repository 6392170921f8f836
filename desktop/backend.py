"""`ServiceBackend`: sync's `SyncService` seen as the desktop's `DeskBackend` port.

The adapter fills what the service does not offer (yet): the time the connection was
lost (`offline_since`), a batch dry run asked of the server directly, and observer
subscriptions that survive the service opening its replica late.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from core.clock import Clock, SystemClock
from core.config import ContractTimeoutConfig
from core.events import LoggedEvent
from desktop.ports import CONNECTING, LIVE, OFFLINE, Unsubscribe
from sync.errors import ConnectionFailed
from sync.observers import Observers
from sync.outbox import Outbox, OutboxEntry
from sync.replica import Replica
from sync.service import SyncService

BATCH_OPTIONS = ("older_than_hours", "status_filter", "reason", "stale_threshold_minutes")


class ServiceBackend:
    """Wraps a SyncService; `await start()` before reading `replica` / `outbox`."""

    def __init__(
        self, service: SyncService, *, offline: bool = False, clock: Clock | None = None
    ) -> None:
        self.service = service
        self.offline = offline
        self.clock = clock or SystemClock()
        self._offline_since: datetime | None = None
        self._states: Observers[str] = Observers("desk_state")
        self._contracts: Observers[frozenset[str]] = Observers("desk_contracts")
        self._entries: Observers[OutboxEntry] = Observers("desk_outbox")
        self._events: Observers[tuple[LoggedEvent, ...]] = Observers("desk_events")
        self._unsubscribe: list[Unsubscribe] = []
        self.awaiting_server = False  # set while the embedded server starts (see connect)

    @property
    def replica(self) -> Replica:
        return self.service.replica

    @property
    def outbox(self) -> Outbox:
        return self.service.outbox

    @property
    def state(self) -> str:
        if self.awaiting_server:  # the embedded server is starting: we will connect soon
            return CONNECTING
        return self.service.state.value

    @property
    def offline_since(self) -> datetime | None:
        return None if self.state == LIVE else self._offline_since

    def on_state(self, callback: Callable[[str], None]) -> Unsubscribe:
        return self._states.subscribe(callback)

    def on_contracts(self, callback: Callable[[frozenset[str]], None]) -> Unsubscribe:
        return self._contracts.subscribe(callback)

    def on_outbox(self, callback: Callable[[OutboxEntry], None]) -> Unsubscribe:
        return self._entries.subscribe(callback)

    def on_events(self, callback: Callable[[tuple[LoggedEvent, ...]], None]) -> Unsubscribe:
        return self._events.subscribe(callback)

    def send_soon(self) -> None:
        self.service.kick_flush()

    async def batch_preview(self, params: Mapping[str, Any]) -> dict[str, Any]:
        client = self.service.client
        if client is None:
            raise ConnectionFailed("A batch preview needs the server: the desk is offline")
        options = {k: params[k] for k in BATCH_OPTIONS if params.get(k) is not None}
        preview = await client.batch(str(params["operation"]), dry_run=True, **options)
        return preview.model_dump(mode="json")

    async def server_config(self) -> ContractTimeoutConfig:
        client = self.service.client
        if client is None:
            raise ConnectionFailed("The server's settings need the server: the desk is offline")
        return await client.server_config()

    async def start(self) -> None:
        self._offline_since = self.clock.now()
        self._unsubscribe.append(self.service.state_changed.subscribe(self._state_moved))
        await self.service.start(offline=self.offline)
        self._unsubscribe.append(self.service.contracts_changed.subscribe(self._contracts.publish))
        self._unsubscribe.append(self.service.outbox_changed.subscribe(self._entries.publish))
        self._unsubscribe.append(self.service.events_applied.subscribe(self._events.publish))

    def connect(self, url: str, api_key: str) -> None:
        """Connect a backend started offline (the embedded server answers now)."""
        self.awaiting_server = False
        self.offline = False
        self.service.connect(url, api_key)

    def server_unavailable(self) -> None:
        """The embedded server could not start: the replica is shown as offline."""
        self.awaiting_server = False
        self._states.publish(self.state)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await self.service.stop()

    def _state_moved(self, state: Any) -> None:
        value = str(getattr(state, "value", state))
        if value == OFFLINE and self._offline_since is None:
            self._offline_since = self.clock.now()
        elif value == LIVE:
            self._offline_since = None
        self._states.publish(value)
