"""End to end against a real `contract-server` process: the main window over the whole stack
(SyncService → ServiceBackend → SyncBridge → Operations → outbox → server).

- a guarded advance appears as waiting in the table, and confirming moves the server's contract;
- with the server stopped a confirmation is queued, and after a restart it is applied;
- a confirmation made on an old version conflicts: the conflict dialog shows it and
  re-confirming against the new version applies it;
- started offline, the desk shows the history synced before.

Everything runs inside coroutines on the qasync loop (`qloop.run`): Qt events are processed
only while the loop runs, so the sync tasks always see a running loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.model import Contract
from core.status import ContractStatus, WaitingFor
from desktop.backend import ServiceBackend
from desktop.bridge import SyncBridge
from desktop.operations import TaskRunner
from desktop.ports import LIVE, OFFLINE
from desktop.views.main_window import MainWindow
from sync.client import ContractClient
from sync.monitor import Backoff
from sync.outbox import OutboxState
from sync.service import SyncService
from tests.desktop.conftest import Loop, until
from tests.desktop.live_desk import waiting_for_confirmation
from tests.support.server import ServerProcess, serving

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server process of the test's own (tests/support/server.py)."""
    with serving(tmp_path / "server") as process:
        yield process


@dataclass
class Desk:
    backend: ServiceBackend
    bridge: SyncBridge
    window: MainWindow
    admin: ContractClient
    supervisor: ContractClient

    async def waiting_for_confirmation(self) -> Contract:
        return await waiting_for_confirmation(self.admin, self.supervisor)

    def waits(self, contract_id: str) -> bool:
        """The table shows the contract waiting for a phase confirmation."""
        shown = self.row(contract_id)
        # version 0: a placeholder row from the events, before the refresh brings the real one
        waiting = shown is not None and shown.waiting_for is WaitingFor.PHASE_CONFIRMATION
        return waiting and shown is not None and shown.version > 0

    def row(self, contract_id: str) -> Contract | None:
        model = self.window.contracts.model
        row = model.row_of(contract_id)
        return None if row is None else model.contract_at(row)


@asynccontextmanager
async def open_desk(
    server: ServerProcess, replica: Path, qtbot: QtBot, *, offline: bool = False
) -> AsyncIterator[Desk]:
    service = SyncService(
        replica,
        server.base_url,
        server.admin_key,
        flush_interval=0.3,
        backoff=Backoff(base=0.1, cap=0.5),
    )
    backend = ServiceBackend(service, offline=offline)
    await backend.start()
    if not offline:
        await asyncio.wait_for(service.wait_live(), 30)
    bridge = SyncBridge(backend, TaskRunner(asyncio.get_running_loop()))
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    window.show()
    window.start()
    admin = ContractClient(server.base_url, server.admin_key)
    supervisor = ContractClient(server.base_url, server.supervisor_key)
    try:
        yield Desk(backend, bridge, window, admin, supervisor)
    finally:
        window.shutdown()
        await bridge.runner.drain()
        await admin.aclose()
        await supervisor.aclose()
        await backend.stop()


