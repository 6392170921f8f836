"""API keys: generated once, stored as SHA-256 hashes, checked in constant time.

Keys are 256 random bits, so a plain SHA-256 is the right hash (no password stretching
needed) and lets a request find its key by hash. The ring caches lookups briefly because a
heartbeat storm must not cost a database read per request; a revoked key stops working
within `cache_seconds` on every process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.actors import Actor, Role
from core.errors import Unauthorized, ValidationFailed
from core.store.schema import api_keys

KEY_PREFIX = "cdk_"


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


async def create_key(conn: AsyncConnection, owner: str, role: Role, now: datetime) -> str:
    """Store a new key's hash and return the plaintext (shown once, never stored)."""
    if not owner.strip():
        raise ValidationFailed("A key needs a non-empty owner")
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
        )
    )
    return key


async def list_keys(conn: AsyncConnection) -> list[KeyInfo]:
    rows = await conn.execute(select(api_keys).order_by(api_keys.c.created_at))
    return [KeyInfo(r.id, r.owner, r.role, r.key_prefix, r.created_at, r.revoked_at) for r in rows]


async def revoke_key(conn: AsyncConnection, ident: str, now: datetime) -> int:
    """Revoke by key id or by the 8-character prefix `keys list` shows; returns how many."""
    result = await conn.execute(
        update(api_keys)
        .where((api_keys.c.id == ident) | (api_keys.c.key_prefix == ident))
        .where(api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


class KeyRing:
    """Turns a presented key into the Actor it belongs to."""

    def __init__(self, engine: AsyncEngine, cache_seconds: float = 5.0) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Actor | None]] = {}

    async def authenticate(self, key: str | None) -> Actor:
        if not key:
            raise Unauthorized()
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            actor = cached[1]
        else:
            actor = await self._lookup(digest)
            self._cache[digest] = (time.monotonic(), actor)
        if actor is None:
            raise Unauthorized()
        return actor

    async def _lookup(self, digest: str) -> Actor | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(api_keys.c.owner, api_keys.c.role, api_keys.c.key_hash)
                    .where(api_keys.c.key_hash == digest)
                    .where(api_keys.c.revoked_at.is_(None))
                )
            ).first()
        # The index finds the row; the final comparison is constant-time all the same.
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return Actor(row.owner, Role(row.role))
