"""The store's SQL clauses select exactly what core's rules say, on SQLite and PostgreSQL.

Every status, at each activity age around the threshold (just under, exactly at, just over) is
written as a real row; the clause's rows must equal the contracts core's predicate accepts.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from core.attention import waiting_on_reviewer
from core.model import Contract
from core.status import ContractStatus, WaitingFor
from core.store import Store, predicates
from core.store.rows import contract_values
from core.store.schema import contracts
from core.store.unit_of_work import ReadUnitOfWork, WriteUnitOfWork
from core.timing import stale_duration
from tests.core.factories import T0, make_contract

THRESHOLD = timedelta(hours=2)
NOW = T0 + timedelta(days=1)
AGES = (timedelta(0), THRESHOLD - timedelta(seconds=1), THRESHOLD, THRESHOLD + timedelta(seconds=1))


def _every_case() -> list[Contract]:
    cases = []
    for status in ContractStatus:
        for n, idle in enumerate(AGES):
            cid = f"{status.value}-{n}"
            cases.append(
                make_contract(id=cid, name=cid, status=status, last_activity_at=NOW - idle)
            )
    # A ready phase waits on a person (§2.2.3 step 3): waiting, never stale, however quiet.
    ready = f"{ContractStatus.ACTIVE.value}-ready"
    cases.append(
        make_contract(
            id=ready,
            name=ready,
            status=ContractStatus.ACTIVE,
            waiting_for=WaitingFor.PHASE_READY,
            last_activity_at=NOW - AGES[-1],
        )
    )
    return cases


async def _selected(store: Store, clause: object) -> set[str]:
    def read(uow: ReadUnitOfWork) -> set[str]:
        return {r for (r,) in uow.conn.execute(select(contracts.c.id).where(clause))}  # type: ignore[arg-type]

    return await store.run_read(read)


async def _written(store: Store) -> list[Contract]:
    cases = _every_case()

    def write(uow: WriteUnitOfWork) -> None:
        uow.conn.execute(insert(contracts), [contract_values(c) for c in cases])

    await store.run_write(write)
    return cases


async def test_the_stale_clause_is_core_s_stale_rule(store: Store) -> None:
    cases = await _written(store)
    expected = {c.id for c in cases if stale_duration(c, NOW, THRESHOLD) is not None}
    assert expected == {"active-3"}  # the case list really straddles the threshold
    assert await _selected(store, predicates.stale(NOW, THRESHOLD)) == expected


async def test_the_waiting_clause_is_core_s_attention_rule(store: Store) -> None:
    cases = await _written(store)
    expected = {c.id for c in cases if waiting_on_reviewer(c) is not None}
    assert "active-ready" in expected
    assert await _selected(store, predicates.waiting_on_reviewer()) == expected
