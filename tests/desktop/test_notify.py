"""Alerts: grouping, mute, the badge, the tray menu, and the banner where no tray exists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QMainWindow, QSystemTrayIcon, QWidget
from pytestqt.qtbot import QtBot

from core.clock import ManualClock
from core.model import Contract
from core.status import ContractStatus, WaitingFor
from desktop.notify import (
    BADGE_COLOR,
    Alert,
    AlertGroup,
    AlertKind,
    BannerNotifier,
    Notifications,
    TrayNotifier,
    WaitingItem,
    badge_pixmap,
    make_notifier,
    waiting_items,
)
from tests.core.factories import T0, make_contract

WINDOW_MS = 60


class RecordingNotifier:
    """The `Notifier` fake: records what it was asked to show."""

    def __init__(self) -> None:
        self.groups: list[AlertGroup] = []
        self.waiting: list[tuple[int, datetime | None]] = []
        self.connection = (False, 0)
        self.closed = False

    def present(self, group: AlertGroup) -> None:
        self.groups.append(group)

    def set_waiting(self, items: Sequence[WaitingItem], muted_until: datetime | None) -> None:
        self.waiting.append((len(items), muted_until))

    def set_connection(self, offline: bool, queued: int) -> None:
        self.connection = (offline, queued)

    def close(self) -> None:
        self.closed = True


class RecordingHost:
    """The `NotifierHost` fake: records the reviewer's clicks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def open_contract(self, contract_id: str) -> None:
        self.calls.append(("open", contract_id))

    def show_window(self) -> None:
        self.calls.append(("show", ""))

    def toggle_mute(self) -> None:
        self.calls.append(("mute", ""))

    def quit(self) -> None:
        self.calls.append(("quit", ""))


class FakeFeed(QObject):
    """The `AlertFeed` port: the bridge's alert signal and its copy of the contracts."""

    alert = Signal(dict)
    contractsChanged = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.contracts: dict[str, Contract] = {}


def _alert(kind: str, cid: str, text: str = "") -> dict[str, Any]:
    return {"kind": kind, "contract_id": cid, "name": f"Contract {cid}", "text": text or kind}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[tuple[Notifications, RecordingNotifier]]:
    notifications = Notifications(clock=clock, window_ms=WINDOW_MS)
    backend = RecordingNotifier()
    notifications.attach(backend)
    yield notifications, backend
    notifications.close()
    notifications.deleteLater()


def test_one_alert_names_its_contract() -> None:
    group = AlertGroup((Alert.from_dict(_alert("question", "a", "Which database?")),))
    assert group.title == "Contract a needs you"
    assert group.message == "Question: Which database?"
    assert group.contract_ids == ("a",)


def test_alerts_of_several_contracts_read_as_one_message() -> None:
    alerts = [_alert("stale", "a"), _alert("question", "b"), _alert("phase_confirmation", "c")]
    group = AlertGroup(tuple(Alert.from_dict(a) for a in alerts))
    assert group.message == (
        "3 contracts need you: Contract a (stale), Contract b (question), "
        "Contract c (phase confirmation)"
    )


def test_unknown_alert_kind_is_refused_and_the_hub_drops_it(
    qtbot: QtBot, hub: tuple[Notifications, RecordingNotifier]
) -> None:
    with pytest.raises(ValueError):
        Alert.from_dict(_alert("weather", "a"))
    notifications, _ = hub
    notifications.add_alert(_alert("weather", "a"))
    notifications.add_alert({"kind": "stale"})  # no contract id
    assert notifications.grouper.pending == 0


def test_alerts_within_the_window_are_grouped_into_one_notification(
    qtbot: QtBot, hub: tuple[Notifications, RecordingNotifier]
) -> None:
    notifications, backend = hub
    with qtbot.waitSignal(notifications.presented, timeout=2000) as shown:
        notifications.add_alert(_alert("stale", "a"))
        notifications.add_alert(_alert("question", "b"))
        notifications.add_alert(_alert("question", "b"))  # a repeat: dropped
        notifications.add_alert(_alert("phase_confirmation", "c"))
    assert len(backend.groups) == 1
    assert shown.args is not None and shown.args[0] is backend.groups[0]
    assert backend.groups[0].message.startswith("3 contracts need you: ")
    qtbot.wait(WINDOW_MS * 3)
    assert len(backend.groups) == 1  # nothing else was waiting


def test_alerts_after_the_window_make_a_second_notification(
    qtbot: QtBot, hub: tuple[Notifications, RecordingNotifier]
) -> None:
    notifications, backend = hub
    with qtbot.waitSignal(notifications.presented, timeout=2000):
        notifications.add_alert(_alert("stale", "a"))
    with qtbot.waitSignal(notifications.presented, timeout=2000):
        notifications.add_alert(_alert("stale", "b"))
    assert [g.contract_ids for g in backend.groups] == [("a",), ("b",)]


