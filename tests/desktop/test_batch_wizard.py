"""The batch wizard, driven with next() and button clicks; its preview model via qtmodeltester."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWizard
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from core.api.batch import BatchResult
from core.batch import BatchRequest, plan_batch
from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.model import Contract
from core.status import ContractStatus
from desktop.models.batch_preview_model import BatchPreviewModel, RowKind, rows_from_answer
from desktop.views.batch_wizard import ADMIN_ONLY, BatchWizard
from tests.core.factories import T0, make_contract

NOW = T0 + timedelta(days=10)


class PlanningBatch:
    """The `BatchActions` port in memory: answers as the server would, planned by core.

    With `hold=True` the futures stay open until the test settles them.
    """

    def __init__(self, contracts: Mapping[str, Contract], hold: bool = False) -> None:
        self.contracts = contracts
        self.hold = hold
        self.calls: list[tuple[dict[str, Any], bool]] = []
        self.open: list[Future[dict[str, Any]]] = []

    def run_batch(self, params: Mapping[str, Any], dry_run: bool) -> Future[dict[str, Any]]:
        self.calls.append((dict(params), dry_run))
        future: Future[dict[str, Any]] = Future()
        if self.hold:
            self.open.append(future)
            return future
        request = BatchRequest.parse({**params, "dry_run": dry_run})
        plan = plan_batch(request, list(self.contracts.values()), NOW, ContractTimeoutConfig())
        done = BatchResult.of(plan, dry_run, applied_ids=plan.affected_ids)
        future.set_result(done.model_dump(mode="json"))
        return future


CONTRACTS = {
    c.id: c
    for c in (
        make_contract(id="old-done", name="Old done", status=ContractStatus.COMPLETED),
        make_contract(id="old-failed", name="Old failed", status=ContractStatus.FAILED),
        make_contract(id="new-done", name="New done", status=ContractStatus.COMPLETED,
                      status_changed_at=NOW - timedelta(hours=1)),
        make_contract(id="busy", name="Busy", status=ContractStatus.ACTIVE),
        make_contract(id="paused", name="Paused", status=ContractStatus.PAUSED),
        make_contract(id="gone", name="Gone", status=ContractStatus.ARCHIVED),
        make_contract(id="gone2", name="Gone too", status=ContractStatus.ARCHIVED),
        make_contract(id="stale-sv", name="Stale with supervisor", supervisor_task_id="t9"),
    )
}  # fmt: skip


@pytest.fixture
def batch() -> PlanningBatch:
    return PlanningBatch(CONTRACTS)


def _wizard(qtbot: QtBot, batch: PlanningBatch, *, is_admin: bool = True) -> BatchWizard:
    wizard = BatchWizard(batch, contracts=CONTRACTS, is_admin=is_admin, clock=ManualClock(NOW))
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def _click(qtbot: QtBot, button: Any) -> None:
    """Click a check box or radio button on its indicator (the only part that takes clicks)."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(4, button.height() // 2))


def _button(wizard: BatchWizard, which: QWizard.WizardButton) -> Any:
    return wizard.button(which)


