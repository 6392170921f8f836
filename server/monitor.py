"""`WS /api/v1/contracts/monitor`: the live event stream, resumable by `seq`.

The protocol, in order:

1. The server accepts, then checks the key (`?api_key=`, `Authorization: Bearer`, or
   `x-makima-api-key`). A missing or unknown key closes the socket with code **4401** and
   the reason `UNAUTHORIZED: …` (closing after accept, rather than refusing the handshake
   with 403, lets every client read why, and keeps all refusals in one place: close codes).
2. The client sends one JSON object `{contract_ids?, statuses?, include_stale?,
   include_heartbeats?, after?}` (camelCase accepted too) within `SUBSCRIBE_TIMEOUT`
   seconds. Anything else closes with **4400** and a reason naming the problem.
3. The server subscribes to the hub FIRST, notes L = the hub's last delivered seq, and
   sends `{"type": "subscribed", "last_seq": L}`. With `after` it replays the owner's logged
   events after < seq <= L from the database (paged, filtered like live ones), then forwards
   live events, all > L: so nothing is missed, nothing repeated, seq always increases.
   Transient heartbeats (no seq) are interleaved when `include_heartbeats` is set.
4. When idle for `PING_INTERVAL` seconds the server sends `{"type": "ping"}` (on top of
   uvicorn's protocol-level pings); clients ignore types they do not know.
5. A subscriber whose bounded buffer overflows is closed with **4008** and a reason telling
   it to resume with `after=<the last seq it received>`; other subscribers are unaffected.
   A server shutting down closes with **1001**. When the socket's key is revoked it is
   closed with **4401** (`UNAUTHORIZED: the API key was revoked`) at once.
6. With `[feature_flags] monitoring_dashboard = false` every socket is closed at once with
   **4404** and the reason `FEATURE_DISABLED: …` (before the key is even read).
7. One key holds at most `[server] ws_max_per_key` monitor sockets and the process at most
   `ws_max_total`; a subscription beyond either closes with **4429** and a reason naming
   the limit (close another socket first).

The trap in the replay: the `statuses` filter needs each contract's status *after* each
event, not its status now. `_ReplayStatuses` gets it exactly: the status right after an
event is the `old_status` of the contract's next `status_changed` (or its current status
when there is none), and from there the replayed events themselves keep it up to date.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect, WebSocketState

from core.actors import Actor
from core.api.base import wire_alias
from core.api.events import MonitorSubscription
from core.errors import DomainError, FeatureDisabled
from core.events import EventType, LoggedEvent, MonitorFilter
from core.projection import StatusBook
from core.store.engine import Store
from core.store.queries import MAX_LIMIT, events_after
from core.store.schema import contracts, events
from core.store.unit_of_work import ReadUnitOfWork
from server.auth import KEY_HEADER, hash_key, key_from_headers
from server.context import ServerContext
from server.hub import Subscriber

log = logging.getLogger(__name__)

router = APIRouter()

PING_INTERVAL = 20.0
SUBSCRIBE_TIMEOUT = 30.0

CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SLOW_CONSUMER = 4008
CLOSE_BAD_SUBSCRIPTION = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_MANY = 4429
CLOSE_FEATURE_DISABLED = 4404

_PING = '{"type":"ping"}'
_MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


class BadSubscription(Exception):
    """The first message is not a valid subscription; the text is the close reason."""


@router.websocket("/api/v1/contracts/monitor")
async def monitor(websocket: WebSocket) -> None:
    await websocket.accept()
    ctx: ServerContext = websocket.app.state.ctx
    try:
        ctx.flags.require("monitoring_dashboard", "The monitor stream")
    except FeatureDisabled as error:
        await _close(websocket, CLOSE_FEATURE_DISABLED, f"FEATURE_DISABLED: {error.message}")
        return
    key = presented_key(websocket)
    try:
        actor = await ctx.keys.authenticate(key)
    except DomainError as error:
        await _close(websocket, CLOSE_UNAUTHORIZED, f"UNAUTHORIZED: {error.message}")
        return
    try:
        wanted = await _read_subscription(websocket)
    except BadSubscription as problem:
        await _close(websocket, CLOSE_BAD_SUBSCRIPTION, str(problem))
        return
    except WebSocketDisconnect:
        return
    key_hash = hash_key(key or "")
    too_many = _over_limit(ctx, key_hash)
    if too_many is not None:
        await _close(websocket, CLOSE_TOO_MANY, too_many)
        return
    await MonitorSession(ctx, websocket, actor, wanted, key_hash).run()


def _over_limit(ctx: ServerContext, key_hash: str) -> str | None:
    """Why one more subscriber is refused (None: it is not). Checked right before
    `subscribe`, with no await in between, so concurrent handshakes cannot both slip in."""
    limits = ctx.settings
    if ctx.hub.subscriber_count >= limits.ws_max_total:
        return f"TOO_MANY_SUBSCRIBERS: the server holds its limit of {limits.ws_max_total}"
    if ctx.hub.subscribers_of(key_hash) >= limits.ws_max_per_key:
        return (
            f"TOO_MANY_SUBSCRIBERS: this key holds its limit of {limits.ws_max_per_key}; "
            "close one first"
        )
    return None


def presented_key(websocket: WebSocket) -> str | None:
    """The API key from `?api_key=`, `Authorization: Bearer`, or `x-makima-api-key`."""
    headers = websocket.headers
    in_headers = key_from_headers(headers.get("authorization"), headers.get(KEY_HEADER))
    return in_headers or websocket.query_params.get("api_key") or None


async def _read_subscription(websocket: WebSocket) -> MonitorFilter:
    try:
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
            message = await websocket.receive()
    except TimeoutError:
        raise BadSubscription(
            f"expected a subscription message within {SUBSCRIBE_TIMEOUT:g} s"
        ) from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None and message.get("bytes") is not None:
        text = message["bytes"].decode("utf-8", "replace")
    try:
        raw = orjson.loads(text or "")
    except orjson.JSONDecodeError:
        raise BadSubscription("the subscription must be a JSON object") from None
    return parse_subscription(raw)


def parse_subscription(raw: Any) -> MonitorFilter:
    """The first message as a MonitorFilter; every problem is a BadSubscription."""
    if not isinstance(raw, Mapping):
        raise BadSubscription("the subscription must be a JSON object")
    try:
        return MonitorSubscription.model_validate(raw).to_filter()
    except ValidationError as invalid:
        raise BadSubscription(_problem(invalid.errors()[0])) from None


_VALID = tuple(name for name in MonitorSubscription.model_fields if name != "type")
_PROBLEMS = {
    "contract_ids": "contract_ids must be a list of contract ids",
    "statuses": "statuses must be a list of statuses",
    "include_stale": "include_stale must be true or false",
    "include_heartbeats": "include_heartbeats must be true or false",
    "after": "after must be a whole number >= 0 (a seq)",
    "type": "type must be 'subscribe'",
}


def _problem(error: Any) -> str:
    """The close reason for pydantic's first complaint, naming the key."""
    key = str(error["loc"][0]) if error.get("loc") else ""
    if error.get("type") == "extra_forbidden":
        return f"unknown key {key[:40]!r}; valid: " + ", ".join(_VALID)
    name = next((n for n in _PROBLEMS if key in (n, wire_alias(n))), key)
    message = str(error.get("msg", ""))
    if name == "statuses" and "unknown status" in message:
        return message.removeprefix("Value error, ")
    return _PROBLEMS.get(name, f"{key}: {message}")


