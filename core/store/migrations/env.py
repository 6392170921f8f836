"""Alembic environment for the Contract Desk schema.

Migrations run through `core.store.migrate` (`upgrade` / `downgrade`), which opens the
database with the store's own engine setup (pragmas, transactional DDL on SQLite) and hands
the connection to Alembic in `config.attributes["connection"]`. There is no alembic.ini and
no second way in, so every migration runs exactly as the tests run it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from core.store.schema import metadata


def run_on(connection: Connection) -> None:
    # Batch mode lets later revisions ALTER tables on SQLite (copy-and-move).
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


shared = context.config.attributes.get("connection")
if shared is None:
    raise RuntimeError(
        "Run migrations with core.store.migrate.upgrade(url) / downgrade(url): "
        "they pass the connection this environment needs"
    )
run_on(shared)