def test_a_guarded_advance_waits_and_confirming_moves_the_server_contract(
    qtbot: QtBot, qloop: Loop, server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(server, tmp_path / "replica.db", qtbot) as desk:
            contract = await desk.waiting_for_confirmation()
            await until(lambda: desk.waits(contract.id), 20)
            shown = desk.row(contract.id)
            assert shown is not None
            assert shown.status is ContractStatus.WAITING_FOR_INPUT
            assert shown.waiting_for is WaitingFor.PHASE_CONFIRMATION
            desk.window.open_contract(contract.id)
            await until(lambda: desk.window.detail.snapshot is not None, 10)
            assert desk.window.detail.buttons["confirm"].isEnabled()
            # The reviewer's way: the confirmation dialog, a comment, the Confirm button.
            dialog = desk.window.confirm_current()
            assert dialog is not None and dialog.isVisible()
            assert dialog.objectName() == "phaseConfirmationDialog"
            dialog.comment.setPlainText("ship it")
            dialog.confirm_button.click()
            await until(lambda: _phase(desk, contract.id) == "execute", 20)
            server_copy = (await desk.admin.get_contract(contract.id)).contract
            assert server_copy.phase == "execute"
            assert server_copy.status is ContractStatus.ACTIVE
            await until(lambda: _applied(desk) == 1, 10)
            history = await desk.bridge.replica.history(contract.id)
            moved = [e for e in history if e.type.value == "phase_changed"]
            assert moved and moved[-1].payload.get("comment") == "ship it"

    qloop.run(scenario(), 120)


def test_with_the_server_stopped_a_confirmation_is_queued_then_applied(
    qtbot: QtBot, qloop: Loop, server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(server, tmp_path / "replica.db", qtbot) as desk:
            contract = await desk.waiting_for_confirmation()
            await until(lambda: desk.waits(contract.id), 20)
            version = desk.row(contract.id).version  # type: ignore[union-attr]
            await asyncio.to_thread(server.stop)
            await until(lambda: desk.bridge.state == OFFLINE, 20)
            assert desk.window.status.connection.text().startswith("○ Offline")
            entry = await desk.bridge.operations.confirm_phase(contract.id, "execute", version)
            await asyncio.sleep(1.0)
            queued = await desk.backend.outbox.get(entry.id)
            assert queued.state is OutboxState.QUEUED
            assert desk.window.status.outbox_button.text() == "Outbox: 1 queued"
            await asyncio.to_thread(server.restart)
            await until(lambda: desk.bridge.state == LIVE, 30)
            await until(lambda: _applied(desk) == 1, 30)
            assert (await desk.admin.get_contract(contract.id)).contract.phase == "execute"
            await until(lambda: desk.window.status.outbox_button.text() == "Outbox: all sent", 10)

    qloop.run(scenario(), 180)


def test_a_conflicting_confirmation_shows_the_conflict_dialog(
    qtbot: QtBot, qloop: Loop, server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(server, tmp_path / "replica.db", qtbot) as desk:
            contract = await desk.waiting_for_confirmation()
            await until(lambda: desk.waits(contract.id), 20)
            await desk.backend.service.settle()
            seen = desk.row(contract.id)
            assert seen is not None
            # Someone else changes the contract after the reviewer looked at it.
            edited = await desk.admin.update_contract(contract.id, description="edited elsewhere")
            assert edited.version > seen.version
            await desk.bridge.operations.confirm_phase(contract.id, "execute", seen.version)
            await until(lambda: desk.window.conflict_dialog is not None, 20)
            dialog = desk.window.conflict_dialog
            assert dialog is not None and dialog.isVisible()
            assert dialog.new_version == edited.version
            assert "version" in dialog.fields.item(0, 0).text().lower()
            assert (await desk.admin.get_contract(contract.id)).contract.phase == "plan"
            dialog.reconfirm_button.click()
            await until(lambda: _phase(desk, contract.id) == "execute", 20)
            states = [e.state for e in desk.window.outbox_model.rows]
            assert states == [OutboxState.RECONFIRMED, OutboxState.APPLIED]

    qloop.run(scenario(), 120)


def test_started_offline_the_desk_shows_the_history_synced_before(
    qtbot: QtBot, qloop: Loop, server: ServerProcess, tmp_path: Path
) -> None:
    replica = tmp_path / "replica.db"

    async def sync_first() -> str:
        async with open_desk(server, replica, qtbot) as desk:
            contract = await desk.waiting_for_confirmation()
            await desk.bridge.operations.confirm_phase(contract.id, "execute", contract.version)
            await until(lambda: _phase(desk, contract.id) == "execute", 20)
            await until(lambda: _applied(desk) == 1, 10)
            await asyncio.sleep(0.5)  # let the last events land
            return contract.id

    contract_id = qloop.run(sync_first(), 120)
    server.stop()

    async def offline() -> None:
        async with open_desk(server, replica, qtbot, offline=True) as desk:
            await until(lambda: desk.bridge.loaded, 10)
            assert desk.window.status.connection.text().startswith("○ Offline")
            desk.window.open_contract(contract_id)
            await until(lambda: desk.window.detail.snapshot is not None, 10)
            model = desk.window.detail.history_model
            what = [model.index(r, 2).data() for r in range(model.rowCount())]
            assert any(str(w).startswith("created the contract") for w in what)
            assert "asked to move plan → execute" in what
            assert "moved phase plan → execute" in what
            assert desk.window.banner.isVisible()

    qloop.run(offline(), 60)


def _phase(desk: Desk, contract_id: str) -> str | None:
    found = desk.bridge.contracts.get(contract_id)
    return None if found is None else found.phase


def _applied(desk: Desk) -> int:
    return sum(1 for e in desk.window.outbox_model.rows if e.state is OutboxState.APPLIED)