def test_non_admins_are_told_why_batch_operations_are_unavailable(
    qtbot: QtBot, batch: PlanningBatch
) -> None:
    wizard = _wizard(qtbot, batch, is_admin=False)
    assert wizard.objectName() == "batchWizard"
    assert wizard.currentPage().objectName() == "batchUnavailablePage"
    assert wizard.unavailable_page.reason.text() == ADMIN_ONLY
    assert "admin key" in ADMIN_ONLY
    assert not _button(wizard, QWizard.WizardButton.NextButton).isVisible()
    qtbot.mouseClick(_button(wizard, QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    assert batch.calls == []


def test_archive_old_previews_confirms_and_reports(qtbot: QtBot, batch: PlanningBatch) -> None:
    wizard = _wizard(qtbot, batch)
    assert wizard.operation_page.operation().value == "archive_old"
    wizard.next()
    page = wizard.parameters_page
    assert wizard.currentPage() is page
    assert page.older.value() == 168.0 and page.older.isVisible()
    assert not page.reason.isVisible()
    with qtbot.waitSignal(wizard.previewReady, timeout=1000) as preview:
        wizard.next()
    assert batch.calls[-1] == (
        {"operation": "archive_old", "older_than_hours": 168.0,
         "status_filter": ["completed", "failed"]},
        True,
    )  # fmt: skip
    assert preview.args is not None and preview.args[0]["affected_count"] == 2
    rows = wizard.preview_page.model.rows
    assert [(r.name, r.kind, r.detail) for r in rows] == [
        ("Old done", RowKind.PLANNED, "completed 10d ago"),
        ("Old failed", RowKind.PLANNED, "failed 10d ago"),
    ]
    assert "2 contract(s) would be affected" in wizard.preview_page.summary.text()
    wizard.next()
    confirm = wizard.confirm_page
    run = _button(wizard, QWizard.WizardButton.CommitButton)
    assert wizard.currentPage() is confirm and run.text() == "&Run"
    assert not run.isEnabled() and not confirm.typed.isVisible()
    _click(qtbot, confirm.agree)
    assert run.isEnabled()
    with qtbot.waitSignal(wizard.batchFinished, timeout=1000) as finished:
        qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    assert batch.calls[-1][1] is False
    assert finished.args is not None and finished.args[0]["affected_ids"] == [
        "old-done",
        "old-failed",
    ]
    results = wizard.results_page
    assert [r.kind for r in results.model.rows] == [RowKind.DONE, RowKind.DONE]
    assert results.summary.text() == "Done: 2 contract(s) changed, 0 error(s)."
    assert not _button(wizard, QWizard.WizardButton.BackButton).isEnabled()  # committed
    assert _button(wizard, QWizard.WizardButton.FinishButton).isEnabled()


def test_cleanup_needs_the_count_typed(qtbot: QtBot, batch: PlanningBatch) -> None:
    wizard = _wizard(qtbot, batch)
    _click(qtbot, wizard.operation_page.buttons[_op("cleanup_archived")])
    wizard.next()
    wizard.parameters_page.older.setValue(48)
    with qtbot.waitSignal(wizard.previewReady, timeout=1000):
        wizard.next()
    wizard.next()
    confirm = wizard.confirm_page
    run = _button(wizard, QWizard.WizardButton.CommitButton)
    assert confirm.typed.isVisible() and not confirm.agree.isVisible()
    assert "Type 2 to confirm" in confirm.statement.text()
    qtbot.keyClicks(confirm.typed, "3")
    assert not run.isEnabled()
    confirm.typed.clear()
    qtbot.keyClicks(confirm.typed, "2")
    assert run.isEnabled()
    with qtbot.waitSignal(wizard.batchFinished, timeout=1000):
        qtbot.keyClick(run, Qt.Key.Key_Space)
    assert batch.calls[-1] == ({"operation": "cleanup_archived", "older_than_hours": 48.0}, False)


def _op(value: str) -> Any:
    from core.batch import BatchOperation

    return BatchOperation(value)


def test_parameters_are_validated_before_the_dry_run(qtbot: QtBot, batch: PlanningBatch) -> None:
    wizard = _wizard(qtbot, batch)
    wizard.next()
    page = wizard.parameters_page
    _click(qtbot, page.completed)
    _click(qtbot, page.failed)
    wizard.next()
    assert wizard.currentPage() is page
    assert page.error.text() == "Choose at least one status to archive."
    assert batch.calls == []
    _click(qtbot, page.failed)
    with qtbot.waitSignal(wizard.previewReady, timeout=1000):
        wizard.next()
    assert batch.calls[-1][0]["status_filter"] == ["failed"]


def test_pause_all_sends_the_reason_and_restart_stale_the_threshold(
    qtbot: QtBot, batch: PlanningBatch
) -> None:
    wizard = _wizard(qtbot, batch)
    wizard.operation_page.choose(_op("pause_all"))
    wizard.next()
    assert wizard.parameters_page.reason.isVisible()
    assert not wizard.parameters_page.older.isVisible()
    qtbot.keyClicks(wizard.parameters_page.reason, "release freeze")
    with qtbot.waitSignal(wizard.previewReady, timeout=1000):
        wizard.next()
    assert batch.calls[-1][0] == {"operation": "pause_all", "reason": "release freeze"}
    assert [r.contract_id for r in wizard.preview_page.model.rows] == ["busy", "stale-sv"]
    wizard.back()
    wizard.back()
    wizard.operation_page.choose(_op("restart_stale"))
    wizard.next()
    page = wizard.parameters_page
    assert page.use_default.isChecked() and not page.threshold.isEnabled()
    _click(qtbot, page.use_default)
    page.threshold.setValue(90)
    with qtbot.waitSignal(wizard.previewReady, timeout=1000):
        wizard.next()
    assert batch.calls[-1][0] == {"operation": "restart_stale", "stale_threshold_minutes": 90.0}
    rows = wizard.preview_page.model.rows
    # "busy" has no supervisor: the dry run lists it as skipped, with the reason.
    assert [(r.contract_id, r.kind, r.detail) for r in rows] == [
        ("stale-sv", RowKind.PLANNED, "stale for 10d"),
        ("busy", RowKind.SKIPPED, "no supervisor"),
    ]
    assert "1 would be skipped" in wizard.preview_page.summary.text()


def test_resume_all_takes_no_parameters(qtbot: QtBot, batch: PlanningBatch) -> None:
    wizard = _wizard(qtbot, batch)
    wizard.operation_page.choose(_op("resume_all"))
    wizard.next()
    assert wizard.parameters_page.nothing.isVisible()
    with qtbot.waitSignal(wizard.previewReady, timeout=1000):
        wizard.next()
    assert batch.calls[-1][0] == {"operation": "resume_all"}
    assert [r.contract_id for r in wizard.preview_page.model.rows] == ["paused"]


def test_nothing_to_do_and_a_failed_dry_run_stop_the_wizard(qtbot: QtBot) -> None:
    held = PlanningBatch({}, hold=True)
    wizard = _wizard(qtbot, held)
    wizard.next()
    wizard.next()
    next_button = _button(wizard, QWizard.WizardButton.NextButton)
    assert wizard.preview_page.summary.text() == "Asking the server for a dry run…"
    assert not next_button.isEnabled()
    held.open[-1].set_exception(RuntimeError("403 FORBIDDEN"))
    assert "dry run failed: 403 FORBIDDEN" in wizard.preview_page.summary.text()
    assert not next_button.isEnabled()
    wizard.back()
    wizard.next()
    held.open[-1].set_result(
        {"operation": "archive_old", "affected_count": 0, "affected_ids": [], "errors": [],
         "dry_run": True}
    )  # fmt: skip
    assert wizard.preview_page.summary.text() == "Nothing to do: no contract matches."
    assert not next_button.isEnabled()


def test_an_answer_to_an_older_dry_run_is_ignored(qtbot: QtBot) -> None:
    held = PlanningBatch(CONTRACTS, hold=True)
    wizard = _wizard(qtbot, held)
    wizard.next()
    wizard.next()
    wizard.back()
    wizard.next()
    assert len(held.open) == 2
    held.open[0].set_result({"affected_count": 5, "affected_ids": ["x"] * 5, "dry_run": True})
    assert wizard.preview_page.answer is None
    held.open[1].set_result({"affected_count": 1, "affected_ids": ["old-done"], "dry_run": True})
    assert wizard.preview_page.count == 1


def test_results_show_per_contract_errors(qtbot: QtBot) -> None:
    held = PlanningBatch(CONTRACTS, hold=True)
    wizard = _wizard(qtbot, held)
    wizard.next()
    wizard.next()
    dry = {"affected_count": 2, "affected_ids": ["old-done", "old-failed"], "dry_run": True}
    held.open[-1].set_result(dry)
    wizard.next()
    wizard.confirm_page.agree.setChecked(True)
    wizard.next()
    held.open[-1].set_result(
        {"operation": "archive_old", "affected_count": 1, "affected_ids": ["old-done"],
         "errors": [{"contract_id": "old-failed", "error": "VERSION_CONFLICT"}], "dry_run": False}
    )  # fmt: skip
    rows = wizard.results_page.model.rows
    assert [(r.name, r.kind, r.detail) for r in rows] == [
        ("Old done", RowKind.DONE, "done"),
        ("Old failed", RowKind.SKIPPED, "VERSION_CONFLICT"),
    ]
    assert wizard.results_page.summary.text() == "Done: 1 contract(s) changed, 1 error(s)."


def test_preview_model_passes_qtmodeltester(qtmodeltester: ModelTester) -> None:
    model = BatchPreviewModel()
    qtmodeltester.check(model)
    answer = {
        "affected_ids": ["old-done", "unknown-id"],
        "errors": [{"contract_id": "busy", "error": "no supervisor"}],
        "dry_run": True,
    }
    model.set_rows(rows_from_answer(answer, CONTRACTS, {"old-done": "completed 10d ago"}))
    qtmodeltester.check(model)
    assert model.rowCount() == 3 and model.columnCount() == 3
    assert model.data(model.index(1, 0)) == "unknown-id"
    assert model.data(model.index(1, 1)) == "unknown"
    assert model.data(model.index(2, 2)) == "no supervisor"
    assert model.data(model.index(2, 0), Qt.ItemDataRole.ForegroundRole) is not None
    model.clear()
    qtmodeltester.check(model)


def test_operation_choices_are_named_and_keyboard_reachable(
    qtbot: QtBot, batch: PlanningBatch
) -> None:
    wizard = _wizard(qtbot, batch)
    buttons = wizard.operation_page.buttons
    assert len(buttons) == 5
    for button in buttons.values():
        assert button.accessibleName() and button.accessibleDescription()
        assert "&" in button.text()  # a mnemonic
    qtbot.keyClick(buttons[_op("pause_all")], Qt.Key.Key_Space)
    assert wizard.operation_page.operation().value == "pause_all"


def test_a_forbidden_dry_run_explains_that_an_admin_key_is_needed(qtbot: QtBot) -> None:
    from sync.errors import ApiError

    held = PlanningBatch(CONTRACTS, hold=True)
    wizard = BatchWizard(held)  # role not known: the server's answer tells
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    wizard.next()
    held.open[-1].set_exception(ApiError(403, "FORBIDDEN", "Batch operations need an admin key"))
    assert wizard.preview_page.summary.text() == ADMIN_ONLY
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()


def test_without_the_contracts_rows_are_named_by_id(qtbot: QtBot, batch: PlanningBatch) -> None:
    wizard = BatchWizard(batch, None)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    with qtbot.waitSignal(wizard.previewReady, timeout=1000):
        wizard.next()
    assert [r.name for r in wizard.preview_page.model.rows] == ["old-done", "old-failed"]
