"""The snapshot's fast path stores exactly what the exact (typed) path stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.actors import Actor, Role
from core.events import EventType, LoggedEvent
from core.model import Contract, PendingPhaseConfirmation
from core.phases import ContractType
from core.status import ContractStatus, WaitingFor
from core.store.schema import contracts
from core.store.unit_of_work import ReadUnitOfWork, WriteUnitOfWork
from core.wire import contract_from_wire, event_from_wire
from sync.replica import Replica
from sync.replica_apply import store_events
from sync.replica_bulk import (
    contract_values_from_wire,
    convert_page,
    insert_rows,
    logged_events,
    sqlite_time,
    store_event_rows,
    wire_time,
)
from sync.replica_history import HistoryFold

AT = datetime(2026, 3, 1, 12, 30, 5, 123000, tzinfo=UTC)


@pytest.fixture
async def replica(tmp_path: Path) -> AsyncIterator[Replica]:
    r = await Replica.open(tmp_path / "r.db")
    yield r
    await r.close()


def test_times() -> None:
    assert sqlite_time("2026-03-01T12:30:05.123Z") == "2026-03-01 12:30:05.123000"
    assert sqlite_time("2026-03-01T14:30:05.5+02:00") == "2026-03-01 12:30:05.500000"
    assert wire_time("2026-03-01T12:30:05.123Z") == AT
    assert wire_time("2026-03-01T13:30:05.123+01:00") == AT


def sample_events() -> list[dict[str, Any]]:
    reviewer, supervisor = Actor("alice", Role.REVIEWER), Actor("sup", Role.SUPERVISOR)
    made: list[tuple[EventType, Actor, dict[str, Any]]] = [
        (EventType.CONTRACT_CREATED, reviewer, {"name": "é ✓", "contract_type": "simple"}),
        (
            EventType.TASK_CREATED,
            supervisor,
            {"task_id": "t1", "task_name": "w", "status": "pending"},
        ),
        (
            EventType.QUESTION_ASKED,
            supervisor,
            {"question_id": "q1", "question": "?", "choices": []},
        ),
        (EventType.QUESTION_ANSWERED, reviewer, {"question_id": "q1", "answer": "yes"}),
        (EventType.STALE_DETECTED, Actor("system", Role.SYSTEM), {"stale_duration_secs": 7}),
    ]
    wires = []
    for seq, (kind, actor, payload) in enumerate(made, start=1):
        event = LoggedEvent(seq, AT + timedelta(seconds=seq), kind, "c1", actor, payload)
        wires.append(event.to_wire())
    wires.append({**wires[0], "seq": None, "type": "heartbeat"})  # transient: skipped
    return wires


async def test_events_read_back_the_same_through_either_path(tmp_path: Path) -> None:
    wires = sample_events()
    fast = await Replica.open(tmp_path / "fast.db")
    exact = await Replica.open(tmp_path / "exact.db")
    try:
        rows, folded = convert_page(wires, "me")
        await fast.store.run_write(lambda uow: store_event_rows(uow.conn, rows))
        typed = [event_from_wire(w) for w in wires if w["seq"] is not None]
        await exact.store.run_write(lambda uow: store_events(uow.conn, typed, "me"))
        assert (await fast.events()).events == (await exact.events()).events
        assert logged_events(wires) == typed
        assert [e.type for e in folded] == [
            EventType.TASK_CREATED,
            EventType.QUESTION_ASKED,
            EventType.QUESTION_ANSWERED,
        ]
        by_fast, by_exact = HistoryFold(), HistoryFold()
        by_fast.add_all(folded)
        by_exact.add_all(typed)
        assert by_fast == by_exact
    finally:
        await fast.close()
        await exact.close()


def sample_contracts() -> list[Contract]:
    base = Contract(
        id="c1",
        owner="me",
        name="plain",
        contract_type=ContractType.SPECIFICATION,
        phase="research",
        status=ContractStatus.ACTIVE,
        created_at=AT,
        updated_at=AT + timedelta(minutes=1),
        status_changed_at=AT,
        last_activity_at=AT + timedelta(minutes=2),
        version=4,
    )
    waiting = Contract(
        id="c2",
        owner="me",
        name="waiting",
        contract_type=ContractType.SIMPLE,
        phase="plan",
        status=ContractStatus.WAITING_FOR_INPUT,
        created_at=AT,
        updated_at=AT + timedelta(minutes=3),
        status_changed_at=AT,
        last_activity_at=AT,
        description="text",
        phase_guard=False,
        auto_complete_enabled=False,
        completed_deliverables={"plan": ("plan-document",)},
        waiting_for=WaitingFor.PHASE_CONFIRMATION,
        supervisor_task_id="t1",
        completion_detected_at=AT,
        pending_confirmation=PendingPhaseConfirmation("", "execute", AT + timedelta(minutes=3)),
    )
    return [base, waiting]


async def test_contract_rows_match_the_exact_path(replica: Replica) -> None:
    for contract in sample_contracts():
        wire = contract.to_wire()
        values = contract_values_from_wire(wire, "me")
        assert values is not None
        await replica.store.run_write(_inserting(values))
        stored = await replica.store.run_read(_reading(contract.id))
        assert stored == contract_from_wire(wire, owner="me")
        assert stored == contract


def test_custom_contracts_take_the_exact_path() -> None:
    wire = sample_contracts()[0].to_wire()
    wire["phaseConfig"] = {"phases": [{"id": "a", "name": "A", "order": 1}], "defaultPhase": "a"}
    assert contract_values_from_wire(wire, "me") is None


def _inserting(values: dict[str, Any]) -> Callable[[WriteUnitOfWork], None]:
    return lambda uow: insert_rows(uow.conn, contracts, [values])


def _reading(contract_id: str) -> Callable[[ReadUnitOfWork], Contract]:
    return lambda uow: uow.contract(contract_id, None)
