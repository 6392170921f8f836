"""The main window and the entry point: names, menus, shortcuts, wiring, start-up rules."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from core.config import ContractTimeoutConfig
from core.status import ContractStatus, WaitingFor
from desktop.app import build_parser, main, make_plan
from desktop.bridge import SyncBridge
from desktop.display import NO_DISPLAY, display_problem, x11_reachable
from desktop.ports import LIVE, OFFLINE
from desktop.settings import DeskPaths, DeskSettings, KeyStore
from desktop.views.main_window import CONTRACTS, DASHBOARD, INBOX, MainWindow
from desktop.views.pause_dialog import PauseDialog
from sync.outbox import OutboxState
from tests.desktop.conftest import LocalBackend, Loop, make_contract

STABLE_NAMES = (
    "mainWindow",
    "dashboardPage",
    "contractsTable",
    "contractDetail",
    "historyTimeline",
    "outboxView",
    "connectionStatus",
)


@pytest.fixture
def window(qtbot: QtBot, bridge: SyncBridge, qloop: Loop) -> MainWindow:
    made = MainWindow(bridge)
    qtbot.addWidget(made)
    made.show()
    made.start()
    qloop.run(bridge.runner.drain())
    return made


def test_stable_object_names_and_accessible_names(window: MainWindow) -> None:
    for name in STABLE_NAMES[1:]:
        found = window.findChild(QWidget, name)
        assert found is not None, name
        assert found.accessibleName(), name
    assert window.objectName() == "mainWindow"


def test_every_action_has_a_shortcut_and_a_menu(window: MainWindow) -> None:
    shortcuts = {a.objectName(): a.shortcut().toString() for a in window.actions_by_name.values()}
    assert all(shortcuts.values()), shortcuts
    assert len(set(shortcuts.values())) == len(shortcuts)  # no clashes
    in_menus = {a.objectName() for m in window.menuBar().actions() for a in m.menu().actions()}
    assert set(shortcuts) <= in_menus


def test_shortcuts_switch_pages_and_focus_search(
    qtbot: QtBot, window: MainWindow, qloop: Loop
) -> None:
    window.activateWindow()
    assert window.tabs.currentWidget() is window.inbox  # the page the desk opens on
    window.actions_by_name["actionContracts"].trigger()
    assert window.tabs.currentIndex() == CONTRACTS
    window.actions_by_name["actionDashboard"].trigger()
    assert window.tabs.currentIndex() == DASHBOARD
    window.actions_by_name["actionInbox"].trigger()
    assert window.tabs.currentIndex() == INBOX
    window.actions_by_name["actionFind"].trigger()
    assert window.tabs.currentIndex() == CONTRACTS
    window.actions_by_name["actionOutbox"].trigger()
    assert window.outbox_dock.isVisible()
    window.actions_by_name["actionOutbox"].trigger()
    assert not window.outbox_dock.isVisible()
    window.show_keys()
    assert "Ctrl+1" in window.banner.text()


def test_open_contract_selects_it_and_shows_its_detail(
    qtbot: QtBot, window: MainWindow, bridge: SyncBridge, backend: LocalBackend, qloop: Loop
) -> None:
    waiting = make_contract(
        4, status=ContractStatus.WAITING_FOR_INPUT, waiting_for=WaitingFor.PHASE_CONFIRMATION
    )
    qloop.run(backend.replica.put_contracts([make_contract(i) for i in range(4)] + [waiting]))
    qloop.until(lambda: len(bridge.contracts) == 5 and window.contracts.model.rowCount() == 5)
    window.open_contract(waiting.id)
    qloop.until(lambda: window.detail.snapshot is not None)
    assert window.detail.snapshot.contract.id == waiting.id
    assert window.contracts.current_contract().id == waiting.id
    assert window.current_contract().id == waiting.id
    window.pause_current()
    asked = window.dialogs[-1]
    assert isinstance(asked, PauseDialog)
    qtbot.keyClicks(asked.reason, "lunch")
    qtbot.keyClick(asked.reason, Qt.Key.Key_Return)
    qloop.until(lambda: window.outbox_model.rowCount() == 1)
    assert window.outbox_model.rows[0].payload["target_status"] == "paused"
    assert window.outbox_model.rows[0].payload["reason"] == "lunch"
    assert window.status.outbox_button.text() == "Outbox: 1 queued"
    window.resume_current()  # not paused: refused locally, nothing queued
    assert window.outbox_model.rowCount() == 1


def test_confirm_opens_the_phase_dialog_without_blocking(
    window: MainWindow, backend: LocalBackend, qloop: Loop
) -> None:
    waiting = make_contract(
        0, status=ContractStatus.WAITING_FOR_INPUT, waiting_for=WaitingFor.PHASE_CONFIRMATION
    )
    qloop.run(backend.replica.put_contracts([waiting]))
    window.confirm(waiting)
    assert window.dialogs and window.dialogs[0].isVisible()
    window.dialogs[0].reject()
    qloop.until(lambda: not window.dialogs)


def test_connection_state_and_offline_banner(
    window: MainWindow, backend: LocalBackend, qloop: Loop, bridge: SyncBridge
) -> None:
    backend.set_state(LIVE)
    assert window.status.connection.text() == "● Live"
    backend.set_state(OFFLINE)
    assert window.status.connection.text().startswith("○ Offline since")
    bridge.start()
    qloop.run(bridge.runner.drain())
    assert window.banner.isVisible() and "Offline" in window.banner.text()


def test_a_conflict_opens_the_dialog_and_reconfirm_goes_through_the_outbox(
    window: MainWindow, backend: LocalBackend, qloop: Loop
) -> None:
    contract = make_contract(0, version=3)
    qloop.run(backend.replica.put_contracts([contract]))
    entry = qloop.run(backend.outbox.confirm_phase(contract.id, "execute", expected_version=2))

    async def conflict() -> None:
        from sync.outbox import OutboxState as S

        await backend.outbox._move(entry.id, S.SENDING)
        await backend.outbox._move(
            entry.id,
            S.CONFLICT,
            error_code="VERSION_CONFLICT",
            result={"code": "VERSION_CONFLICT", "contract": contract.to_wire()},
        )

    qloop.run(conflict())
    qloop.until(lambda: window.conflict_dialog is not None)
    dialog = window.conflict_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.reconfirm_button.click()
    qloop.until(lambda: window.outbox_model.rowCount() == 2)
    states = [e.state for e in window.outbox_model.rows]
    assert states == [OutboxState.RECONFIRMED, OutboxState.QUEUED]
    assert window.outbox_model.rows[1].expected_version == 3
    assert window.conflict_dialog is None


def test_the_servers_threshold_is_the_one_the_desk_shows_and_remembers(
    qtbot: QtBot, window: MainWindow, bridge: SyncBridge
) -> None:
    changed: list[object] = []
    window.settingsChanged.connect(lambda s, k: changed.append((s, k)))
    bridge.use_server_config(ContractTimeoutConfig(stale_threshold_minutes=3.0))
    assert bridge.config.stale_threshold_minutes == 3
    assert changed and changed[-1][0].stale_threshold_minutes == 3  # remembered for offline
    dialog = window.open_settings()
    assert dialog.stale.value() == 3 and dialog.stale.isReadOnly()
    assert "as last seen" in dialog.stale_source.text()  # this window is offline
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert bridge.config.stale_threshold_minutes == 3


def test_closing_stops_timers(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.closed):
        window.close()
    assert not window.dashboard._ticker.isActive()
    assert not window.bridge._stale_timer.isActive()


# --- the entry point --------------------------------------------------------------------


def _unused_display() -> int:
    """A display number no X server listens on (neither socket file nor abstract socket)."""
    for number in range(173, 400):
        if x11_reachable(f":{number}") is False:
            return number
    raise AssertionError("every display number answers")


def test_no_display_is_a_clear_message() -> None:
    assert display_problem({}, "linux") == NO_DISPLAY
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({}, "darwin") is None


def test_a_display_that_points_nowhere_is_found() -> None:
    number = _unused_display()
    problem = display_problem({"DISPLAY": f":{number}"}, "linux")
    assert problem is not None and f":{number}" in problem and "xvfb-run" in problem
    # An X server listening (Linux's abstract socket, as Xorg and Xvfb open it) is fine.
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(f"\0/tmp/.X11-unix/X{number}")
        server.listen()
        assert display_problem({"DISPLAY": f":{number}.0"}, "linux") is None
        assert display_problem({"DISPLAY": f":{number}", "QT_QPA_PLATFORM": "xcb"}, "linux") is None


def _desk_without_qt_platform(**display: str) -> subprocess.CompletedProcess[str]:
    """`contract-desk --demo` in an environment with only PATH, HOME and `display`."""
    return subprocess.run(
        [sys.executable, "-m", "desktop.app", "--demo"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **display},
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_a_dead_display_exits_1_with_our_message() -> None:
    """Not Qt's abort ("could not connect to display", exit 134) but what to do."""
    done = _desk_without_qt_platform(DISPLAY=f":{_unused_display()}")
    assert done.returncode == 1, done.stderr
    assert "cannot reach the X display" in done.stderr and "xvfb-run" in done.stderr
    assert "qt.qpa" not in done.stderr and "Traceback" not in done.stderr


