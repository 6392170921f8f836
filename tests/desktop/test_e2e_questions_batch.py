"""End to end against a real `contract-server` process: the whole desk stack (SyncService →
ServiceBackend → SyncBridge → Operations) under the questions panel, the batch wizard and the
alert hub.

- a supervisor's question appears in the panel, the answer typed there reaches the server,
  and a question answered elsewhere leaves the panel;
- the batch wizard's dry run lists exactly the contracts the server would touch, and the
  run applies them;
- a contract going stale produces one alert, shown as one notification.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot

from core.batch import BatchOperation
from core.model import Contract, QuestionStatus
from desktop.backend import ServiceBackend
from desktop.bridge import AlertPolicy, SyncBridge
from desktop.notify import AlertKind, Notifications
from desktop.operations import TaskRunner
from desktop.views.batch_wizard import BatchWizard
from desktop.views.questions_panel import QuestionsPanel
from sync.client import ContractClient
from sync.errors import ApiError
from sync.service import SyncService
from tests.desktop.conftest import Loop, until
from tests.desktop.test_notify import RecordingNotifier
from tests.sync.server_fixture import ServerProcess, start_server

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module (starting one takes a while); each test makes its own
    contracts and its own desk (replica) and asserts only on those."""
    process = start_server(tmp_path_factory.mktemp("desk-server"))
    try:
        yield process
    finally:
        process.stop()
        assert "Traceback" not in process.log_text(), process.log_text()[-5000:]


@dataclass
class Desk:
    """The desk's stack on an admin key, plus a supervisor's and the admin's own clients."""

    service: SyncService
    backend: ServiceBackend
    runner: TaskRunner
    bridge: SyncBridge
    admin: ContractClient
    supervisor: ContractClient

    async def active(self, name: str) -> Contract:
        contract = await self.admin.create_contract(f"{name}-{uuid.uuid4().hex[:6]}", "simple")
        await self.supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
        await self.supervisor.change_status(contract.id, "active")
        return (await self.admin.get_contract(contract.id)).contract


@asynccontextmanager
async def open_desk(server: ServerProcess, tmp: Path, loop: Loop) -> AsyncIterator[Desk]:
    service = SyncService(tmp / "replica.db", server.base_url, server.admin_key, flush_interval=0.5)
    backend = ServiceBackend(service)
    await backend.start()
    await asyncio.wait_for(service.wait_live(), 30)
    runner = TaskRunner(loop.loop)
    bridge = SyncBridge(backend, runner)
    await bridge.start()
    admin = ContractClient(server.base_url, server.admin_key)
    supervisor = ContractClient(server.base_url, server.supervisor_key)
    try:
        yield Desk(service, backend, runner, bridge, admin, supervisor)
    finally:
        bridge.close()
        await runner.drain()
        await admin.aclose()
        await supervisor.aclose()
        await backend.stop()
        bridge.deleteLater()


Scenario = Callable[[Desk], Awaitable[None]]


@pytest.fixture
def on_desk(server: ServerProcess, tmp_path: Path, qloop: Loop) -> Callable[[Scenario], None]:
    """Run a scenario on a desk opened and closed inside the same coroutine.

    Opening, the scenario and closing all happen while the qasync loop runs: the sync
    layer's background tasks never see Qt events processed outside a running loop (which
    is what pytest-qt does between a test's call and its teardown).
    """

    def run(scenario: Scenario) -> None:
        async def main() -> None:
            async with open_desk(server, tmp_path, qloop) as desk:
                await scenario(desk)

        qloop.run(main(), 150)

    return run


