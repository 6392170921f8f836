"""Initial schema: contracts, tasks, questions, event log, supervisors, API keys, idempotency.

Revision ID: 0001_initial
Revises:
Create Date: 2026-01-01

Self-contained on purpose (no import of `core.store.schema`): a migration describes the
schema as it was at this revision, not as the code is today.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _contract_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["contract_id"],
        ["contracts.id"],
        name=f"fk_{table}_contract_id_contracts",
        ondelete="CASCADE",
    )


def _create_contracts() -> None:
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("contract_type", sa.String(32), nullable=False),
        sa.Column("phase_config", JSON, nullable=True),
        sa.Column("phase", sa.String(100), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("phase_guard", sa.Boolean(), nullable=False),
        sa.Column("auto_complete_enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("completed_deliverables", JSON, nullable=False),
        sa.Column("waiting_for", sa.String(32), nullable=True),
        sa.Column("blocked_reason", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("supervisor_task_id", sa.String(36), nullable=True),
        sa.Column("pending_phase", sa.String(100), nullable=True),
        sa.Column("pending_transition_id", sa.String(36), nullable=True),
        _time("pending_requested_at", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        _time("status_changed_at"),
        _time("last_activity_at"),
        _time("completion_detected_at", nullable=True),
        _time("stale_notified_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contracts"),
    )
    op.create_index("ix_contracts_status", "contracts", ["status"])
    op.create_index("ix_contracts_last_activity_at", "contracts", ["last_activity_at"])
    op.create_index(
        "ix_contracts_owner_last_activity_at", "contracts", ["owner", "last_activity_at"]
    )


def _create_tasks_and_questions() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_supervisor", sa.Boolean(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _contract_fk("tasks"),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_contract_id", "tasks", ["contract_id"])
    op.create_table(
        "questions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("phase", sa.String(100), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("question_type", sa.String(32), nullable=False),
        sa.Column("choices", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        _time("asked_at"),
        _time("answered_at", nullable=True),
        sa.Column("answered_by", sa.String(200), nullable=True),
        _contract_fk("questions"),
        sa.PrimaryKeyConstraint("id", name="pk_questions"),
    )
    op.create_index("ix_questions_contract_id", "questions", ["contract_id"])
    op.create_index("ix_questions_status", "questions", ["status"])


def _create_events() -> None:
    # No foreign key to contracts: a contract_deleted event outlives its contract.
    op.create_table(
        "events",
        sa.Column("seq", SEQ, nullable=False, autoincrement=False),
        _time("at"),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("actor_owner", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
    )
    op.create_index("ix_events_contract_id_seq", "events", ["contract_id", "seq"])
    op.create_index("ix_events_owner_seq", "events", ["owner", "seq"])


def _supervisor_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(100), nullable=False),
        sa.Column("current_activity", sa.Text(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
    ]


def _create_supervisor_tables() -> None:
    op.create_table(
        "supervisor_states",
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        *_supervisor_columns(),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        _time("updated_at"),
        _contract_fk("supervisor_states"),
        sa.PrimaryKeyConstraint("contract_id", name="pk_supervisor_states"),
    )
    op.create_table(
        "supervisor_liveness",
        sa.Column("contract_id", sa.String(36), nullable=False),
        sa.Column("supervisor_task_id", sa.String(36), nullable=False),
        *_supervisor_columns(),
        sa.Column("pending_task_ids", JSON, nullable=False),
        _time("last_heartbeat_at"),
        _contract_fk("supervisor_liveness"),
        sa.PrimaryKeyConstraint("contract_id", name="pk_supervisor_liveness"),
    )
    op.create_table(
        "supervisor_heartbeats",
        sa.Column("id", SEQ, nullable=False, autoincrement=True),
        sa.Column("supervisor_task_id", sa.String(36), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=False),
        *_supervisor_columns(),
        sa.Column("pending_task_ids", JSON, nullable=False),
        _time("timestamp"),
        _contract_fk("supervisor_heartbeats"),
        sa.PrimaryKeyConstraint("id", name="pk_supervisor_heartbeats"),
    )
    op.create_index(
        "ix_supervisor_heartbeats_contract_id_timestamp",
        "supervisor_heartbeats",
        ["contract_id", "timestamp"],
    )
    op.create_index("ix_supervisor_heartbeats_timestamp", "supervisor_heartbeats", ["timestamp"])


def _create_access_tables() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(128), nullable=False),
        sa.Column("key_prefix", sa.String(8), nullable=False),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(128), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("owner", "key", name="pk_idempotency_records"),
    )
    op.create_index("ix_idempotency_records_created_at", "idempotency_records", ["created_at"])


def upgrade() -> None:
    _create_contracts()
    _create_tasks_and_questions()
    _create_events()
    _create_supervisor_tables()
    _create_access_tables()


# Children before parents, so foreign keys never point at a dropped table.
_TABLES_IN_DROP_ORDER = (
    "idempotency_records",
    "api_keys",
    "supervisor_heartbeats",
    "supervisor_liveness",
    "supervisor_states",
    "events",
    "questions",
    "tasks",
    "contracts",
)


def downgrade() -> None:
    for table in _TABLES_IN_DROP_ORDER:
        op.drop_table(table)  # drops the table's indexes with it
