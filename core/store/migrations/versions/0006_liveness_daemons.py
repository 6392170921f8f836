"""Supervisor liveness: the daemon a supervisor runs in and the worktrees it reported.

Revision ID: 0006_liveness_daemons
Revises: 0005_inbox_actions
Create Date: 2026-12-08

The dashboard's `activeDaemons` and `totalWorktrees` were copies of other figures; a
heartbeat may now carry `daemon_id` and `worktrees`, kept on the latest-heartbeat row so
both figures are measured from live supervisors.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Self-contained like 0001: the JSON type as the schema declares it (JSONB on PostgreSQL).
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0006_liveness_daemons"
down_revision: str | Sequence[str] | None = "0005_inbox_actions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supervisor_liveness") as batch:
        batch.add_column(sa.Column("daemon_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("worktrees", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("supervisor_liveness") as batch:
        batch.drop_column("worktrees")
        batch.drop_column("daemon_id")
