"""Heartbeat intake: parsing, and a fast path that skips FastAPI's routing.

Heartbeats are the hot path: thousands per second against a few per second of everything
else. Through FastAPI every request costs dependency resolution, body-model validation and
several middleware hops (most of the CPU at load). A heartbeat needs none of it: the key,
the JSON body and the group-commit writer. So `HeartbeatFastPath` answers
`POST /api/v1/contracts/{id}/supervisor/heartbeat` and `POST /api/v1/supervisor/heartbeats`
itself, with the same answers and error bodies as the routes in `server/routes/supervisors.py`
(which stay for requests carrying an `Idempotency-Key`, since replaying those is the
idempotency middleware's job, and for anything this path does not recognise).
It sits inside `RequestGuard`, so body size, NUL characters and request counting are the
guard's; the answer waits for the commit, so a 202 still means durable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from core.errors import ContractNotFound, DomainError, ValidationFailed
from core.supervisor import Heartbeat
from server.auth import KEY_HEADER, key_from_headers
from server.errors import domain_error_answer
from server.request_guard import ASGIApp, Receive, Scope, Send, read_body
from server.routes.feedback import acknowledge_from_heartbeat, acknowledged_ids

MAX_BATCH = 10_000
_SINGLE = re.compile(r"^/api/v1/contracts/([^/]+)/supervisor/heartbeat/?$")
_BATCH = re.compile(r"^/api/v1/supervisor/heartbeats/?$")
_JSON_HEADERS = [(b"content-type", b"application/json")]


def parse_batch(items: Any, now: datetime) -> list[Heartbeat]:
    """The heartbeats of a daemon's batch; an error names the index of the bad item."""
    if not isinstance(items, list):
        raise ValidationFailed("'heartbeats' must be a list", details={"field": "heartbeats"})
    if len(items) > MAX_BATCH:
        raise ValidationFailed(f"At most {MAX_BATCH} heartbeats per batch")
    beats = []
    for index, raw in enumerate(items):
        try:
            beats.append(Heartbeat.parse(raw, None, now))
        except ValidationFailed as error:
            raise ValidationFailed(
                f"heartbeats[{index}]: {error.message}", details={"index": index, **error.details}
            ) from None
    return beats


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _presented_key(scope: Scope) -> str | None:
    auth, key = _header(scope, b"authorization"), _header(scope, KEY_HEADER.encode())
    return key_from_headers(
        auth.decode("latin-1") if auth else None, key.decode("latin-1") if key else None
    )


def _takes(scope: Scope) -> re.Match[str] | None:
    """The path match when this request is the fast path's (else the app's)."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    if _header(scope, b"idempotency-key") is not None:
        return None
    content_type = _header(scope, b"content-type") or b""
    if b"json" not in content_type.lower():
        return None  # the routes answer this with their 400
    return _SINGLE.match(scope["path"]) or _BATCH.match(scope["path"])


class HeartbeatFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _takes(scope)
        if match is None:
            await self.app(scope, receive, send)
            return
        try:
            status, answer = 202, await self._accept(scope, receive, match)
        except DomainError as error:
            status, answer = domain_error_answer(error)
        body = orjson.dumps(answer)
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _accept(
        self, scope: Scope, receive: Receive, match: re.Match[str]
    ) -> Mapping[str, Any]:
        state = scope["app"].state
        ctx, writer = state.ctx, state.heartbeat_writer
        ctx.flags.require("supervisor_heartbeat", "Supervisor heartbeats")  # as the routes
        actor = await ctx.keys.authenticate(_presented_key(scope))
        raw = _json(await read_body(receive, 1 << 30))  # the guard already bounded it
        now = ctx.clock.now()
        contract_id = match.groups()[0] if match.groups() else None
        beats = _beats(raw, contract_id, now)
        # A heartbeat may acknowledge feedback (rare: only then does it cost a write).
        acknowledged = acknowledged_ids(raw) if contract_id is not None else []
        batch = await writer.submit(beats, actor.owner)
        batch.check_tasks(beats, numbered=contract_id is None)
        if contract_id is not None and not batch.accepted:
            raise ContractNotFound(contract_id)
        if contract_id is not None:
            await acknowledge_from_heartbeat(ctx, actor, contract_id, acknowledged)
        return {"accepted": len(batch.accepted)}


def _beats(raw: Any, contract_id: str | None, now: datetime) -> Sequence[Heartbeat]:
    if contract_id is not None:
        return [Heartbeat.parse(raw, contract_id, now)]
    if not isinstance(raw, dict) or "heartbeats" not in raw:
        raise ValidationFailed("body: 'heartbeats' is required", details={"field": "heartbeats"})
    return parse_batch(raw["heartbeats"], now)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ValidationFailed(f"body: JSON decode error: {error}") from None