class MonitorSession:
    """One subscribed connection: replay, then live frames, until one side stops."""

    def __init__(
        self,
        ctx: ServerContext,
        websocket: WebSocket,
        actor: Actor,
        wanted: MonitorFilter,
        key_hash: str = "",
    ) -> None:
        self._ctx = ctx
        self._ws = websocket
        self._owner = actor.owner
        self._filter = wanted
        self._key_hash = key_hash

    async def run(self) -> None:
        hub = self._ctx.hub
        sub = hub.subscribe(self._owner, self._filter, self._key_hash)  # first: see the doc
        head = hub.last_seq
        tasks: list[asyncio.Task[Any]] = []
        try:
            await self._ws.send_text(f'{{"type":"subscribed","last_seq":{head}}}')
            loop = asyncio.get_running_loop()
            stream = loop.create_task(self._stream(sub, head))
            gone = loop.create_task(self._until_client_leaves())
            dropped = loop.create_task(sub.closed.wait())
            tasks = [stream, gone, dropped]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            await self._finish(sub, stream, dropped)
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # the client went away mid-send
        finally:
            hub.unsubscribe(sub)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _finish(
        self, sub: Subscriber, stream: asyncio.Task[None], dropped: asyncio.Task[Any]
    ) -> None:
        if dropped.done():
            stream.cancel()
            if sub.revoked:
                await _close(self._ws, CLOSE_UNAUTHORIZED, sub.dropped_reason or "revoked")
            elif sub.dropped_reason is not None:
                await _close(self._ws, CLOSE_SLOW_CONSUMER, sub.dropped_reason)
            else:
                await _close(self._ws, CLOSE_GOING_AWAY, "server shutting down; resume with after")
        elif stream.done() and not stream.cancelled() and stream.exception() is not None:
            error = stream.exception()
            if not isinstance(error, WebSocketDisconnect | OSError | RuntimeError):
                log.error("monitor stream failed", exc_info=error)
                await _close(self._ws, CLOSE_INTERNAL_ERROR, "internal error; resume with after")

    async def _stream(self, sub: Subscriber, head: int) -> None:
        after = self._filter.after
        if after is not None and after < head:
            await self._replay(after, head)
        await self._forward(sub.queue)

    async def _replay(self, after: int, head: int) -> None:
        """Send the owner's logged events with after < seq <= head that the filter wants."""
        ids = self._filter.contract_ids
        only = next(iter(ids)) if ids is not None and len(ids) == 1 else None
        statuses = _ReplayStatuses(self._ctx.store) if self._filter.statuses else None
        cursor = after
        while cursor < head:
            page = await events_after(
                self._ctx.store, self._owner, after=cursor, contract_id=only, limit=MAX_LIMIT
            )
            upto = [e for e in page.events if e.seq is not None and e.seq <= head]
            if statuses is not None:
                await statuses.learn(upto)
            for event in upto:
                status = statuses.after(event) if statuses is not None else None
                if self._filter.wants(event.type, event.contract_id, status):
                    await self._ws.send_text(orjson.dumps(event.to_wire()).decode())
            if len(page.events) < MAX_LIMIT:
                return
            cursor = page.last_seq

    async def _forward(self, queue: asyncio.Queue[bytes]) -> None:
        send = self._ws.send_text
        while True:
            try:
                frame = queue.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    async with asyncio.timeout(PING_INTERVAL):
                        frame = await queue.get()
                except TimeoutError:
                    await send(_PING)
                    continue
            await send(frame.decode())

    async def _until_client_leaves(self) -> None:
        """Read (and ignore) what the client sends until it disconnects."""
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return


