"""API keys: generated once, stored as SHA-256 hashes, checked in constant time.

Keys are 256 random bits, so a plain SHA-256 is the right hash (no password stretching
needed) and lets a request find its key by hash. The ring caches lookups briefly because a
heartbeat storm must not cost a database read per request; see `KeyRing` for how a
revocation still takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.actors import Actor, Role
from core.errors import Unauthorized, ValidationFailed
from core.store.schema import api_keys

KEY_PREFIX = "cdk_"
# PostgreSQL NOTIFY channel of server.notify; a REVOKED_NOTE payload announces a revocation.
EVENTS_CHANNEL = "contract_events"
REVOKED_NOTE = "revoked"


KEY_HEADER = "x-makima-api-key"


def key_from_headers(authorization: str | None, api_key_header: str | None) -> str | None:
    """The key of `Authorization: Bearer KEY`, else of `x-makima-api-key: KEY` (None: neither).

    The one rule for every entry point: routes, the heartbeat fast path and the monitor.
    """
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = (api_key_header or "").strip()
    return key or None


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_role(value: str) -> Role:
    if value not in ("admin", "reviewer", "supervisor"):
        raise ValidationFailed(f"Unknown role '{value}'. Valid roles: admin, reviewer, supervisor")
    return Role(value)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    owner: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    user: str | None = None


async def create_key(
    conn: AsyncConnection, owner: str, role: Role, now: datetime, user: str | None = None
) -> str:
    """Store a new key's hash and return the plaintext (shown once, never stored).

    `user` is the person the key belongs to (None or blank: the owner); events and claims
    made with the key show it."""
    if not owner.strip():
        raise ValidationFailed("A key needs a non-empty owner")
    name = (user or "").strip() or owner.strip()
    if len(name) > 200:
        raise ValidationFailed("A key's user name is at most 200 characters")
    key = generate_key()
    await conn.execute(
        api_keys.insert().values(
            id=str(uuid.uuid4()),
            owner=owner.strip(),
            role=role.value,
            key_hash=hash_key(key),
            key_prefix=key[len(KEY_PREFIX) : len(KEY_PREFIX) + 8],
            created_at=now,
            revoked_at=None,
            user_name=name,
        )
    )
    return key


async def list_keys(conn: AsyncConnection) -> list[KeyInfo]:
    rows = await conn.execute(select(api_keys).order_by(api_keys.c.created_at))
    return [
        KeyInfo(r.id, r.owner, r.role, r.key_prefix, r.created_at, r.revoked_at, r.user_name)
        for r in rows
    ]


async def revoke_key(conn: AsyncConnection, ident: str, now: datetime) -> int:
    """Revoke by key id or by the 8-character prefix `keys list` shows; returns how many.

    On PostgreSQL the revocation is published on the event channel in the same transaction
    (delivered at commit), so every server process drops the key at once."""
    result = await conn.execute(
        update(api_keys)
        .where((api_keys.c.id == ident) | (api_keys.c.key_prefix == ident))
        .where(api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    count = int(result.rowcount or 0)
    if count and conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_notify(:channel, :note)"),
            {"channel": EVENTS_CHANNEL, "note": REVOKED_NOTE},
        )
    return count


class KeyRing:
    """Turns a presented key into the Actor it belongs to.

    Revocation takes effect on the next request. On SQLite every request looks its key up
    (a primary-key read on a private read-only connection costs microseconds, so nothing
    is cached and nothing can go stale). On PostgreSQL lookups are cached for
    `cache_seconds`, and `keys revoke` publishes the revocation on the event channel
    (`REVOKED_NOTE`), which every process's bridge turns into `newly_revoked()`: the cache
    forgets the keys and their monitor sockets are closed. The cache is bounded
    (`max_cached` entries, least recently used first out), so a flood of unknown keys
    cannot grow the server's memory.
    """

    def __init__(
        self, engine: AsyncEngine, cache_seconds: float = 5.0, max_cached: int = 10_000
    ) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._max_cached = max_cached
        self._cache: OrderedDict[str, tuple[float, Actor | None]] = OrderedDict()
        self._direct = _SqliteKeys.open(engine)
        self._revoked: set[str] | None = None  # hashes known revoked (None: not read yet)
        self._revoked_count = -1

    @property
    def cached(self) -> int:
        return len(self._cache)

    async def authenticate(self, key: str | None) -> Actor:
        if not key:
            raise Unauthorized()
        digest = hash_key(key)
        if self._direct is not None:
            actor = self._direct.lookup(digest)
        else:
            actor = await self._cached_lookup(digest)
        if actor is None:
            raise Unauthorized()
        return actor

    async def _cached_lookup(self, digest: str) -> Actor | None:
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            self._cache.move_to_end(digest)
            return cached[1]
        actor = await self._lookup(digest)
        self._cache[digest] = (time.monotonic(), actor)
        self._cache.move_to_end(digest)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)
        return actor

    async def _lookup(self, digest: str) -> Actor | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        api_keys.c.owner,
                        api_keys.c.role,
                        api_keys.c.key_hash,
                        api_keys.c.user_name,
                    )
                    .where(api_keys.c.key_hash == digest)
                    .where(api_keys.c.revoked_at.is_(None))
                )
            ).first()
        # The index finds the row; the final comparison is constant-time all the same.
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return Actor(row.owner, Role(row.role), row.user_name)

    def forget_cached(self) -> None:
        """Drop every cached lookup (a revocation was announced: the next request of any
        key reads the database, without waiting for `newly_revoked` to learn which)."""
        self._cache.clear()

    async def newly_revoked(self) -> frozenset[str]:
        """Hashes of keys revoked since the last call (all revoked ones on the first call);
        they leave the cache. Cheap when nothing changed: one count."""
        count = await self._revoked_total()
        if count == self._revoked_count:
            return frozenset()
        hashes = await self._revoked_hashes()
        self._revoked_count = len(hashes)
        new = hashes - (self._revoked or set())
        self._revoked = set(hashes)
        for digest in new:
            self._cache.pop(digest, None)
        return frozenset(new)

    async def _revoked_total(self) -> int:
        if self._direct is not None:
            return self._direct.revoked_total()
        async with self._engine.connect() as conn:
            query = select(func.count()).where(api_keys.c.revoked_at.is_not(None))
            return int((await conn.execute(query)).scalar() or 0)

    async def _revoked_hashes(self) -> set[str]:
        if self._direct is not None:
            return self._direct.revoked_hashes()
        async with self._engine.connect() as conn:
            query = select(api_keys.c.key_hash).where(api_keys.c.revoked_at.is_not(None))
            return {row[0] for row in await conn.execute(query)}

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()


class _SqliteKeys:
    """Key lookups on a private read-only SQLite connection, in the event loop's thread.

    In WAL mode a reader never waits for the writer, and these reads hit the unique index of
    a table of a few rows: a blocking call of a few microseconds beats a thread hop.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, engine: AsyncEngine) -> _SqliteKeys | None:
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        conn = sqlite3.connect(database, check_same_thread=False, timeout=2.0)
        conn.execute("PRAGMA query_only = ON")
        return cls(conn)

    def lookup(self, digest: str) -> Actor | None:
        row = self._conn.execute(
            "SELECT owner, role, key_hash, user_name FROM api_keys"
            " WHERE key_hash = ? AND revoked_at IS NULL",
            (digest,),
        ).fetchone()
        if row is None or not hmac.compare_digest(row[2], digest):
            return None
        return Actor(row[0], Role(row[1]), row[3])

    def revoked_total(self) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL"
        ).fetchone()
        return int(row[0])

    def revoked_hashes(self) -> set[str]:
        rows = self._conn.execute("SELECT key_hash FROM api_keys WHERE revoked_at IS NOT NULL")
        return {row[0] for row in rows}

    def close(self) -> None:
        self._conn.close()
