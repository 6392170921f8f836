"""The status bar: connection state and the outbox with each action's outcome."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.models.outbox import OutboxModel, action_text, outcome_text
from desktop.ports import CATCHING_UP, CONNECTING, LIVE, OFFLINE
from desktop.views.status_bar import DeskStatusBar, OutboxView, connection_text
from sync.outbox import ActionKind, OutboxEntry, OutboxState
from tests.desktop.conftest import NOW


def entry(
    number: int, state: OutboxState, kind: ActionKind = ActionKind.CONFIRM_PHASE, **extra: object
) -> OutboxEntry:
    values: dict[str, object] = {
        "id": number,
        "contract_id": "c1",
        "kind": kind,
        "payload": {"phase": "execute", "comment": None},
        "idempotency_key": f"k{number}",
        "expected_version": 3,
        "state": state,
        "attempts": 0,
        "error_code": None,
        "error_message": None,
        "result": None,
        "replaces": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(extra)
    return OutboxEntry(**values)  # type: ignore[arg-type]


def test_connection_texts() -> None:
    assert connection_text(LIVE, None) == "● Live"
    assert connection_text(CATCHING_UP, None) == "◐ Catching up…"
    assert connection_text(CONNECTING, None) == "○ Connecting…"
    since = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert connection_text(OFFLINE, since).startswith("○ Offline since ")
    assert connection_text(OFFLINE, None) == "○ Offline"


def test_status_bar_counts_queued_and_attention(qtbot: QtBot) -> None:
    model = OutboxModel()
    bar = DeskStatusBar(model)
    qtbot.addWidget(bar)
    assert bar.connection.objectName() == "connectionStatus"
    bar.connection.show_state(LIVE, None)
    assert bar.connection.text() == "● Live"
    model.upsert(entry(1, OutboxState.QUEUED))
    assert bar.outbox_button.text() == "Outbox: 1 queued"
    model.upsert(entry(2, OutboxState.CONFLICT))
    assert bar.outbox_button.text() == "Outbox: 1 queued, 1 need you"
    model.upsert(entry(1, OutboxState.APPLIED))
    assert bar.outbox_button.text() == "Outbox: 1 need you"
    toggled: list[bool] = []
    bar.outboxToggled.connect(lambda: toggled.append(True))
    qtbot.mouseClick(bar.outbox_button, Qt.MouseButton.LeftButton)
    assert toggled == [True]


def test_outbox_view_lists_outcomes_and_opens_conflicts(qtbot: QtBot) -> None:
    model = OutboxModel()
    view = OutboxView(model)
    qtbot.addWidget(view)
    assert view.objectName() == "outboxView"
    model.upsert(entry(1, OutboxState.QUEUED, attempts=2))
    model.upsert(entry(2, OutboxState.REJECTED, error_message="Invalid transition"))
    model.upsert(entry(3, OutboxState.CONFLICT))
    model.upsert(
        entry(
            4,
            OutboxState.APPLIED,
            kind=ActionKind.ANSWER_QUESTION,
            payload={"question_id": "q", "answer": "yes"},
        )
    )
    assert [model.index(r, 4).data() for r in range(4)] == [
        "queued (tried 2 times, will retry)",
        "rejected — needs you: Invalid transition",
        "conflict — needs you",
        "applied",
    ]
    assert model.index(3, 1).data() == "Answer: yes"
    assert action_text(entry(5, OutboxState.QUEUED)) == "Confirm phase execute"
    pause = {"target_status": "paused", "reason": "review"}
    assert action_text(entry(7, OutboxState.QUEUED, ActionKind.CHANGE_STATUS, payload=pause)) == (
        "Pause: review"
    )
    assert outcome_text(entry(6, OutboxState.SENDING)) == "sending…"
    opened: list[OutboxEntry] = []
    view.entryActivated.connect(opened.append)
    view.setCurrentIndex(model.index(0, 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert opened == []  # queued: nothing to decide
    view.setCurrentIndex(model.index(2, 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    view.setCurrentIndex(model.index(1, 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert [e.id for e in opened] == [3, 2]  # a conflict and a refusal alike
    assert [e.id for e in model.needing_attention()] == [2, 3]