def test_mute_suppresses_notifications_but_not_the_badge(
    qtbot: QtBot, hub: tuple[Notifications, RecordingNotifier], clock: ManualClock
) -> None:
    notifications, backend = hub
    notifications.add_alert(_alert("stale", "a"))
    with qtbot.waitSignal(notifications.mutedChanged, timeout=1000):
        notifications.mute()
    notifications.add_alert(_alert("question", "b"))
    notifications.set_waiting([WaitingItem("a", "A", "stale"), WaitingItem("b", "B", "question")])
    qtbot.wait(WINDOW_MS * 3)
    assert backend.groups == []  # the pending alert was dropped too
    assert backend.waiting[-1] == (2, T0 + timedelta(hours=1))
    clock.advance(3601)
    with qtbot.waitSignal(notifications.presented, timeout=2000):
        notifications.add_alert(_alert("question", "c"))
    assert backend.groups[0].contract_ids == ("c",)
    assert backend.waiting[-1] == (2, None)


def test_toggle_mute_from_the_menu_mutes_then_unmutes(
    hub: tuple[Notifications, RecordingNotifier],
) -> None:
    notifications, _ = hub
    notifications.toggle_mute()
    assert notifications.is_muted()
    notifications.toggle_mute()
    assert not notifications.is_muted()


def test_waiting_items_are_the_contracts_waiting_for_input_and_the_stale_ones() -> None:
    now = T0 + timedelta(hours=1)
    contracts = [
        make_contract(id="q", name="Beta", status=ContractStatus.WAITING_FOR_INPUT,
                      waiting_for=WaitingFor.QUESTION),
        make_contract(id="s", name="alpha"),  # active, quiet for an hour: stale
        make_contract(id="fresh", name="Fresh", last_activity_at=now),
        make_contract(id="p", name="Paused", status=ContractStatus.PAUSED),
    ]  # fmt: skip
    items = waiting_items(contracts, now, timedelta(minutes=30))
    assert [(i.contract_id, i.reason) for i in items] == [("s", "stale"), ("q", "question")]
    assert items[1].label == "Beta — question"


def test_follow_takes_the_bridge_alerts_and_recounts_on_change(
    qtbot: QtBot, hub: tuple[Notifications, RecordingNotifier], clock: ManualClock
) -> None:
    notifications, backend = hub
    feed = FakeFeed()
    notifications.follow(feed)
    assert backend.waiting[-1] == (0, None)
    waiting = make_contract(id="w", status=ContractStatus.WAITING_FOR_INPUT,
                            waiting_for=WaitingFor.PHASE_CONFIRMATION)  # fmt: skip
    feed.contracts["w"] = waiting
    feed.contractsChanged.emit(["w"])
    assert backend.waiting[-1] == (1, None)
    told = len(backend.waiting)
    feed.contractsChanged.emit(["w"])  # nothing new waits: the backend is not bothered
    assert len(backend.waiting) == told
    with qtbot.waitSignal(notifications.presented, timeout=2000):
        feed.alert.emit(_alert("phase_confirmation", "w"))
    assert backend.groups[0].contract_ids == ("w",)


def _pixel(count: int) -> QColor:
    image = badge_pixmap(count).toImage()
    return image.pixelColor(image.width() - 6, 14)


def test_the_badge_is_drawn_onto_the_icon_only_when_something_waits() -> None:
    assert _pixel(3) == BADGE_COLOR
    assert _pixel(0) != BADGE_COLOR
    assert _pixel(250) == BADGE_COLOR  # "99+"


def test_tray_menu_lists_the_waiting_contracts_and_acts(qtbot: QtBot) -> None:
    host = RecordingHost()
    tray = TrayNotifier(host)
    try:
        items = [WaitingItem("a", "Alpha", "question"), WaitingItem("b", "Beta", "stale")]
        tray.set_waiting(items, None)
        names = [a.objectName() for a in tray.menu.actions() if a.objectName()]
        assert names == ["trayOpen", "trayItem:a", "trayItem:b", "trayMute", "trayQuit"]
        assert tray.count == 2
        assert "2 waiting" in tray.tray.toolTip()
        by_name = {a.objectName(): a for a in tray.menu.actions()}
        for name in ("trayItem:b", "trayOpen", "trayMute", "trayQuit"):
            by_name[name].trigger()
        assert host.calls == [("open", "b"), ("show", ""), ("mute", ""), ("quit", "")]
        tray.set_waiting(items, T0)
        mute = next(a for a in tray.menu.actions() if a.objectName() == "trayMute")
        assert mute.isChecked() and "Muted until" in mute.text()
    finally:
        tray.close()
    # Closing leaves nothing behind: the parentless tray menu goes with the notifier.
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not [w for w in QApplication.topLevelWidgets() if w.objectName() == "trayMenu"]


