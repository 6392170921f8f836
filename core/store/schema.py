"""The database schema shared by the server database and the client's local replica.

The tables are declared once, here, with SQLAlchemy's declarative mapping; the store reads
and writes them through Core statements on the mapped tables (no ORM sessions, no lazy
loads). Alembic's `0001_initial` creates exactly these tables; a change here needs a new
revision, and `tests/store/test_migrations.py` fails when the two disagree.

Times are `UtcDateTime`: always written as aware UTC and read back aware, because SQLite
keeps no zone and would otherwise hand back naive values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.clock import utc

# Constraint names are fixed so that migrations and downgrades address them portably.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A BIGINT on PostgreSQL, but INTEGER on SQLite so the key is an alias of the rowid.
SeqInteger = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JsonValue = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonValue}


def _contract_fk() -> ForeignKey:
    return ForeignKey("contracts.id", ondelete="CASCADE")


class ContractRow(Base):
    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    contract_type: Mapped[str] = mapped_column(String(32))
    phase_config: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)  # custom types only
    phase: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32), index=True)
    phase_guard: Mapped[bool] = mapped_column(Boolean)
    auto_complete_enabled: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    completed_deliverables: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    # {phase: {deliverable id: {url, summary}}}; NULL on rows older than 0003.
    deliverable_notes: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    waiting_for: Mapped[str | None] = mapped_column(String(32))
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    supervisor_task_id: Mapped[str | None] = mapped_column(String(36))
    pending_phase: Mapped[str | None] = mapped_column(String(100))
    pending_transition_id: Mapped[str | None] = mapped_column(String(36))
    pending_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]
    last_activity_at: Mapped[datetime] = mapped_column(index=True)
    completion_detected_at: Mapped[datetime | None]
    stale_notified_at: Mapped[datetime | None]

    # Covering indexes for the dashboard's per-owner counts and lists (10k contracts in a
    # few milliseconds), and for listing by recent activity.
    __table_args__ = (
        Index(None, "owner", "last_activity_at"),
        Index(None, "owner", "status", "phase"),
        Index(None, "owner", "status", "last_activity_at"),
        Index(None, "owner", "status", "status_changed_at"),
    )


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contract_id: Mapped[str] = mapped_column(String(36), _contract_fk(), index=True)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    is_supervisor: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index(None, "status", "is_supervisor", "contract_id"),)


class QuestionRow(Base):
    __tablename__ = "questions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contract_id: Mapped[str] = mapped_column(String(36), _contract_fk(), index=True)
    phase: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text)
    question_type: Mapped[str] = mapped_column(String(32))
    choices: Mapped[list[str]] = mapped_column(JsonValue)
    status: Mapped[str] = mapped_column(String(16), index=True)
    answer: Mapped[str | None] = mapped_column(Text)
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(200))


class EventRow(Base):
    """The durable event log. `seq` is allocated by `event_log.append`, gap-free, in commit order.

    No foreign key on `contract_id`: a `contract_deleted` event outlives its contract.
    `owner` is the contract's owner (for scoping reads); `actor_*` is who caused the event.
    """

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(SeqInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[str] = mapped_column(String(36))
    owner: Mapped[str] = mapped_column(String(200))
    actor_owner: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(16))
    # The person behind the actor's key (`keys create --user`); NULL: the owner or the system.
    actor_user: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonValue)

    __table_args__ = (Index(None, "contract_id", "seq"), Index(None, "owner", "seq"))


class SupervisorStateRow(Base):
    """The last `SupervisorPersistentState` a supervisor saved (whole wire form in `payload`)."""

    __tablename__ = "supervisor_states"

    contract_id: Mapped[str] = mapped_column(String(36), _contract_fk(), primary_key=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(100))
    current_activity: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    updated_at: Mapped[datetime]


class SupervisorLivenessRow(Base):
    """The latest heartbeat per contract, so status and alive checks never scan heartbeats."""

    __tablename__ = "supervisor_liveness"

    contract_id: Mapped[str] = mapped_column(String(36), _contract_fk(), primary_key=True)
    supervisor_task_id: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(100))
    current_activity: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer)
    pending_task_ids: Mapped[list[str]] = mapped_column(JsonValue)
    last_heartbeat_at: Mapped[datetime]
    # The contract's owner, copied here so "alive supervisors of an owner" is one index range.
    owner: Mapped[str | None] = mapped_column(String(200))
    # The daemon the supervisor runs in and the worktrees it holds, as its last heartbeat
    # said (the dashboard's measured activeDaemons / totalWorktrees).
    daemon_id: Mapped[str | None] = mapped_column(String(200))
    worktrees: Mapped[list[str] | None] = mapped_column(JsonValue)

    __table_args__ = (Index(None, "owner", "last_heartbeat_at"),)


class HeartbeatRow(Base):
    """Heartbeat history, kept for the heartbeat retention period (24 h by default)."""

    __tablename__ = "supervisor_heartbeats"

    id: Mapped[int] = mapped_column(SeqInteger, primary_key=True, autoincrement=True)
    supervisor_task_id: Mapped[str] = mapped_column(String(36))
    contract_id: Mapped[str] = mapped_column(String(36), _contract_fk())
    state: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(100))
    current_activity: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer)
    pending_task_ids: Mapped[list[str]] = mapped_column(JsonValue)
    timestamp: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (Index(None, "contract_id", "timestamp"),)


class WorktreeRow(Base):
    """A worktree a supervisor's daemon reported for a contract (heartbeat `worktrees`); the
    contract's rows are replaced by each heartbeat that carries the list."""

    __tablename__ = "contract_worktrees"

    contract_id: Mapped[str] = mapped_column(String(36), _contract_fk(), primary_key=True)
    path: Mapped[str] = mapped_column(String(4096), primary_key=True)
    reported_at: Mapped[datetime]


class ApiKeyRow(Base):
    """An API key, stored as a hash; `key_prefix` (first 8 characters) identifies it in lists."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The person the key belongs to (`keys create --user`, default the owner); NULL on keys
    # older than 0004, which act as their owner.
    user_name: Mapped[str | None] = mapped_column(String(200))


class InboxMarkRow(Base):
    """What reviewers did to one inbox item of one owner: a snooze and/or a claim.

    `snoozed_revision` is the item's revision when it was snoozed (core.inbox): the snooze
    ends when the item changes. `claim_expired_at` records that the claim's expiry was
    announced (once), so the sweep does not announce it again.
    """

    __tablename__ = "inbox_marks"

    item_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    contract_id: Mapped[str] = mapped_column(String(36), index=True)
    snoozed_until: Mapped[datetime | None]
    snoozed_by: Mapped[str | None] = mapped_column(String(200))
    snoozed_revision: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    claim_expired_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]  # the phase's wait policy escalated the item then


class IdempotencyRow(Base):
    """The first answer given to an `Idempotency-Key` (kept 24 hours)."""

    __tablename__ = "idempotency_records"

    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(128))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)


def _table(row: type[Base]) -> Table:
    return cast(Table, row.__table__)


metadata = Base.metadata
contracts = _table(ContractRow)
tasks = _table(TaskRow)
questions = _table(QuestionRow)
events = _table(EventRow)
supervisor_states = _table(SupervisorStateRow)
supervisor_liveness = _table(SupervisorLivenessRow)
supervisor_heartbeats = _table(HeartbeatRow)
contract_worktrees = _table(WorktreeRow)
api_keys = _table(ApiKeyRow)
idempotency_records = _table(IdempotencyRow)
inbox_marks = _table(InboxMarkRow)
