"""Event pages built from SQLite rows are exactly the wire form of the logged events."""

from __future__ import annotations

from datetime import UTC, datetime

from core.clock import ManualClock
from core.status import ContractStatus
from core.store import queries
from core.store.engine import open_store
from core.store.repository import ContractRepository
from core.store.sqlite_events import wire_time
from tests.store.helpers import ADMIN, REVIEWER, SUPERVISOR, started_contract


def test_wire_time_truncates_like_iso() -> None:
    assert wire_time("2026-11-26 07:08:09.123999") == "2026-11-26T07:08:09.123Z"
    assert wire_time("2026-11-26 07:08:09") == "2026-11-26T07:08:09.000Z"


async def test_pages_match_logged_events_wire_form(sqlite_url: str) -> None:
    store = await open_store(sqlite_url, migrate=True)
    clock = ManualClock(datetime(2026, 11, 26, 7, 8, 9, 987654, tzinfo=UTC))
    repo = ContractRepository(store, clock)
    ids = []
    # Marking the phase's deliverable requests the guarded advance by itself (auto-advance).
    for kind, deliverable in (("simple", "plan-document"), ("specification", "research-notes")):
        cid = await started_contract(repo, kind)
        ids.append(cid)
        clock.advance(1.0001)
        await repo.mark_deliverable(cid, SUPERVISOR, deliverable)
        await repo.ask_question(cid, SUPERVISOR, "Which «DB»?", "choice", choices=["a", "b"])
    await repo.change_status(ids[0], REVIEWER, ContractStatus.FAILED, reason="boom ✗")
    await repo.change_status(ids[0], ADMIN, ContractStatus.ARCHIVED)
    await repo.delete_contract(ids[0], ADMIN)
    for owner in ("alice", None):
        for contract_id in (None, ids[1]):
            for after, limit in ((0, 1000), (3, 4), (10_000, 10)):
                page = await queries.events_after(
                    store, owner, after=after, contract_id=contract_id, limit=limit
                )
                wire = await queries.events_after_wire(
                    store, owner, after=after, contract_id=contract_id, limit=limit
                )
                assert wire == page.to_wire()
    full = await queries.events_after_wire(store, None, limit=1000)
    assert len(full["events"]) >= 15
    kinds = {e["type"] for e in full["events"]}
    assert kinds >= {"question_asked", "phase_confirmation_requested", "contract_deleted"}
    await store.close()
