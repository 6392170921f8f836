"""Dashboard indexes: covering per-owner indexes, and the owner on supervisor liveness.

Revision ID: 0002_dashboard_indexes
Revises: 0001_initial
Create Date: 2026-11-26

With 10k contracts the dashboard's counts walked every contract row through a non-covering
index (~85 ms on SQLite). These indexes let each count and list read only index entries,
and `supervisor_liveness.owner` turns "alive supervisors of an owner" into one index range.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_dashboard_indexes"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_contracts_owner_status_phase", "contracts", ["owner", "status", "phase"]),
    (
        "ix_contracts_owner_status_last_activity_at",
        "contracts",
        ["owner", "status", "last_activity_at"],
    ),
    (
        "ix_contracts_owner_status_status_changed_at",
        "contracts",
        ["owner", "status", "status_changed_at"],
    ),
    (
        "ix_tasks_status_is_supervisor_contract_id",
        "tasks",
        ["status", "is_supervisor", "contract_id"],
    ),
    (
        "ix_supervisor_liveness_owner_last_heartbeat_at",
        "supervisor_liveness",
        ["owner", "last_heartbeat_at"],
    ),
)


def upgrade() -> None:
    op.add_column("supervisor_liveness", sa.Column("owner", sa.String(200), nullable=True))
    op.execute(
        "UPDATE supervisor_liveness SET owner = "
        "(SELECT owner FROM contracts WHERE contracts.id = supervisor_liveness.contract_id)"
    )
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("supervisor_liveness") as batch:
        batch.drop_column("owner")
