"""The phase confirmation dialog, driven through its buttons and signals (never exec())."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDialog, QWidget
from pytestqt.qtbot import QtBot

from core.model import Contract, PendingPhaseConfirmation, TaskStatus
from core.status import ContractStatus, WaitingFor
from desktop.views.phase_dialog import FEEDBACK_REQUIRED, PhaseConfirmationDialog
from tests.core.factories import T0, make_contract, make_task


class RecordingPhaseActions:
    """The `PhaseActions` port, recording every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def confirm_phase(
        self, contract_id: str, phase: str, version: int, comment: str | None = None
    ) -> object:
        self.calls.append(("confirm", contract_id, phase, version, comment))
        return None

    def request_changes(self, contract_id: str, phase: str, version: int, feedback: str) -> object:
        self.calls.append(("changes", contract_id, phase, version, feedback))
        return None


def _waiting(**overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "id": "c1",
        "name": "Billing export",
        "status": ContractStatus.WAITING_FOR_INPUT,
        "waiting_for": WaitingFor.PHASE_CONFIRMATION,
        "pending_confirmation": PendingPhaseConfirmation("t1", "execute", T0),
        "version": 4,
    }
    fields.update(overrides)
    return make_contract(**fields)


TASKS = [
    make_task(id="t1", name="write plan", status=TaskStatus.DONE),
    make_task(id="t2", name="review plan", status=TaskStatus.RUNNING),
    make_task(id="sv", name="supervisor", status=TaskStatus.RUNNING, is_supervisor=True),
]


@pytest.fixture
def actions() -> RecordingPhaseActions:
    return RecordingPhaseActions()


@pytest.fixture
def dialog(qtbot: QtBot, actions: RecordingPhaseActions) -> Iterator[PhaseConfirmationDialog]:
    shown = PhaseConfirmationDialog(_waiting(), TASKS, actions)
    qtbot.addWidget(shown)
    shown.show()
    qtbot.waitExposed(shown)
    yield shown


def _rows(tree: Any) -> list[list[str]]:
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [[item.text(c) for c in range(tree.columnCount())] for item in items]


def test_shows_the_move_deliverables_tasks_and_what_core_says_is_missing(
    dialog: PhaseConfirmationDialog,
) -> None:
    assert dialog.objectName() == "phaseConfirmationDialog"
    assert "Plan → Execute" in dialog.heading.text()
    assert _rows(dialog.deliverables) == [["Plan Document", "missing (required)"]]
    assert _rows(dialog.tasks) == [
        ["write plan", "done"],
        ["review plan", "running"],
        ["supervisor (supervisor)", "running"],
    ]
    # core.gates: the deliverable, and one unfinished task (the supervisor never counts).
    assert dialog.missing.text() == "Deliverable: plan-document\n1 tasks incomplete"


def test_nothing_missing_is_said_plainly(qtbot: QtBot, actions: RecordingPhaseActions) -> None:
    ready = _waiting(completed_deliverables={"plan": ("plan-document",)})
    done = [make_task(status=TaskStatus.DONE)]
    shown = PhaseConfirmationDialog(ready, done, actions)
    qtbot.addWidget(shown)
    assert shown.missing.text() == "Nothing is missing."
    assert _rows(shown.deliverables) == [["Plan Document", "done"]]


def test_confirm_sends_the_comment_bound_to_the_version_seen(
    qtbot: QtBot, dialog: PhaseConfirmationDialog, actions: RecordingPhaseActions
) -> None:
    qtbot.keyClicks(dialog.comment, "Looks good")
    with qtbot.waitSignal(dialog.confirmed, timeout=1000) as confirmed:
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    assert confirmed.args == ["Looks good"]
    assert actions.calls == [("confirm", "c1", "execute", 4, "Looks good")]
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_confirm_without_comment_sends_none(
    qtbot: QtBot, dialog: PhaseConfirmationDialog, actions: RecordingPhaseActions
) -> None:
    with qtbot.waitSignal(dialog.confirmed, timeout=1000) as confirmed:
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    assert confirmed.args == [""]
    assert actions.calls == [("confirm", "c1", "execute", 4, None)]


