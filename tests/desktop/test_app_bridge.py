"""The bridge: replica changes coalesced per tick into model updates, alerts, operations."""

from __future__ import annotations

from datetime import timedelta

from core.status import ContractStatus, WaitingFor
from desktop.bridge import SyncBridge
from desktop.ports import LIVE
from sync.outbox import ActionKind, OutboxState
from tests.desktop.conftest import LocalBackend, Loop, make_contract


def test_loads_every_contract_then_coalesces_changes(
    bridge: SyncBridge, backend: LocalBackend, qloop: Loop
) -> None:
    qloop.run(backend.replica.put_contracts([make_contract(i) for i in range(1500)]))
    qloop.run(bridge.start())
    assert len(bridge.contracts) == 1500
    qloop.run(bridge.runner.drain())
    batches: list[int] = []
    bridge.contractsUpdated.connect(lambda found: batches.append(len(found)))

    async def burst() -> None:
        for round_ in range(20):
            await backend.replica.put_contracts([make_contract(round_, version=2)])

    qloop.run(burst())
    qloop.until(lambda: bridge.contracts[make_contract(19).id].version == 2)
    assert len(batches) < 10  # 20 changes arrived as a few ticks, not 20 updates
    assert bridge.contracts[make_contract(7).id].version == 2


def test_alerts_when_a_contract_starts_waiting_and_when_it_goes_stale(
    bridge: SyncBridge, backend: LocalBackend, qloop: Loop, clock: object
) -> None:
    qloop.run(backend.replica.put_contracts([make_contract(0), make_contract(1)]))
    alerts: list[dict[str, str]] = []
    bridge.alert.connect(alerts.append)
    qloop.run(bridge.start())
    waiting = make_contract(
        0,
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.PHASE_CONFIRMATION,
        version=2,
    )
    qloop.run(backend.replica.put_contracts([waiting]))
    qloop.until(lambda: bool(alerts))
    assert alerts[0]["kind"] == "phase_confirmation"
    assert alerts[0]["name"] == "Contract 00000"
    bridge.set_stale_threshold(0.5)
    found = bridge.scan_stale()
    assert [a["kind"] for a in found] == ["stale"]
    assert found[0]["contract_id"] == make_contract(1).id
    assert bridge.scan_stale() == []  # once per quiet episode
    assert bridge.waiting_count() == 1


def test_connection_state_is_forwarded(bridge: SyncBridge, backend: LocalBackend) -> None:
    states: list[str] = []
    bridge.connectionStateChanged.connect(states.append)
    backend.set_state(LIVE)
    assert states == [LIVE]


def test_operations_write_the_outbox_with_the_version_seen(
    bridge: SyncBridge, backend: LocalBackend, qloop: Loop
) -> None:
    contract = make_contract(0, version=4)
    qloop.run(backend.replica.put_contracts([contract]))
    entry = qloop.run(bridge.operations.confirm_phase(contract.id, "execute", 3, "ok"))
    assert entry.kind is ActionKind.CONFIRM_PHASE
    assert entry.expected_version == 3  # what the reviewer saw, not the replica's 4
    assert entry.state is OutboxState.QUEUED
    assert backend.sent == 1
    paused = qloop.run(bridge.operations.pause(contract.id, 4, "lunch"))
    assert paused.payload["target_status"] == "paused"
    answer = qloop.run(bridge.operations.answer_question("q1", contract.id, "yes"))
    assert answer.payload == {"question_id": "q1", "answer": "yes"}
    preview = qloop.run(bridge.operations.run_batch({"operation": "pause_all"}, dry_run=True))
    assert preview["dry_run"] is True


def test_a_failing_operation_reports_through_the_one_presenter(
    bridge: SyncBridge, qloop: Loop
) -> None:
    failures: list[tuple[str, str]] = []
    bridge.operationFailed.connect(lambda title, text: failures.append((title, text)))
    task = bridge.operations.drop(12345)  # no such entry
    qloop.until(task.done)
    assert failures and failures[0][0] == "Drop action"


def test_stale_threshold_setting_changes_the_dashboard_config(bridge: SyncBridge) -> None:
    bridge.set_stale_threshold(2)
    assert bridge.config.stale_threshold == timedelta(minutes=2)