def test_a_supervisor_question_is_answered_from_the_panel(
    qtbot: QtBot, on_desk: Callable[[Scenario], None]
) -> None:
    async def scenario(desk: Desk) -> None:
        contract = await desk.active("billing")
        panel = QuestionsPanel(desk.bridge, desk.bridge.operations)  # as the main window does
        qtbot.addWidget(panel)
        panel.show()
        asked = await desk.supervisor.ask_question(contract.id, "Which database?", "free_text")
        await until(lambda: panel.count == 1, 20)
        selected = panel.selected()
        assert selected is not None and selected.id == asked.id
        assert panel.model.data(panel.model.index(0, 0)) == contract.name
        qtbot.keyClicks(panel.text_edit, "PostgreSQL")
        qtbot.keyClick(panel.text_edit, Qt.Key.Key_Return)
        assert panel.count == 0
        answered = await desk.supervisor.get_question(asked.id, wait=15)
        assert answered.status is QuestionStatus.ANSWERED
        assert answered.answer == "PostgreSQL"

        # A question answered elsewhere (another reviewer, the CLI) leaves the panel.
        other = await desk.supervisor.ask_question(
            contract.id, "Region?", "choice", choices=["eu", "us"]
        )
        await until(lambda: panel.count == 1, 20)
        await desk.admin.answer_question(other.id, "eu")
        await until(lambda: panel.count == 0, 20)
        panel.stop_following()

    on_desk(scenario)


def test_the_batch_wizard_previews_and_applies_on_the_server(
    qtbot: QtBot, on_desk: Callable[[Scenario], None]
) -> None:
    async def scenario(desk: Desk) -> None:
        running = [await desk.active(f"run{i}") for i in range(3)]
        wordy = await desk.active("A contract whose name is far too long to fit its column " * 2)
        running.append(wordy)
        idle = await desk.admin.create_contract("idle", "simple")  # `created`: not paused
        ids = {c.id for c in running}
        before = await desk.admin.list_contracts(status=["active", "waiting_for_input"])
        ids_now = {c.id for c in before.contracts}  # other tests' running contracts too
        await until(lambda: ids | {idle.id} <= set(desk.bridge.contracts), 20)
        wizard = BatchWizard(desk.bridge.operations, contracts=desk.bridge.contracts)
        qtbot.addWidget(wizard)
        wizard.show()
        wizard.operation_page.choose(BatchOperation.PAUSE_ALL)
        wizard.next()
        qtbot.keyClicks(wizard.parameters_page.reason, "release freeze")
        wizard.next()
        preview = wizard.preview_page
        await until(lambda: preview.answer is not None, 20)
        assert preview.answer is not None
        assert set(preview.answer["affected_ids"]) == ids_now >= ids
        assert preview.answer["dry_run"] is True
        assert {c.name for c in running} <= {r.name for r in preview.model.rows}
        # The dry run changed nothing.
        assert (await desk.admin.list_contracts(status="paused")).total == 0
        wizard.next()
        wizard.confirm_page.agree.setChecked(True)
        wizard.next()
        results = wizard.results_page
        await until(lambda: results.answer is not None or results.failed, 30)
        assert results.answer is not None, results.summary.text()
        assert set(results.answer["affected_ids"]) == ids_now
        assert results.answer["errors"] == []
        # Each row shows the status AFTER the run (issue 8 item 11), as soon as it is shown.
        shown = {r.contract_id: r.status for r in results.model.rows}
        assert {shown[c.id] for c in running} == {"paused"}
        table = results.table
        long_row = next(i for i, r in enumerate(results.model.rows) if r.contract_id == wordy.id)
        cell = table.model().index(long_row, 0)
        assert table.columnWidth(0) < table.fontMetrics().horizontalAdvance(wordy.name)
        assert cell.data(Qt.ItemDataRole.ToolTipRole) == wordy.name  # cut off: the tooltip
        paused = await desk.admin.list_contracts(status="paused")
        assert {c.id for c in paused.contracts} == ids_now
        detail = await desk.admin.get_contract(idle.id)
        assert detail.contract.status.value == "created"

    on_desk(scenario)


def _affected(wizard: BatchWizard) -> set[str]:
    answer = wizard.preview_page.answer or {}
    return set(answer.get("affected_ids") or [])


