"""The monitor's connection side: the WebSocket seam, its default, the URL and the backoff.

`ConnectionFactory` is the seam tests use to hand `MonitorClient` a fake connection; the
default opens a real WebSocket with the `websockets` library.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import websockets

from sync.api_session import ssl_context

MONITOR_PATH = "/api/v1/contracts/monitor"
PING_INTERVAL = 20.0  # protocol-level keep-alive; the server also sends {"type": "ping"}


class MonitorConnection(Protocol):
    """What the client needs of a WebSocket (websockets' ClientConnection has it)."""

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self) -> None: ...


ConnectionFactory = Callable[[str, Mapping[str, str]], Awaitable[MonitorConnection]]


def websocket_connector(verify: bool | str = True) -> ConnectionFactory:
    """The default factory: websockets with protocol-level keep-alive pings; for wss://
    the certificate is checked like the HTTP client does (`verify`, see ssl_context)."""
    context = ssl_context(verify)

    async def connect(url: str, headers: Mapping[str, str]) -> MonitorConnection:
        tls: ssl.SSLContext | None = None
        if url.startswith("wss://"):
            tls = context if isinstance(context, ssl.SSLContext) else _unverified()
        connection: MonitorConnection = await websockets.connect(
            url,
            additional_headers=dict(headers),
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_INTERVAL,
            open_timeout=10,
            ssl=tls,
        )
        return connection

    return connect


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def monitor_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + MONITOR_PATH


class Backoff:
    """Waits between reconnects: base * 2**n, capped, scaled by a jitter in [0.5, 1].

    Half-jitter (not full) so the wait still grows visibly while spreading clients out.
    `delays` keeps every wait handed out, for tests and diagnostics.
    """

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 30.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.base = base
        self.cap = cap
        self._jitter = jitter
        self.attempt = 0
        self.delays: list[float] = []

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2.0**self.attempt)
        delay = ceiling * (0.5 + self._jitter() / 2)
        self.attempt += 1
        self.delays.append(delay)
        return delay

    def reset(self) -> None:
        self.attempt = 0
