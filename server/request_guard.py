"""The outermost middleware: bodies over 1 MiB answer 413, NUL characters and lone UTF-16
surrogates answer 400, and every answer is counted in `http_requests_total`.

The body is read here in full (at most MAX_BODY_BYTES + 1 bytes), whatever Content-Length
claims, and replayed to the app, so an oversized chunked upload is refused as surely as one
that declares its size. NUL characters are refused up front because PostgreSQL cannot store
them in text or JSONB, and a 5xx from deep in the store is never an acceptable answer.
Lone surrogates (`"\\ud800"`, or the raw bytes of one) likewise: Python's JSON reader
accepts them, but neither database can encode them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from core.api.errors import ErrorBody, ErrorCode

MAX_BODY_BYTES = 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


async def send_error(
    send: Send, status: int, code: ErrorCode, message: str, details: dict[str, Any] | None = None
) -> None:
    body = orjson.dumps(ErrorBody.of(code, message, details).to_wire())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; BodyTooLarge as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, then: Receive) -> Receive:
    """A `receive` that hands `body` over once, then passes on to `then` (the real one,
    already drained of the body), so a disconnect is still noticed."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _has_nul(scope: Scope, body: bytes) -> bool:
    query: bytes = scope.get("query_string", b"")
    return (
        "\x00" in scope.get("path", "")
        or b"%00" in query
        or b"\x00" in query
        or b"\\u0000" in body.lower()
        or b"\x00" in body
    )


def lone_surrogate_at(body: bytes) -> str | None:
    """Where in a JSON body a lone surrogate sits ("name", "items[2].id"; "body" for a key
    or the top level), or None when there is none (or the body is not JSON at all: the
    route says so). Cheap for the usual body: only one with a `\\u` escape or an 0xED byte
    (a surrogate's UTF-8 lead) is parsed here."""
    if b"\\u" not in body and b"\xed" not in body:
        return None
    try:
        orjson.loads(body)  # strict: refuses lone surrogates, so success means none
        return None
    except orjson.JSONDecodeError:
        pass
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return _surrogate_path(value, "")


def _surrogate_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return None if value.isascii() or _encodes(value) else (path or "body")
    if isinstance(value, dict):
        for key, item in value.items():
            if not _encodes(key):
                return path or "body"
            found = _surrogate_path(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _surrogate_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _refuse_surrogate(send: Send, where: str) -> None:
    await send_error(
        send,
        400,
        ErrorCode.VALIDATION_FAILED,
        f"'{where}' is not valid Unicode text (a lone UTF-16 surrogate)",
        {"field": where},
    )


def _counting(scope: Scope, send: Send) -> Send:
    """`send`, counting the answer in http_requests_total{method, status} (status class)."""
    metrics = getattr(getattr(scope.get("app"), "state", None), "ctx", None)
    metrics = getattr(metrics, "metrics", None)

    async def counted(message: Message) -> None:
        if metrics is not None and message["type"] == "http.response.start":
            status_class = f"{int(message['status']) // 100}xx"
            metrics.inc("http_requests_total", 1, method=scope["method"], status=status_class)
        await send(message)

    return counted


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body:
            await send_error(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, self._too_large())
            return
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge:
            await send_error(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, self._too_large())
            return
        if _has_nul(scope, body):
            await send_error(
                send, 400, ErrorCode.VALIDATION_FAILED, "NUL characters are not allowed in requests"
            )
            return
        where = lone_surrogate_at(body)
        if where is not None:
            await _refuse_surrogate(_counting(scope, send), where)
            return
        await self.app(scope, replay(body, receive), _counting(scope, send))

    def _too_large(self) -> str:
        return f"Request body exceeds {self.max_body} bytes"