def test_request_changes_needs_feedback(
    qtbot: QtBot, dialog: PhaseConfirmationDialog, actions: RecordingPhaseActions
) -> None:
    qtbot.mouseClick(dialog.changes_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == FEEDBACK_REQUIRED
    assert dialog.isVisible() and actions.calls == []
    qtbot.keyClicks(dialog.feedback, "Split the plan into milestones")
    with qtbot.waitSignal(dialog.changesRequested, timeout=1000) as requested:
        qtbot.mouseClick(dialog.changes_button, Qt.MouseButton.LeftButton)
    assert requested.args == ["Split the plan into milestones"]
    assert actions.calls == [("changes", "c1", "execute", 4, "Split the plan into milestones")]
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_cancel_decides_nothing(
    qtbot: QtBot, dialog: PhaseConfirmationDialog, actions: RecordingPhaseActions
) -> None:
    with qtbot.waitSignal(dialog.rejected, timeout=1000):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert actions.calls == []
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_a_change_while_open_is_shown_and_rebinds_the_version(
    qtbot: QtBot, dialog: PhaseConfirmationDialog, actions: RecordingPhaseActions
) -> None:
    newer = replace(_waiting(), version=5, completed_deliverables={"plan": ("plan-document",)})
    dialog.show_contract(newer, TASKS)
    assert dialog.changed_note.isVisible()
    assert "version 4 → 5" in dialog.changed_note.text()
    assert _rows(dialog.deliverables) == [["Plan Document", "done"]]
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    assert actions.calls == [("confirm", "c1", "execute", 5, None)]


def test_without_a_pending_confirmation_the_next_phase_is_the_following_one(
    qtbot: QtBot, actions: RecordingPhaseActions
) -> None:
    shown = PhaseConfirmationDialog(make_contract(phase="plan"), [], actions)
    qtbot.addWidget(shown)
    assert shown.target == "execute"
    last = PhaseConfirmationDialog(make_contract(phase="execute"), [], actions)
    qtbot.addWidget(last)
    assert last.target is None and not last.confirm_button.isEnabled()


def test_every_control_is_named_and_reachable_by_keyboard(
    qtbot: QtBot, dialog: PhaseConfirmationDialog, actions: RecordingPhaseActions
) -> None:
    focusable = [
        w
        for w in dialog.findChildren(QWidget)
        if w.focusPolicy() & Qt.FocusPolicy.TabFocus and w.isVisible()
    ]
    for widget in focusable:
        assert widget.accessibleName(), widget.objectName()
    # Tab from the comment reaches the confirm button (the text boxes pass Tab on).
    dialog.comment.setFocus()
    seen = set()
    for _ in range(len(focusable) + 2):
        seen.add(dialog.focusWidget())
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
    assert {dialog.confirm_button, dialog.changes_button, dialog.cancel_button} <= seen
    dialog.confirm_button.setFocus()
    with qtbot.waitSignal(dialog.confirmed, timeout=1000):
        qtbot.keyClick(dialog.confirm_button, Qt.Key.Key_Space)
    assert actions.calls[0][0] == "confirm"


def test_opened_as_request_changes_the_feedback_box_has_the_focus(
    qtbot: QtBot, dialog: PhaseConfirmationDialog
) -> None:
    dialog.activateWindow()
    dialog.focus_feedback()
    qtbot.waitUntil(lambda: dialog.focusWidget() is dialog.feedback, timeout=1000)


def test_a_confirmation_resolved_elsewhere_cannot_be_decided_again(
    qtbot: QtBot, dialog: PhaseConfirmationDialog, actions: RecordingPhaseActions
) -> None:
    updates = Updates()
    dialog.follow_updates(updates.contractsUpdated)
    moved = make_contract(id="c1", name="Billing export", phase="execute", version=5)
    updates.contractsUpdated.emit([make_contract(id="other", version=9), moved])
    assert dialog.resolved_elsewhere
    assert "decided elsewhere" in dialog.changed_note.text()
    assert not dialog.confirm_button.isEnabled() and not dialog.changes_button.isEnabled()
    dialog.confirm()
    dialog.feedback.setPlainText("late")
    dialog.reject_phase()
    assert actions.calls == []


def test_updates_of_the_contract_refresh_the_dialog(
    qtbot: QtBot, dialog: PhaseConfirmationDialog, actions: RecordingPhaseActions
) -> None:
    updates = Updates()
    dialog.follow_updates(updates.contractsUpdated)
    done = replace(_waiting(), version=6, completed_deliverables={"plan": ("plan-document",)})
    updates.contractsUpdated.emit([done])
    assert _rows(dialog.deliverables) == [["Plan Document", "done"]]
    assert _rows(dialog.tasks)[0] == ["write plan", "done"]  # the tasks given are kept
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    assert actions.calls == [("confirm", "c1", "execute", 6, None)]


class Updates(QObject):
    contractsUpdated = Signal(list)
