"""Schema migrations: Alembic, configured in code (no alembic.ini needed), on either backend.

`upgrade(url)` brings a database to the newest schema, `downgrade(url)` back to empty.
Both run Alembic's synchronous API on the async engine's connection (`run_sync`), in one
transaction: on PostgreSQL and on SQLite (where the store emits BEGIN itself, so DDL is
transactional too) a failing migration leaves the schema as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from core.store.engine import create_engine_for

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """A Config pointing at the packaged migrations (for the alembic API or `revision`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser treats '%' as interpolation: a password may contain one.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision` (default: the newest)."""
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at `url` down to `revision` (default: no tables at all)."""
    await _run(url, lambda config: command.downgrade(config, revision))


async def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    engine, _ = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _run(url: str, action: Callable[[Config], None]) -> None:
    engine, _ = create_engine_for(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_with_connection, url, action)
    finally:
        await engine.dispose()


def _with_connection(connection: Connection, url: str, action: Callable[[Config], None]) -> None:
    config = alembic_config(url)
    # env.py uses this connection instead of opening its own (see migrations/env.py).
    config.attributes["connection"] = connection
    action(config)
