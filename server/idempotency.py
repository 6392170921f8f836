"""`Idempotency-Key`: the first answer to a key is kept 24 h and replayed to repeats.

A POST, PUT, PATCH or DELETE carrying the header is looked up by (owner, key) in
`idempotency_records`: the same request (method, path, query and body hash) gets the first
status and body back without running again; a different request with the same key gets
422 IDEMPOTENCY_KEY_REUSED. Answers of 5xx are not recorded (the change did not happen; a
retry should run). Requests without a valid API key pass through to answer 401.

Traps: two identical requests arriving together in one process must not both apply, so each
(owner, key) has an asyncio lock held from the lookup until the record is written. The
record is written after the change committed, in its own transaction; a crash in between
loses only the record, and the retried request then meets the ordinary rules (a version
check, "already answered", ...) rather than applying twice silently.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from starlette.requests import Request

from core.actors import Actor
from core.api.errors import ErrorBody, ErrorCode
from core.errors import DomainError, IdempotencyKeyReused
from core.store.schema import idempotency_records
from core.store.unit_of_work import ReadUnitOfWork, WriteUnitOfWork
from server.context import ServerContext
from server.deps import presented_key
from server.errors import domain_error_answer
from server.request_guard import ASGIApp, Message, Receive, Scope, Send, read_body, replay

HEADER = b"idempotency-key"
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 200
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_R = idempotency_records.c


@dataclass(frozen=True, slots=True)
class Recorded:
    request_hash: str
    status: int
    body: bytes


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyRecords:
    """The table's reads and writes, and the per-key locks of this process."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def locked(self, owner: str, key: str) -> AsyncIterator[None]:
        """Hold the (owner, key) lock; the lock is forgotten once nobody holds or waits."""
        ident = (owner, key)
        lock, users = self._locks.get(ident, (asyncio.Lock(), 0))
        self._locks[ident] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[ident]
            if users <= 1:
                del self._locks[ident]
            else:
                self._locks[ident] = (lock, users - 1)

    async def find(self, owner: str, key: str) -> Recorded | None:
        cutoff = self.ctx.clock.now() - RETENTION
        query = select(_R.request_hash, _R.status_code, _R.body).where(
            _R.owner == owner, _R.key == key, _R.created_at >= cutoff
        )

        def work(uow: ReadUnitOfWork) -> Recorded | None:
            row = uow.conn.execute(query).first()
            return None if row is None else Recorded(row[0], row[1], row[2].encode())

        return await self.ctx.store.run_read(work)

    async def remember(self, owner: str, key: str, recorded: Recorded) -> None:
        now: datetime = self.ctx.clock.now()
        expired = delete(idempotency_records).where(
            and_(_R.owner == owner, _R.key == key, _R.created_at < now - RETENTION)
        )
        values = {
            "owner": owner,
            "key": key,
            "request_hash": recorded.request_hash,
            "status_code": recorded.status,
            "body": recorded.body.decode("utf-8", errors="replace"),
            "created_at": now,
        }

        def work(uow: WriteUnitOfWork) -> None:
            uow.conn.execute(expired)
            insert = postgresql.insert if uow.dialect == "postgresql" else sqlite.insert
            uow.conn.execute(insert(idempotency_records).values(values).on_conflict_do_nothing())

        await self.ctx.store.run_write(work)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1").strip()
            return text or None
    return None


async def _send_json(send: Send, status: int, body: bytes, replayed: bool = False) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, error: DomainError) -> None:
    status, body = domain_error_answer(error)
    await _send_json(send, status, orjson.dumps(body))


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._records: IdempotencyRecords | None = None

    def _records_for(self, ctx: ServerContext) -> IdempotencyRecords:
        if self._records is None or self._records.ctx is not ctx:
            self._records = IdempotencyRecords(ctx)
        return self._records

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, HEADER) if scope["type"] == "http" else None
        if key is None or scope.get("method") not in MUTATING:
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH:
            await _send_json(
                send,
                400,
                orjson.dumps(
                    ErrorBody.of(
                        ErrorCode.VALIDATION_FAILED,
                        f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters",
                        None,
                    ).to_wire()
                ),
            )
            return
        request = Request(scope)
        ctx: ServerContext = scope["app"].state.ctx
        try:
            actor: Actor = await ctx.keys.authenticate(presented_key(request))
        except DomainError:
            await self.app(scope, receive, send)  # the route answers 401
            return
        request.state.actor = actor
        body = await read_body(receive, 2**31)
        digest = request_hash(scope["method"], scope["path"], scope.get("query_string", b""), body)
        records = self._records_for(ctx)
        async with records.locked(actor.owner, key):
            found = await records.find(actor.owner, key)
            if found is not None:
                if found.request_hash != digest:
                    await _send_error(send, IdempotencyKeyReused())
                else:
                    await _send_json(send, found.status, found.body, replayed=True)
                return
            status, answer = await self._run(scope, replay(body, receive), send)
            if status is not None and status < 500:
                await records.remember(actor.owner, key, Recorded(digest, status, answer))

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> tuple[int | None, bytes]:
        """Run the app, passing its answer through while keeping a copy."""
        status: int | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        return status, b"".join(chunks)
