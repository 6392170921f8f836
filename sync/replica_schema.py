"""The replica's own tables, next to the core/store schema it shares with the server.

The replica database holds the server's tables (created by core/store's Alembic chain, so
`core.store.queries` and `core.store.aggregates` work on it unchanged) plus two tables that
exist only on the client:

- `sync_cursor`: one row — which server the replica mirrors, the last event `seq` applied,
  when the first snapshot completed (NULL: no complete snapshot, redo it), and the time of
  the oldest applied event whose contract row has not been refreshed from the server yet.
- `outbox`: the reviewer's actions, one row per action, in the order they were taken.

They live in their own `MetaData` and are created with `create_all` (idempotent), never in
core/store's migration chain: the server must not grow client tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from core.store.schema import UtcDateTime

local_metadata = MetaData()

CURSOR_ID = 1  # the single row of `sync_cursor`

sync_cursor = Table(
    "sync_cursor",
    local_metadata,
    Column("id", Integer, primary_key=True),
    Column("server_url", Text, nullable=True),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("snapshot_at", UtcDateTime(), nullable=True),
    # The `at` of the oldest applied event whose contract was not refreshed since (None: all
    # contract rows are as fresh as the events say). Survives a crash, so no refresh is lost.
    Column("refresh_since", UtcDateTime(), nullable=True),
)

outbox = Table(
    "outbox",
    local_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # also the order taken
    Column("contract_id", String(36), nullable=True),  # None: a batch operation
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("expected_version", Integer, nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("result", JSON, nullable=True),  # the server's answer, or the contract on conflict
    Column("replaces", Integer, nullable=True),  # the conflicting entry this one reconfirms
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_outbox_state_contract", "state", "contract_id"),
)


def create_local_tables(conn: Connection) -> None:
    """Create the local tables if missing and make sure the cursor row exists."""
    local_metadata.create_all(conn)
    present = conn.execute(sync_cursor.select().where(sync_cursor.c.id == CURSOR_ID)).first()
    if present is None:
        conn.execute(sync_cursor.insert().values(id=CURSOR_ID, last_seq=0))