def test_offline_the_tray_says_so_and_its_icon_changes(qtbot: QtBot) -> None:
    tray = TrayNotifier(RecordingHost())
    try:
        items = [WaitingItem(str(i), f"C{i}", "question") for i in range(12)]
        tray.set_waiting(items, None)
        assert tray.tray.toolTip() == "Contract Desk: 12 waiting"
        online = tray.tray.icon().pixmap(64, 64).toImage()
        tray.set_connection(True, 3)
        assert tray.tray.toolTip() == (
            "Contract Desk: offline, 3 actions queued; 12 waiting at the last sync"
        )
        assert tray.tray.icon().pixmap(64, 64).toImage() != online
        tray.set_connection(False, 0)
        assert tray.tray.toolTip() == "Contract Desk: 12 waiting"
        assert tray.tray.icon().pixmap(64, 64).toImage() == online
    finally:
        tray.close()


def test_the_hub_tells_its_backend_the_connection_once_per_change(
    hub: tuple[Notifications, RecordingNotifier],
) -> None:
    notifications, backend = hub
    notifications.set_connection(True, 2)
    assert backend.connection == (True, 2)
    fresh = RecordingNotifier()
    notifications.attach(fresh)  # a backend attached later learns it at once
    assert fresh.connection == (True, 2)


def test_closing_the_hub_stops_its_timer_and_closes_the_backend(
    hub: tuple[Notifications, RecordingNotifier],
) -> None:
    notifications, backend = hub
    notifications.add_alert(_alert("stale", "a"))
    assert notifications.grouper.pending == 1
    notifications.close()
    assert notifications.grouper.pending == 0
    assert not notifications.grouper._timer.isActive()
    assert backend.closed


def test_clicking_the_tray_notification_opens_its_contract(qtbot: QtBot) -> None:
    host = RecordingHost()
    tray = TrayNotifier(host)
    try:
        tray.tray.messageClicked.emit()  # nothing shown yet: just show the window
        tray.present(AlertGroup((Alert(AlertKind.QUESTION, "q7", "Q7", "Why?"),)))
        tray.tray.messageClicked.emit()
        tray.tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
        assert host.calls == [("show", ""), ("open", "q7"), ("show", "")]
    finally:
        tray.close()


@pytest.fixture
def window(qtbot: QtBot) -> QMainWindow:
    main = QMainWindow()
    main.setCentralWidget(QWidget())
    main.resize(640, 400)
    qtbot.addWidget(main)
    main.show()
    return main


def test_without_a_tray_alerts_appear_as_a_banner_with_an_open_button(
    qtbot: QtBot, window: QMainWindow, clock: ManualClock
) -> None:
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen has no tray
    notifications = make_notifier(window, clock=clock, window_ms=WINDOW_MS)
    try:
        assert isinstance(notifications.backend, BannerNotifier)
        banner = notifications.backend.banner
        assert banner.objectName() == "alertBanner" and not banner.isVisible()
        with qtbot.waitSignal(notifications.presented, timeout=2000):
            notifications.add_alert(_alert("question", "a", "Which database?"))
            notifications.add_alert(_alert("stale", "b"))
        assert banner.isVisible()
        assert (
            banner.text.text() == "2 contracts need you: Contract a (question), Contract b (stale)"
        )
        assert banner.width() == window.width()
        with qtbot.waitSignal(notifications.openContractRequested, timeout=1000) as opened:
            qtbot.mouseClick(banner.open_button, Qt.MouseButton.LeftButton)
        assert opened.args == ["a"]
        assert not banner.isVisible()
    finally:
        notifications.close()


def test_banner_mute_and_keyboard_dismiss(
    qtbot: QtBot, window: QMainWindow, clock: ManualClock
) -> None:
    notifications = make_notifier(window, clock=clock, tray_available=False, window_ms=WINDOW_MS)
    try:
        assert isinstance(notifications.backend, BannerNotifier)
        banner = notifications.backend.banner
        for button in (banner.open_button, banner.mute_button, banner.dismiss_button):
            assert button.accessibleName() and button.focusPolicy() & Qt.FocusPolicy.TabFocus
        with qtbot.waitSignal(notifications.presented, timeout=2000):
            notifications.add_alert(_alert("stale", "a"))
        banner.setFocus()
        with qtbot.waitSignal(banner.dismissed, timeout=1000):
            qtbot.keyClick(banner, Qt.Key.Key_Escape)
        assert not banner.isVisible()
        with qtbot.waitSignal(notifications.presented, timeout=2000):
            notifications.add_alert(_alert("stale", "b"))
        qtbot.mouseClick(banner.mute_button, Qt.MouseButton.LeftButton)
        assert notifications.is_muted()
        notifications.set_waiting([WaitingItem("b", "B", "stale")])
        assert notifications.backend.count == 1  # the count still follows while muted
    finally:
        notifications.close()