def _status_is(desk: Desk, ids: set[str], status: str) -> bool:
    held = [desk.bridge.contracts.get(i) for i in ids]
    return all(c is not None and c.status.value == status for c in held)


def test_archive_then_clean_up_with_the_count_typed(
    qtbot: QtBot, on_desk: Callable[[Scenario], None]
) -> None:
    def wizard_for(desk: Desk, operation: BatchOperation) -> BatchWizard:
        made = BatchWizard(desk.bridge.operations, contracts=desk.bridge.contracts)
        qtbot.addWidget(made)
        made.show()
        made.operation_page.choose(operation)
        made.next()
        made.parameters_page.older.setValue(0)
        made.next()
        return made

    async def scenario(desk: Desk) -> None:
        failed = [await desk.active(f"broken{i}") for i in range(2)]
        for contract in failed:
            await desk.supervisor.change_status(contract.id, "failed", reason="crashed")
        ids = {c.id for c in failed}
        await until(lambda: _status_is(desk, ids, "failed"), 20)

        archive = wizard_for(desk, BatchOperation.ARCHIVE_OLD)
        await until(lambda: archive.preview_page.answer is not None, 20)
        assert _affected(archive) == ids
        archive.next()
        archive.confirm_page.agree.setChecked(True)
        archive.next()
        await until(lambda: archive.results_page.answer is not None, 30)
        archived = await desk.admin.list_contracts(status="archived")
        assert {c.id for c in archived.contracts} == ids
        await until(lambda: _status_is(desk, ids, "archived"), 20)

        cleanup = wizard_for(desk, BatchOperation.CLEANUP_ARCHIVED)
        await until(lambda: cleanup.preview_page.answer is not None, 20)
        assert _affected(cleanup) == ids
        cleanup.next()
        run = cleanup.button(QWizard.WizardButton.CommitButton)
        qtbot.keyClicks(cleanup.confirm_page.typed, "3")
        assert not run.isEnabled()  # the wrong count
        cleanup.confirm_page.typed.clear()
        qtbot.keyClicks(cleanup.confirm_page.typed, "2")
        assert run.isEnabled()
        qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
        await until(lambda: cleanup.results_page.answer is not None, 30)
        for contract_id in ids:
            with pytest.raises(ApiError) as gone:
                await desk.admin.get_contract(contract_id)
            assert gone.value.code == "CONTRACT_NOT_FOUND"

    on_desk(scenario)


def test_a_contract_going_stale_produces_one_alert(
    qtbot: QtBot, on_desk: Callable[[Scenario], None]
) -> None:
    recorder = RecordingNotifier()

    async def scenario(desk: Desk) -> None:
        # The desk first takes the server's threshold (30 min here); this test then shortens
        # the alert policy's own, as a server with a one-second threshold would.
        await until(lambda: desk.bridge.config.stale_detection_interval_seconds == 3600.0, 10)
        desk.bridge.set_policy(AlertPolicy(stale_threshold=timedelta(seconds=1)))
        hub = Notifications(window_ms=200)
        hub.attach(recorder)
        hub.follow(desk.bridge)
        try:
            contract = await desk.active("quiet")
            await until(lambda: contract.id in desk.bridge.contracts, 20)
            await asyncio.sleep(1.5)  # no heartbeat, no activity: stale by the desk's rule
            for _ in range(3):
                desk.bridge.scan_stale()  # the periodic scan, run now; later ones stay quiet
            await until(lambda: bool(recorder.groups), 10)
            await asyncio.sleep(0.5)
        finally:
            hub.close()
            hub.deleteLater()
        # One notification for it (other tests' quiet contracts may share it), one alert.
        ours = [g for g in recorder.groups if contract.id in g.contract_ids]
        assert len(ours) == 1
        alerts = [a for a in ours[0].alerts if a.contract_id == contract.id]
        assert [a.kind for a in alerts] == [AlertKind.STALE]
        assert contract.name in ours[0].message or contract.name in ours[0].title

    on_desk(scenario)
