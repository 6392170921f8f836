"""What every route and background service of one server process shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.clock import Clock
from core.config import ContractTimeoutConfig, FeatureFlags, ServerSettings
from core.events import LoggedEvent
from core.store.engine import Store
from core.store.repository import ContractRepository
from server.auth import KeyRing
from server.hub import EventHub
from server.metrics import Metrics


class HeadAnnouncer(Protocol):
    """Tells other server processes the log grew (PostgreSQL NOTIFY, coalesced)."""

    def announce(self, seq: int) -> None: ...


class TransientRelay(Protocol):
    """Hands transient (heartbeat) events to other server processes (PostgreSQL, coalesced)."""

    def relay(self, owner: str, wire: dict[str, Any]) -> None: ...


@dataclass
class ServerContext:
    store: Store
    repo: ContractRepository
    hub: EventHub
    keys: KeyRing
    metrics: Metrics
    clock: Clock
    config: ContractTimeoutConfig
    announcer: HeadAnnouncer | None = None  # set on PostgreSQL by the event bridge
    settings: ServerSettings = field(default_factory=ServerSettings)
    relay: TransientRelay | None = None  # set on PostgreSQL by the event bridge
    flags: FeatureFlags = field(default_factory=FeatureFlags)

    async def sweep_revocations(self) -> int:
        """Forget keys revoked since the last sweep and close their monitor sockets."""
        revoked = await self.keys.newly_revoked()
        return self.hub.drop_keys(revoked) if revoked else 0

    def publish(self, events: Sequence[LoggedEvent]) -> None:
        """Hand committed events to local subscribers and announce them to other processes."""
        if not events:
            return
        self.hub.publish(events)
        seqs = [e.seq for e in events if e.seq is not None]
        if self.announcer is not None and seqs:
            self.announcer.announce(max(seqs))