def test_without_a_display_the_command_exits_1() -> None:
    done = _desk_without_qt_platform()
    assert done.returncode == 1
    assert "no display" in done.stderr and "Traceback" not in done.stderr


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "many"]) == 2


def test_plan_picks_server_key_and_replica(tmp_path: Path) -> None:
    keys = KeyStore(DeskPaths(tmp_path / "c", tmp_path / "d"), use_keyring=False)
    parse = build_parser().parse_args
    plan = make_plan(parse(["--demo"]), DeskSettings(), keys)
    assert plan.server_url is None and plan.demo == 4 and plan.replica_name == "embedded-demo"
    plan = make_plan(parse(["--server", "http://x:1/", "--api-key", "k"]), DeskSettings(), keys)
    assert (plan.server_url, plan.api_key) == ("http://x:1", "k")
    assert keys.get("http://x:1") == "k"  # kept for the next run
    plan = make_plan(
        argparse.Namespace(server=None, api_key=None, offline=True, demo=None),
        DeskSettings(server_url="http://x:1"),
        keys,
    )
    assert plan.offline and plan.api_key == "k" and plan.replica_name == "http://x:1"
    with pytest.raises(ValueError):
        make_plan(parse(["--demo", "--server", "http://x:1"]), DeskSettings(), keys)


def test_batch_wizard_opens_without_blocking(window: MainWindow, qloop: Loop) -> None:
    wizard = window.batch()
    assert wizard is not None and wizard.isVisible()
    wizard.reject()
    qloop.until(lambda: not window.dialogs)


def test_the_questions_tab_is_a_badge_of_open_questions(window: MainWindow) -> None:
    index = window.tabs.indexOf(window.questions)
    window.questions.countChanged.emit(3)
    assert window.tabs.tabText(index) == "&Questions (3)"
    window.questions.countChanged.emit(0)
    assert window.tabs.tabText(index) == "&Questions"
