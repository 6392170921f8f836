"""Inbox actions: a person's name on keys and events, and the inbox marks (snooze, claim).

Revision ID: 0005_inbox_actions
Revises: 0004_deliverable_notes
Create Date: 2026-12-08

- `api_keys.user_name`: the person a key belongs to (`keys create --user`); NULL on older keys
  (they act as their owner).
- `events.actor_user`: that name on every event the key causes (NULL: the owner, or the system).
- `inbox_marks`: one row per (inbox item, owner): who snoozed it until when and on what
  revision of the item, who claimed it since when and whether its expiry was announced, and
  when its wait policy escalated it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_inbox_actions"
down_revision: str | Sequence[str] | None = "0004_deliverable_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("user_name", sa.String(200), nullable=True))
    op.add_column("events", sa.Column("actor_user", sa.String(200), nullable=True))
    op.create_table(
        "inbox_marks",
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozed_by", sa.String(200), nullable=True),
        sa.Column("snoozed_revision", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("item_id", "owner", name=op.f("pk_inbox_marks")),
    )
    op.create_index(
        op.f("ix_inbox_marks_contract_id"), "inbox_marks", ["contract_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_marks_contract_id"), table_name="inbox_marks")
    op.drop_table("inbox_marks")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("actor_user")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("user_name")
