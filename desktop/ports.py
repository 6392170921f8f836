"""What the desktop needs of the sync layer, as small Protocols.

The desktop codes against `DeskBackend`, not against `sync.service.SyncService` directly,
so the Qt layer can be tested with an in-process backend (a replica and an outbox on a
temporary file, no server) and so a gap in the service's API is bridged in one adapter
(`desktop.backend`) instead of in every widget.

Connection states are plain strings (the values of sync's `ConnectionState`): "offline",
"connecting", "catching_up", "live".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from core.config import ContractTimeoutConfig
from core.events import LoggedEvent
from sync.outbox import Outbox, OutboxEntry
from sync.replica import Replica

OFFLINE = "offline"
CONNECTING = "connecting"
CATCHING_UP = "catching_up"
LIVE = "live"
CONNECTION_STATES = (OFFLINE, CONNECTING, CATCHING_UP, LIVE)

Unsubscribe = Callable[[], None]


class DeskBackend(Protocol):
    """A running (or offline) sync service as the desktop sees it."""

    @property
    def replica(self) -> Replica:
        """The local replica: every read of the GUI answers from it."""
        ...

    @property
    def outbox(self) -> Outbox:
        """Where every reviewer action is written first."""
        ...

    @property
    def state(self) -> str:
        """The connection state now (one of CONNECTION_STATES)."""
        ...

    @property
    def offline_since(self) -> datetime | None:
        """When the connection was last lost (None: never lost, or live now)."""
        ...

    def on_state(self, callback: Callable[[str], None]) -> Unsubscribe: ...

    def on_contracts(self, callback: Callable[[frozenset[str]], None]) -> Unsubscribe: ...

    def on_outbox(self, callback: Callable[[OutboxEntry], None]) -> Unsubscribe: ...

    def on_events(self, callback: Callable[[tuple[LoggedEvent, ...]], None]) -> Unsubscribe:
        """The events newly applied to the replica (for what no contract row shows)."""
        ...

    def send_soon(self) -> None:
        """Ask the service to flush the outbox now (no-op when offline)."""
        ...

    async def batch_preview(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A batch operation's dry run, asked of the server directly (changes nothing)."""
        ...

    async def server_config(self) -> ContractTimeoutConfig:
        """The server's timing rules (its stale threshold…), asked of it directly."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
