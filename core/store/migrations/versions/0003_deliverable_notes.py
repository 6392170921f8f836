"""Deliverable notes: where a recorded deliverable lives and what it says.

Revision ID: 0003_deliverable_notes
Revises: 0002_dashboard_indexes
Create Date: 2026-12-08

`contracts.deliverable_notes` holds {phase: {deliverable id: {url, summary}}} (JSON; JSONB on
PostgreSQL), the evidence a reviewer reads before confirming a phase. NULL on older rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003_deliverable_notes"
down_revision: str | Sequence[str] | None = "0002_dashboard_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    op.add_column("contracts", sa.Column("deliverable_notes", json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("deliverable_notes")
