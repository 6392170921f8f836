"""The main window over the whole stack against a real `contract-server`, with a supervisor
at work meanwhile: the harness of the "live updates never touch the reviewer's input" tests.

- `sync_server` (conftest): a real server process per test module;
- `open_desk(server, folder, qtbot)`: SyncService → ServiceBackend → SyncBridge → MainWindow
  with its drafts beside the replica in `folder` (opening it again on the same folder is a
  restart of the desk);
- `LiveWork`: a supervisor making real API calls in the background (tasks created, started
  and finished, heartbeats) on the contracts it is given, so rows move, questions are
  re-read and the detail reloads while the test types and clicks;
- `Desk.updates(n)`: wait until `n` more coalesced updates have reached the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView
from pytestqt.qtbot import QtBot

from core.model import Contract
from desktop.backend import ServiceBackend
from desktop.bridge import SyncBridge
from desktop.drafts import Drafts, drafts_beside
from desktop.operations import TaskRunner
from desktop.views.main_window import MainWindow
from sync.client import ContractClient
from sync.errors import ApiError
from sync.monitor import Backoff
from sync.service import SyncService
from tests.desktop.conftest import until
from tests.sync.server_fixture import ServerProcess


@dataclass
class Desk:
    backend: ServiceBackend
    bridge: SyncBridge
    window: MainWindow
    admin: ContractClient
    supervisor: ContractClient
    ticks: list[int] = field(default_factory=lambda: [0])  # contractsUpdated emissions
    refreshes: list[int] = field(default_factory=lambda: [0])  # questionsChanged emissions

    async def updates(self, count: int = 3, within: float = 30) -> None:
        """Wait until `count` more live updates (bridge ticks and question re-reads) have
        reached the window."""
        ticks, refreshes = self.ticks[0], self.refreshes[0]
        await until(
            lambda: self.ticks[0] >= ticks + count and self.refreshes[0] >= refreshes + count,
            within,
        )

    async def active(self, name: str) -> Contract:
        contract = await self.admin.create_contract(f"{name}-{uuid.uuid4().hex[:6]}", "simple")
        await self.supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
        await self.supervisor.change_status(contract.id, "active")
        return (await self.admin.get_contract(contract.id)).contract

    async def waiting_for_confirmation(self, name: str) -> Contract:
        return await waiting_for_confirmation(self.admin, self.supervisor, name)

    def shown(self, contract_id: str) -> Contract | None:
        """The contract as the table holds it (None: not there yet)."""
        model = self.window.contracts.model
        row = model.row_of(contract_id)
        return None if row is None else model.contract_at(row)

    def click_row(self, qtbot: QtBot, table: QAbstractItemView, row: int) -> None:
        """A real mouse click on a row of `table` (scrolled into view first)."""
        index = table.model().index(row, 0)
        table.scrollTo(index)
        rect = table.visualRect(index)
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    def table_ids(self) -> list[str]:
        """The contracts on the table's rows, top to bottom, as the view shows them."""
        page = self.window.contracts
        shown = [page.contract_at(r) for r in range(page.shown_count())]
        return [c.id for c in shown if c is not None]


async def waiting_for_confirmation(
    admin: ContractClient, supervisor: ContractClient, name: str = "guarded"
) -> Contract:
    """A guarded contract whose supervisor asked to move from plan to execute."""
    contract = await admin.create_contract(
        f"{name}-{uuid.uuid4().hex[:6]}", "simple", phase_guard=True
    )
    await supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
    await supervisor.change_status(contract.id, "active")
    await supervisor.mark_deliverable(contract.id, "plan-document")
    answer = await supervisor.change_phase(contract.id, "execute")
    assert answer.kind == "requires_confirmation"
    return (await admin.get_contract(contract.id)).contract


class LiveWork:
    """A supervisor at work on `contracts` through the real API, every `every` seconds:
    a task created, started and finished, and a heartbeat — until stopped.

    Contracts in `quiet` get heartbeats only: a task changes the contract's version, and a
    decision taken on a version that has moved on is (rightly) a conflict."""

    def __init__(self, supervisor: ContractClient, contracts: Sequence[Contract]) -> None:
        self.supervisor = supervisor
        self.contracts = list(contracts)
        self.quiet: set[str] = set()
        self.calls = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> LiveWork:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, every: float = 0.15) -> None:
        step = 0
        while True:
            step += 1
            for contract in self.contracts:
                await self._work(contract, step)
            await asyncio.sleep(every)

    async def _work(self, contract: Contract, step: int) -> None:
        beat = {"state": "working", "progress": step % 100}
        try:
            if contract.id in self.quiet:
                await self.supervisor.send_heartbeat(contract.id, beat)
                return
            task = await self.supervisor.create_task(contract.id, f"step {step}")
            await self.supervisor.update_task(contract.id, task.id, "running")
            await self.supervisor.send_heartbeat(contract.id, beat)
            await self.supervisor.update_task(contract.id, task.id, "done")
            self.calls += 1
        except ApiError:
            pass  # a contract that has moved on (paused, done) refuses work: fine


@asynccontextmanager
async def open_desk(server: ServerProcess, folder: Path, qtbot: QtBot) -> AsyncIterator[Desk]:
    replica = folder / "replica.db"
    service = SyncService(
        replica,
        server.base_url,
        server.admin_key,
        flush_interval=0.2,
        backoff=Backoff(base=0.1, cap=0.5),
    )
    backend = ServiceBackend(service)
    await backend.start()
    await asyncio.wait_for(service.wait_live(), 30)
    bridge = SyncBridge(backend, TaskRunner(asyncio.get_running_loop()))
    window = MainWindow(bridge, drafts=Drafts(drafts_beside(replica)))
    qtbot.addWidget(window)
    window.show()
    window.start()
    admin = ContractClient(server.base_url, server.admin_key)
    supervisor = ContractClient(server.base_url, server.supervisor_key)
    desk = Desk(backend, bridge, window, admin, supervisor)
    bridge.contractsUpdated.connect(lambda _: desk.ticks.__setitem__(0, desk.ticks[0] + 1))
    bridge.questionsChanged.connect(lambda: desk.refreshes.__setitem__(0, desk.refreshes[0] + 1))
    await until(lambda: bridge.loaded, 20)
    try:
        yield desk
    finally:
        window.shutdown()
        await bridge.runner.drain()
        await admin.aclose()
        await supervisor.aclose()
        await backend.stop()