class _ReplayStatuses:
    """Each contract's status right after each replayed event (for the `statuses` filter)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._status = StatusBook()

    async def learn(self, page: Sequence[LoggedEvent]) -> None:
        """Look up the status after its first event in `page` of every new contract."""
        first: dict[str, int] = {}
        for event in page:
            if not self._status.knows(event.contract_id) and event.seq is not None:
                first.setdefault(event.contract_id, event.seq)
        if first:
            self._status.learn(await self._store.run_read(lambda uow: _statuses_at(uow, first)))

    def after(self, event: LoggedEvent) -> str | None:
        """The contract's status after `event` (None: unknown, e.g. deleted since)."""
        return self._status.track(event)


def _statuses_at(uow: ReadUnitOfWork, first: Mapping[str, int]) -> dict[str, str | None]:
    """For each contract, its status right after its event `first[contract]`."""
    e = events.c
    found: dict[str, str | None] = {}
    for contract_id, seq in first.items():
        next_change = (
            select(e.payload)
            .where(e.contract_id == contract_id, e.seq > seq)
            .where(e.type == EventType.STATUS_CHANGED.value)
            .order_by(e.seq)
            .limit(1)
        )
        payload = uow.conn.scalar(next_change)
        if isinstance(payload, Mapping) and payload.get("old_status"):
            found[contract_id] = str(payload["old_status"])
        else:
            current = select(contracts.c.status).where(contracts.c.id == contract_id)
            found[contract_id] = uow.conn.scalar(current)
    return found


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state is WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):  # already gone: nothing left to tell it
        await websocket.close(code=code, reason=_fit(reason))


def _fit(reason: str) -> str:
    data = reason.encode()
    if len(data) <= _MAX_REASON_BYTES:
        return reason
    return data[: _MAX_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."
