"""ContractClient against a real server process: every method, its answer and its errors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from core.api.contracts import RequiresConfirmation
from core.events import EventType
from core.model import Contract, QuestionStatus, TaskStatus
from core.status import ContractStatus, WaitingFor
from sync.client import ContractClient
from sync.errors import ApiError
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(180)


@dataclass
class Clients:
    reviewer: ContractClient
    supervisor: ContractClient
    admin: ContractClient
    other: ContractClient  # a reviewer of another owner

    async def contract(self, contract_type: str = "simple", **extra: Any) -> Contract:
        return await self.reviewer.create_contract(
            f"c-{uuid.uuid4().hex[:8]}", contract_type, **extra
        )

    async def active(self, contract_type: str = "simple", **extra: Any) -> Contract:
        """A contract with a supervisor task, started by the supervisor."""
        contract = await self.contract(contract_type, **extra)
        await self.supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
        await self.supervisor.change_status(contract.id, "active")
        return (await self.reviewer.get_contract(contract.id)).contract


@pytest.fixture
async def clients(sync_server: ServerProcess) -> AsyncIterator[Clients]:
    url = sync_server.base_url
    made = Clients(
        ContractClient(url, sync_server.reviewer_key),
        ContractClient(url, sync_server.supervisor_key),
        ContractClient(url, sync_server.admin_key),
        ContractClient(url, sync_server.other_key),
    )
    try:
        yield made
    finally:
        for client in (made.reviewer, made.supervisor, made.admin, made.other):
            await client.aclose()


async def expect_error(call: Any, status: int, code: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call
    assert (caught.value.status, caught.value.code) == (status, code), caught.value
    assert caught.value.message
    return caught.value


async def test_health(clients: Clients) -> None:
    assert (await clients.reviewer.health()).status == "ok"


async def test_unknown_key_is_unauthorized(sync_server: ServerProcess) -> None:
    async with ContractClient(sync_server.base_url, "not-a-key") as client:
        await expect_error(client.list_contracts(), 401, "UNAUTHORIZED")


async def test_create_get_update_contract(clients: Clients) -> None:
    made = await clients.contract("specification", description="why", phase_guard=False)
    assert made.status is ContractStatus.CREATED
    assert (made.phase, made.version, made.phase_guard) == ("research", 1, False)
    detail = await clients.reviewer.get_contract(made.id)
    assert detail.contract == made
    assert (detail.tasks, detail.pending_questions, detail.supervisor) == ([], [], None)
    assert detail.readiness is not None and detail.readiness.phase == "research"
    updated = await clients.reviewer.update_contract(made.id, name="renamed", expected_version=1)
    assert (updated.name, updated.version, updated.description) == ("renamed", 2, "why")
    await expect_error(
        clients.reviewer.update_contract(made.id, name="x", expected_version=1),
        409,
        "VERSION_CONFLICT",
    )


async def test_create_custom_contract_and_validation(clients: Clients) -> None:
    config = {
        "phases": [{"id": "a", "name": "A", "order": 0}, {"id": "b", "name": "B", "order": 1}],
        "defaultPhase": "a",
        "deliverables": {"a": [{"id": "doc", "name": "Doc", "priority": "required"}]},
    }
    made = await clients.contract("custom", phase_config=config)
    assert made.custom_phase_config is not None
    assert made.phase_config.phase_ids == ["a", "b"]
    await expect_error(clients.contract("custom"), 400, "VALIDATION_FAILED")
    await expect_error(clients.contract("nonsense"), 400, "VALIDATION_FAILED")
    await expect_error(clients.supervisor.create_contract("x", "simple"), 403, "FORBIDDEN")


async def test_idempotent_create_returns_the_first_answer(clients: Clients) -> None:
    key = uuid.uuid4().hex
    first = await clients.reviewer.create_contract("same", "simple", idempotency_key=key)
    again = await clients.reviewer.create_contract("same", "simple", idempotency_key=key)
    assert again.id == first.id
    await expect_error(
        clients.reviewer.create_contract("different", "simple", idempotency_key=key),
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )


async def test_get_contract_of_another_owner_is_not_found(clients: Clients) -> None:
    made = await clients.contract()
    await expect_error(clients.other.get_contract(made.id), 404, "CONTRACT_NOT_FOUND")
    await expect_error(clients.reviewer.get_contract("missing"), 404, "CONTRACT_NOT_FOUND")


async def test_list_contracts_filters_and_pages(clients: Clients) -> None:
    active = await clients.active()
    created = await clients.contract()
    page = await clients.reviewer.list_contracts(status=["active"], limit=1000)
    ids = {c.id for c in page.contracts}
    assert active.id in ids and created.id not in ids
    assert page.total == len(page.contracts)
    page = await clients.reviewer.list_contracts(status="created,active", phase="plan")
    assert {active.id, created.id} <= {c.id for c in page.contracts}
    one = await clients.reviewer.list_contracts(limit=1)
    assert len(one.contracts) == 1 and one.total >= 2
    second = await clients.reviewer.list_contracts(limit=1, offset=1)
    assert second.contracts[0].id != one.contracts[0].id
    stale = await clients.reviewer.list_contracts(stale=True, threshold="1s", limit=1000)
    assert all(c.status is ContractStatus.ACTIVE for c in stale.contracts)
    waiting = await clients.reviewer.list_contracts(waiting=True, limit=1000)
    assert all(c.status is ContractStatus.WAITING_FOR_INPUT for c in waiting.contracts)
    since = await clients.reviewer.list_contracts(updated_since=created.updated_at, limit=1000)
    assert created.id in {c.id for c in since.contracts}
    await expect_error(clients.reviewer.list_contracts(status="sleeping"), 400, "VALIDATION_FAILED")
    await expect_error(clients.reviewer.list_contracts(limit=5000), 400, "VALIDATION_FAILED")


async def test_status_changes_and_errors(clients: Clients) -> None:
    contract = await clients.active()
    paused = await clients.reviewer.change_status(contract.id, "paused", reason="lunch")
    assert paused.success is True and paused.new_status == "paused"
    error = await expect_error(
        clients.reviewer.change_status(contract.id, "completed"), 400, "INVALID_TRANSITION"
    )
    assert error.details["from"] == "paused"
    await expect_error(
        clients.reviewer.change_status(contract.id, "active", expected_version=1),
        409,
        "VERSION_CONFLICT",
    )
    resumed = await clients.reviewer.change_status(contract.id, "active")
    assert resumed.new_status == "active"
    await expect_error(
        clients.reviewer.change_status(contract.id, "failed"), 400, "VALIDATION_FAILED"
    )


async def test_delete_only_archived(clients: Clients) -> None:
    contract = await clients.active()
    await expect_error(clients.reviewer.delete_contract(contract.id), 400, "INVALID_TRANSITION")
    await clients.reviewer.change_status(contract.id, "failed", reason="broken")
    await clients.reviewer.change_status(contract.id, "archived")
    await clients.reviewer.delete_contract(contract.id, idempotency_key=uuid.uuid4().hex)
    await expect_error(clients.reviewer.get_contract(contract.id), 404, "CONTRACT_NOT_FOUND")


async def test_guarded_phase_change_confirmation_and_feedback(clients: Clients) -> None:
    contract = await clients.active()
    # Confirming needs the deliverables (asking is answered first, §6.3).
    await expect_error(
        clients.reviewer.change_phase(contract.id, "execute", confirmed=True),
        400,
        "VALIDATION_FAILED",
    )
    marked = await clients.supervisor.mark_deliverable(contract.id, "plan-document")
    assert marked.completed_deliverables.get("plan") == ("plan-document",)
    asked = await clients.supervisor.change_phase(contract.id, "execute")
    assert asked.kind == "requires_confirmation" and asked.contract is None
    assert asked.body["nextPhase"] == "execute"
    assert isinstance(asked.answer, RequiresConfirmation)
    assert asked.answer.next_phase == "execute"
    waiting = (await clients.reviewer.get_contract(contract.id)).contract
    assert waiting.waiting_for is WaitingFor.PHASE_CONFIRMATION
    await expect_error(
        clients.supervisor.change_phase(contract.id, "execute", confirmed=True),
        409,
        "PHASE_GUARD_REQUIRED",
    )
    feedback = await clients.reviewer.change_phase(contract.id, "execute", feedback="more")
    assert feedback.kind == "changes_requested"
    await clients.supervisor.change_phase(contract.id, "execute")
    moved = await clients.reviewer.change_phase(
        contract.id, "execute", confirmed=True, comment="ok"
    )
    assert moved.kind == "contract" and moved.contract is not None
    assert moved.contract.phase == "execute"
    await expect_error(
        clients.reviewer.change_phase(contract.id, "nowhere"), 400, "VALIDATION_FAILED"
    )
    await expect_error(
        clients.reviewer.change_phase(contract.id, "plan", expected_version=1),
        409,
        "VERSION_CONFLICT",
    )


async def test_forced_unguarded_advance(clients: Clients) -> None:
    contract = await clients.active("specification", phase_guard=False)
    moved = await clients.reviewer.change_phase(contract.id, "plan", force=True)
    assert moved.contract is not None and moved.contract.phase == "plan"


async def test_readiness_completion_auto_complete_deliverables(clients: Clients) -> None:
    contract = await clients.active()
    readiness = await clients.reviewer.phase_readiness(contract.id)
    assert readiness.ready is False and readiness.missing
    completion = await clients.reviewer.check_completion(contract.id)
    assert completion.ready is False
    off = await clients.reviewer.set_auto_complete(contract.id, False)
    assert off.auto_complete_enabled is False
    await expect_error(
        clients.supervisor.mark_deliverable(contract.id, "nope"), 400, "INVALID_DELIVERABLE"
    )
    await expect_error(clients.reviewer.phase_readiness("missing"), 404, "CONTRACT_NOT_FOUND")


async def test_tasks(clients: Clients) -> None:
    contract = await clients.contract()
    task = await clients.supervisor.create_task(contract.id, "build")
    assert task.status is TaskStatus.PENDING and task.contract_id == contract.id
    done = await clients.supervisor.update_task(contract.id, task.id, "done")
    assert done.status is TaskStatus.DONE
    await expect_error(
        clients.supervisor.update_task(contract.id, task.id, "exploded"), 400, "VALIDATION_FAILED"
    )
    await expect_error(
        clients.supervisor.update_task(contract.id, "missing", "done"), 404, "TASK_NOT_FOUND"
    )


async def test_questions(clients: Clients) -> None:
    contract = await clients.active()
    question = await clients.supervisor.ask_question(
        contract.id, "Which?", "choice", choices=["a", "b"]
    )
    assert question.status is QuestionStatus.PENDING and question.choices == ("a", "b")
    pending = await clients.reviewer.list_questions(status="pending", contract_id=contract.id)
    assert [q.id for q in pending] == [question.id]
    await expect_error(clients.supervisor.answer_question(question.id, "a"), 403, "FORBIDDEN")
    await expect_error(clients.reviewer.answer_question(question.id, "c"), 400, "VALIDATION_FAILED")
    answered = await clients.reviewer.answer_question(question.id, "a")
    assert answered.status is QuestionStatus.ANSWERED and answered.answer == "a"
    again = await clients.supervisor.get_question(question.id, wait=1)
    assert again.answer == "a"
    await expect_error(
        clients.reviewer.answer_question(question.id, "b"), 409, "QUESTION_ALREADY_ANSWERED"
    )
    await expect_error(clients.reviewer.get_question("missing"), 404, "QUESTION_NOT_FOUND")


def beat(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"task_id": task_id, "state": "working", "phase": "plan", "progress": 10, **extra}


async def test_supervisor_heartbeats_status_and_sync(clients: Clients) -> None:
    contract = await clients.contract()
    await expect_error(clients.reviewer.supervisor_status(contract.id), 404, "SUPERVISOR_NOT_FOUND")
    task = await clients.supervisor.create_task(contract.id, "sup", is_supervisor=True)
    await expect_error(clients.reviewer.sync_supervisor(contract.id), 503, "SUPERVISOR_DEAD")
    await clients.supervisor.send_heartbeat(contract.id, beat(task.id, current_activity="a"))
    accepted = await clients.supervisor.send_heartbeats(
        [beat(task.id, contract_id=contract.id, progress=20)]
    )
    assert accepted == 1
    status = await clients.reviewer.supervisor_status(contract.id)
    assert status.alive is True and status.task_id == task.id
    history = await clients.reviewer.supervisor_heartbeats(contract.id, limit=5)
    assert 1 <= len(history) <= 2
    synced = await clients.reviewer.sync_supervisor(contract.id)
    assert synced.synced is True
    await expect_error(
        clients.supervisor.send_heartbeat(contract.id, {"state": "working"}),
        400,
        "VALIDATION_FAILED",
    )


async def test_supervisor_state_restore_and_restart(clients: Clients) -> None:
    contract = await clients.active()
    fresh = await clients.supervisor.restore_supervisor(contract.id)
    assert fresh.action == "start_fresh"
    state = {
        "state": "working",
        "phase": "plan",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
    }
    saved = await clients.supervisor.save_supervisor_state(contract.id, state)
    assert saved.phase == "plan"
    restored = await clients.supervisor.restore_supervisor(contract.id)
    assert restored.action in ("resume", "from_checkpoint")
    await clients.reviewer.restart_supervisor(contract.id, idempotency_key=uuid.uuid4().hex)
    events = await clients.reviewer.contract_events(contract.id)
    assert EventType.SUPERVISOR_RESTART_REQUESTED in {e.type for e in events.events}
    await expect_error(
        clients.supervisor.save_supervisor_state(contract.id, {"state": "x"}),
        400,
        "VALIDATION_FAILED",
    )
    await expect_error(clients.supervisor.restart_supervisor(contract.id), 403, "FORBIDDEN")


async def test_batch_dry_run_and_forbidden(clients: Clients) -> None:
    contract = await clients.active()
    dry = await clients.admin.batch("pause_all", reason="maintenance", dry_run=True)
    assert dry.dry_run is True and contract.id in dry.affected_ids
    assert (
        await clients.reviewer.get_contract(contract.id)
    ).contract.status is ContractStatus.ACTIVE
    await expect_error(clients.reviewer.batch("pause_all", reason="x"), 403, "FORBIDDEN")
    await expect_error(clients.admin.batch("explode"), 400, "VALIDATION_FAILED")


async def test_batch_archive_old_runs(clients: Clients) -> None:
    contract = await clients.active()
    await clients.reviewer.change_status(contract.id, "failed", reason="x")
    result = await clients.admin.batch("archive_old", older_than_hours=0, status_filter=["failed"])
    assert contract.id in result.affected_ids and result.dry_run is False
    archived = (await clients.reviewer.get_contract(contract.id)).contract
    assert archived.status is ContractStatus.ARCHIVED


async def test_dashboard(clients: Clients) -> None:
    await clients.active()
    board = await clients.reviewer.dashboard()
    assert board.status_counts["active"] >= 1
    assert board.recent_events  # the contract's events, typed


async def test_events_and_contract_events_page(clients: Clients) -> None:
    contract = await clients.active()
    everything = await clients.reviewer.events(after=0, limit=1000, contract_id=contract.id)
    types = [e.type for e in everything.events]
    assert types[0] is EventType.CONTRACT_CREATED and EventType.STATUS_CHANGED in types
    seqs = [e.seq or 0 for e in everything.events]
    assert seqs == sorted(seqs) and everything.last_seq == seqs[-1]
    first = await clients.reviewer.contract_events(contract.id, limit=1)
    assert len(first.events) == 1
    rest = await clients.reviewer.contract_events(contract.id, after=first.last_seq)
    assert [e.seq or 0 for e in first.events + rest.events] == seqs
    await expect_error(clients.reviewer.contract_events("missing"), 404, "CONTRACT_NOT_FOUND")
    await expect_error(clients.reviewer.events(limit=0), 400, "VALIDATION_FAILED")


async def test_export(clients: Clients) -> None:
    contract = await clients.active()
    exported = await clients.reviewer.export(contract.id)
    assert exported.contract.id == contract.id
    assert exported.events and exported.tasks  # the contract's history came typed
    await expect_error(clients.other.export(contract.id), 404, "CONTRACT_NOT_FOUND")


async def test_remaining_error_answers(clients: Clients, sync_server: ServerProcess) -> None:
    contract = await clients.contract()
    missing = "00000000-0000-0000-0000-000000000000"
    reviewer, supervisor = clients.reviewer, clients.supervisor
    await expect_error(reviewer.check_completion(missing), 404, "CONTRACT_NOT_FOUND")
    await expect_error(supervisor.set_auto_complete(contract.id, False), 403, "FORBIDDEN")
    await expect_error(supervisor.create_task(missing, "t"), 404, "CONTRACT_NOT_FOUND")
    await expect_error(
        supervisor.ask_question(contract.id, "?", "riddle"), 400, "VALIDATION_FAILED"
    )
    await expect_error(reviewer.list_questions(status="bogus"), 400, "VALIDATION_FAILED")
    await expect_error(
        supervisor.send_heartbeats([{"task_id": "t", "state": "working"}]),
        400,
        "VALIDATION_FAILED",
    )
    await expect_error(reviewer.supervisor_heartbeats(missing), 404, "CONTRACT_NOT_FOUND")
    await expect_error(reviewer.restore_supervisor(missing), 404, "CONTRACT_NOT_FOUND")
    await expect_error(reviewer.delete_contract(missing), 404, "CONTRACT_NOT_FOUND")
    async with ContractClient(sync_server.base_url, "wrong") as stranger:
        await expect_error(stranger.dashboard(), 401, "UNAUTHORIZED")
        await expect_error(stranger.events(), 401, "UNAUTHORIZED")
