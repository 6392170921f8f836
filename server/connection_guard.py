"""Connection limits below the ASGI app: uvicorn's httptools protocol, with deadlines and a cap.

uvicorn closes a keep-alive connection that idles between requests, but a connection that
never sends a request, or sends its head or body a byte at a time, it keeps forever, and its
`limit_concurrency` counts the health check against the same limit and answers in plain text.
`GuardedHttpProtocol` adds, per `ServerSettings` (SECURITY.md, "Limits"):

- a head deadline: the request line and headers must arrive within `header_timeout_seconds`
  of the connection opening (or of the next request's first byte), else the socket closes;
- a body deadline: a body that pauses longer than `body_timeout_seconds` closes the socket;
- a cap: beyond `max_connections` open connections a request gets `503 UNAVAILABLE` with
  the API's error body, except `GET /health`, which keeps `health_reserve` connections of its
  own; beyond both, a new connection gets the 503 at once and is closed.

The limits are process-wide (`configure`, called where the server's settings are read,
including in every `--workers` child through `app_from_env`).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.api.errors import ErrorBody, ErrorCode
from core.config import ServerSettings
from server.request_guard import Receive, Scope, Send, send_error

log = logging.getLogger(__name__)

# File descriptors kept for the database pool, logs and the event bridge whatever the load.
FD_RESERVE = 128
HEALTH_PATH = b"/health"

_settings = ServerSettings()
_max_connections = _settings.max_connections


def raise_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)
    return soft


def configure(settings: ServerSettings) -> int:
    """Use `settings` for every connection of this process; returns the effective cap (the
    setting, lowered to what the open-file limit allows after the database's reserve)."""
    global _settings, _max_connections  # noqa: PLW0603 - one process-wide policy
    soft = raise_file_limit()
    _settings = settings
    room = max(1, soft - FD_RESERVE - settings.health_reserve)
    _max_connections = min(settings.max_connections, room)
    if _max_connections < settings.max_connections:
        log.warning("max_connections lowered to %d by the open-file limit", _max_connections)
    return _max_connections


BUSY_CODE = ErrorCode.SERVICE_UNAVAILABLE
BUSY_MESSAGE = "The server is at its connection limit; retry shortly"


async def unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    del scope, receive
    await send_error(send, 503, BUSY_CODE, BUSY_MESSAGE)


def _raw_unavailable() -> bytes:
    body = orjson.dumps(ErrorBody.of(BUSY_CODE, BUSY_MESSAGE, None).to_wire())
    head = (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and the cap of the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > _max_connections + _settings.health_reserve:
            transport.write(_raw_unavailable())
            transport.close()
            return
        self._arm(_settings.header_timeout_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm(_settings.header_timeout_seconds)

    def on_headers_complete(self) -> None:
        self._disarm()
        if len(self.connections) <= _max_connections or self._asks_health():
            super().on_headers_complete()
        else:
            app, self.app = self.app, unavailable
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._arm(_settings.body_timeout_seconds)  # until the body is complete

    def on_body(self, body: bytes) -> None:
        self._arm(_settings.body_timeout_seconds)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _asks_health(self) -> bool:
        try:
            return bool(httptools.parse_url(self.url).path == HEALTH_PATH)
        except httptools.HttpParserInvalidURLError:
            return False

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
