"""Units of work: one open transaction, with the loads and the write a use case needs.

Synchronous code over a SQLAlchemy `Connection`; `Store.run_write` / `Store.run_read` decide
where it runs (a thread on SQLite, a greenlet over asyncpg on PostgreSQL). Statements are
built once at import and executed with parameters, which keeps SQLAlchemy's per-statement
cost (building and cache-keying a 25-column UPDATE) off the hot path.

The trap: owner scoping is done here, in the WHERE clause. Another owner's contract is
indistinguishable from a missing one (`ContractNotFound`), never loaded and then checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from core.actors import Actor, Role
from core.clock import iso
from core.errors import ContractNotFound, QuestionNotFound, VersionConflict
from core.events import LoggedEvent, NewEvent
from core.model import Contract, Question, QuestionStatus, Task
from core.outcome import Decision, Outcome
from core.store import event_log
from core.store.rows import (
    contract_from_row,
    contract_values,
    question_from_row,
    question_values,
    task_from_row,
    task_values,
)
from core.store.schema import contracts, events, questions, tasks

# Columns an UPDATE after a decision may change (never the id, owner or creation time).
_MUTABLE = [c.name for c in contracts.c if c.name not in ("id", "owner", "created_at")]
_MUTABLE_SET = frozenset(_MUTABLE)
_UPDATE_VERSIONED = (
    contracts.update()
    .where(contracts.c.id == bindparam("_id"), contracts.c.version == bindparam("_previous"))
    .values({name: bindparam(name) for name in _MUTABLE})
)
# Activity and the stale marker are not changes to the contract: no version bump, so a
# reviewer's pending action does not conflict with a heartbeat or the stale detector.
_TOUCH = (
    contracts.update()
    .where(contracts.c.id == bindparam("_id"))
    .values(last_activity_at=bindparam("at"), stale_notified_at=bindparam("stale"))
)
_DELETE_VERSIONED = contracts.delete().where(
    contracts.c.id == bindparam("_id"), contracts.c.version == bindparam("_previous")
)
_VERSION_OF = select(contracts.c.version).where(contracts.c.id == bindparam("_id"))
_TASKS_OF = (
    select(tasks)
    .where(tasks.c.contract_id == bindparam("cid"))
    .order_by(tasks.c.created_at, tasks.c.id)
)
_QUESTIONS_OF = (
    select(questions)
    .where(questions.c.contract_id == bindparam("cid"))
    .order_by(questions.c.asked_at, questions.c.id)
)
_PENDING_OF = _QUESTIONS_OF.where(questions.c.status == QuestionStatus.PENDING.value)


@cache
def _contract_query(scoped: bool, locked: bool) -> Select[Any]:
    """SELECT contract by id (and owner); `locked` adds FOR NO KEY UPDATE on PostgreSQL.

    NO KEY UPDATE, not UPDATE: it serializes writers of the contract while still letting
    other transactions insert tasks or heartbeats that reference it. SQLite ignores it.
    """
    query = select(contracts).where(contracts.c.id == bindparam("_id"))
    if scoped:
        query = query.where(contracts.c.owner == bindparam("_owner"))
    return query.with_for_update(key_share=True) if locked else query


def owner_scope(actor: Actor) -> str | None:
    """The owner whose contracts `actor` may touch; background services may touch all."""
    return None if actor.role is Role.SYSTEM else actor.owner


@dataclass(frozen=True, slots=True)
class Applied:
    """What one use case committed: the contract as it now is and what was logged."""

    contract: Contract
    events: tuple[LoggedEvent, ...] = ()
    tasks: tuple[Task, ...] = ()  # created or changed
    questions: tuple[Question, ...] = ()  # created or changed
    decision: Decision | None = None  # what was decided when the answer is not the Contract
    deleted: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


class ReadUnitOfWork:
    """A transaction for reading; `conn` is exposed for the query functions."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def contract(self, contract_id: str, owner: str | None) -> Contract:
        """The contract, if it exists and belongs to `owner` (None: any owner)."""
        return self._load(contract_id, owner, locked=False)

    def _load(self, contract_id: str, owner: str | None, *, locked: bool) -> Contract:
        query = _contract_query(owner is not None, locked)
        row = self.conn.execute(query, {"_id": contract_id, "_owner": owner}).mappings().first()
        if row is None:
            raise ContractNotFound(contract_id)
        return contract_from_row(row)

    def tasks(self, contract_id: str) -> list[Task]:
        """The contract's tasks, oldest first."""
        rows = self.conn.execute(_TASKS_OF, {"cid": contract_id}).mappings()
        return [task_from_row(row) for row in rows]

    def questions(self, contract_id: str, *, pending_only: bool = False) -> list[Question]:
        """The contract's questions (or only the pending ones), oldest first."""
        query = _PENDING_OF if pending_only else _QUESTIONS_OF
        rows = self.conn.execute(query, {"cid": contract_id}).mappings()
        return [question_from_row(row) for row in rows]

    def question_owner_scoped(self, question_id: str, owner: str | None) -> Question:
        """The question, if its contract belongs to `owner`; else QuestionNotFound."""
        query = select(questions).join(contracts, contracts.c.id == questions.c.contract_id)
        query = query.where(questions.c.id == question_id)
        if owner is not None:
            query = query.where(contracts.c.owner == owner)
        row = self.conn.execute(query).mappings().first()
        if row is None:
            raise QuestionNotFound(question_id)
        return question_from_row(row)


