"""Worktrees reported by supervisors' daemons (heartbeat `worktrees`), for `cleanup --worktrees`.

Revision ID: 0003_contract_worktrees
Revises: 0002_dashboard_indexes
Create Date: 2026-12-08

Self-contained, as 0001: no import of `core.store.schema`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_contract_worktrees"
down_revision: str | Sequence[str] | None = "0002_dashboard_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contract_worktrees",
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name="fk_contract_worktrees_contract_id_contracts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contract_id", "path", name="pk_contract_worktrees"),
    )


def downgrade() -> None:
    op.drop_table("contract_worktrees")