class WriteUnitOfWork(ReadUnitOfWork):
    """A write transaction. Load with `load_for_update`, decide in core, then `apply`."""

    def load_for_update(self, contract_id: str, owner: str | None) -> Contract:
        """The contract, locked against concurrent writers until this transaction ends."""
        return self._load(contract_id, owner, locked=True)

    def apply(self, outcome: Outcome, actor: Actor, at: datetime) -> Applied:
        """`persist` the outcome and describe what this transaction will commit."""
        logged = self.persist(outcome, actor, at)
        return Applied(
            contract=outcome.contract,
            events=tuple(logged),
            tasks=outcome.tasks,
            questions=outcome.questions,
            decision=outcome.decision,
            deleted=outcome.deleted,
            extra=outcome.extra,
        )

    def persist(self, outcome: Outcome, actor: Actor, at: datetime) -> list[LoggedEvent]:
        """Write what `outcome` decided and append its events; returns them with their seq.

        Raises VersionConflict if the contract row moved past `outcome.previous_version`
        (it cannot under the store's locking; if it does, nothing of this change is kept).
        """
        self._write_contract(outcome)
        if outcome.tasks:
            self.upsert(tasks, [task_values(t) for t in outcome.tasks])
        if outcome.questions:
            self.upsert(questions, [question_values(q) for q in outcome.questions])
        owner = outcome.contract.owner
        return event_log.append(
            self.conn, self.dialect, stamped(outcome), owner=owner, actor=actor, at=at
        )

    def _write_contract(self, outcome: Outcome) -> None:
        contract, previous = outcome.contract, outcome.previous_version
        if outcome.deleted:
            self._delete(contract, contract.version if previous is None else previous)
        elif previous is None:
            self.conn.execute(contracts.insert(), contract_values(contract))
        elif outcome.activity_only:
            params = {"_id": contract.id, "at": contract.last_activity_at}
            self.conn.execute(_TOUCH, {**params, "stale": contract.stale_notified_at})
        elif contract.version != previous:
            self._update_versioned(contract, previous)

    def _update_versioned(self, contract: Contract, previous: int) -> None:
        params = {
            name: value for name, value in contract_values(contract).items() if name in _MUTABLE_SET
        }
        params.update(_id=contract.id, _previous=previous)
        if self.conn.execute(_UPDATE_VERSIONED, params).rowcount != 1:
            self._raise_conflict(contract, previous)

    def _delete(self, contract: Contract, expected: int) -> None:
        params = {"_id": contract.id, "_previous": expected}
        if self.conn.execute(_DELETE_VERSIONED, params).rowcount != 1:
            self._raise_conflict(contract, expected)

    def _raise_conflict(self, contract: Contract, expected: int) -> None:
        actual = self.conn.scalar(_VERSION_OF, {"_id": contract.id})
        if actual is None:
            raise ContractNotFound(contract.id)
        raise VersionConflict(expected, actual, contract.phase)

    def put_contracts(self, copies: Sequence[Contract]) -> None:
        """Store contracts exactly as given, inserting or replacing their rows.

        For a replica applying the server's copies: there is no version check, the caller
        decides which copy wins. Never use it for a decision (that is `persist`).
        """
        if copies:
            rows = [contract_values(c) for c in copies]
            self.conn.execute(_upsert_statement(self.dialect, "contracts"), rows)

    def put_events(self, logged: Sequence[LoggedEvent]) -> int:
        """Store events that already have their seq (a replica's catch-up); returns how many
        were new. An event seen before (same seq) is skipped, so applying twice is harmless.
        """
        new = 0
        for start in range(0, len(logged), _EVENT_CHUNK):
            rows = [event_log.row_values(e) for e in logged[start : start + _EVENT_CHUNK]]
            statement = dialect_insert(self.dialect)(events).values(rows)
            skip_known = statement.on_conflict_do_nothing(index_elements=[events.c.seq])
            new += int(self.conn.execute(skip_known).rowcount)
        return new

    def remove_contract(self, contract_id: str) -> None:
        """Delete the contract row and (by cascade) its tasks, questions and supervisor rows."""
        self.conn.execute(contracts.delete().where(contracts.c.id == contract_id))

    def upsert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or update task or question rows by `id` (every column given).

        A row may never move to another contract: a conflicting id of another contract is
        left untouched.
        """
        self.conn.execute(_upsert_statement(self.dialect, table.name), list(rows))


# Rows per multi-row INSERT: far below both backends' limit on bound parameters.
_EVENT_CHUNK = 500
_TABLES = {"contracts": contracts, "tasks": tasks, "questions": questions}


@cache
def _upsert_statement(dialect: str, table_name: str) -> Any:
    """INSERT … ON CONFLICT (id) DO UPDATE of every column, built once per dialect."""
    table = _TABLES[table_name]
    statement = dialect_insert(dialect)(table)
    kept = ("id", "contract_id")
    changed = {c.name: statement.excluded[c.name] for c in table.c if c.name not in kept}
    same_contract = None
    if "contract_id" in table.c:
        same_contract = table.c.contract_id == statement.excluded.contract_id
    return statement.on_conflict_do_update(
        index_elements=[table.c.id], set_=changed, where=same_contract
    )


def dialect_insert(dialect: str) -> Any:
    """INSERT with ON CONFLICT support for the dialect (both spell it the same way)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def stamped(outcome: Outcome) -> tuple[NewEvent, ...]:
    """The outcome's events, each of its contract stamped with the contract's resulting
    `version` and `updated_at` (API.md, additions 2026-12).

    A reader folding events then knows the exact row version each one produced, without a
    refresh round trip. A deletion leaves no version to stamp.
    """
    if outcome.deleted:
        return tuple(outcome.events)
    contract = outcome.contract
    stamp = {"version": contract.version, "updated_at": iso(contract.updated_at)}
    return tuple(
        replace(e, payload={**e.payload, **stamp}) if e.contract_id == contract.id else e
        for e in outcome.events
    )
