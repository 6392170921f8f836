"""Alerts for the reviewer: the tray where one exists, an in-window banner where not.

The shape follows qutebrowser's notification adapters. `Notifications` is the hub: it takes
alerts (`{kind, contract_id, name, text}` from `SyncBridge.alert`), groups the ones that
arrive within about a second into one `AlertGroup` ("3 contracts need you: …"), drops them
while muted, and hands each group to a `Notifier` backend. It also keeps the list of what
waits on the reviewer, which backends show as a badge (the tray) — muting never hides that.

Backends: `TrayNotifier` (QSystemTrayIcon: badge drawn onto the icon, a menu with Open, the
waiting contracts, Mute for an hour and Quit; clicking a notification opens its contract) and
`BannerNotifier` (`desktop.views.banner.AlertBanner` inside the window). Tests use a
recording fake of the `Notifier` protocol. A backend reports the reviewer's clicks back to
the hub through the `NotifierHost` protocol, and the hub re-emits them as Qt signals.

`make_notifier(window)` picks the backend: the tray when
`QSystemTrayIcon.isSystemTrayAvailable()`, else the banner.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from core.attention import waiting_on_reviewer
from core.clock import Clock, SystemClock
from core.inbox import InboxItem
from core.model import Contract
from core.timing import stale_duration
from desktop.dialog_ports import AlertFeed
from desktop.views.banner import AlertBanner

log = logging.getLogger(__name__)

GROUP_WINDOW_MS = 1000  # alerts arriving within this window become one notification
MUTE_FOR = timedelta(hours=1)
MENU_ITEMS = 10  # waiting contracts listed in the tray menu; the rest are summed up
ICON_SIZE = 64
APP_NAME = "Contract Desk"


class AlertKind(StrEnum):
    STALE = "stale"  # an active contract has shown no activity for too long
    QUESTION = "question"  # a supervisor asked a question
    PHASE_CONFIRMATION = "phase_confirmation"  # a guarded phase advance waits for a reviewer

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    contract_id: str
    name: str
    text: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Alert:
        """From the bridge's `{kind, contract_id, name, text}` (unknown kinds raise)."""
        contract_id = str(raw["contract_id"])
        name = str(raw.get("name") or contract_id)
        return cls(AlertKind(str(raw["kind"])), contract_id, name, str(raw.get("text") or ""))


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """Alerts shown as one notification. Several contracts → "N contracts need you: …"."""

    alerts: tuple[Alert, ...]

    @property
    def contract_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.contract_id for a in self.alerts))

    @property
    def title(self) -> str:
        ids = self.contract_ids
        return f"{self.alerts[0].name} needs you" if len(ids) == 1 else APP_NAME

    @property
    def message(self) -> str:
        ids = self.contract_ids
        if len(ids) == 1:
            return "\n".join(f"{a.kind.label.capitalize()}: {a.text}" for a in self.alerts)
        parts = [self._summary(cid) for cid in ids]
        return f"{len(ids)} contracts need you: {', '.join(parts)}"

    def _summary(self, contract_id: str) -> str:
        mine = [a for a in self.alerts if a.contract_id == contract_id]
        kinds = ", ".join(dict.fromkeys(a.kind.label for a in mine))
        return f"{mine[0].name} ({kinds})"


@dataclass(frozen=True, slots=True)
class WaitingItem:
    """A contract waiting on the reviewer, as the tray menu lists it."""

    contract_id: str
    name: str
    reason: str  # "question", "phase confirmation", "completion confirmation", "stale"

    @property
    def label(self) -> str:
        return f"{self.name} — {self.reason}"


def waiting_items(
    contracts: Iterable[Contract], now: datetime, stale_threshold: timedelta
) -> list[WaitingItem]:
    """What needs the reviewer: contracts waiting on them and stale ones (core's two rules,
    core.attention and core.timing), sorted by name."""
    found = []
    for contract in contracts:
        waiting = waiting_on_reviewer(contract)
        if waiting is not None:
            found.append(WaitingItem(contract.id, contract.name, waiting.value.replace("_", " ")))
        elif stale_duration(contract, now, stale_threshold) is not None:
            found.append(WaitingItem(contract.id, contract.name, "stale"))
    return sorted(found, key=lambda item: (item.name.lower(), item.contract_id))


class NotifierHost(Protocol):
    """What a backend may ask of the hub when the reviewer clicks."""

    def open_contract(self, contract_id: str) -> None: ...

    def show_window(self) -> None: ...

    def toggle_mute(self) -> None: ...

    def quit(self) -> None: ...


class Notifier(Protocol):
    """A way to show alerts: the tray, the banner, or a recording fake."""

    def present(self, group: AlertGroup) -> None:
        """Show one (grouped) notification."""
        ...

    def set_waiting(self, items: Sequence[WaitingItem], muted_until: datetime | None) -> None:
        """What waits on the reviewer (the badge) and whether notifications are muted."""
        ...

    def set_connection(self, offline: bool, queued: int) -> None:
        """Offline or not, and how many actions are queued (the tooltip and the icon)."""
        ...

    def close(self) -> None: ...


class AlertGrouper(QObject):
    """Collects alerts for `window_ms` after the first one, then emits them as one group.

    A repeat of the same (kind, contract) within the window is dropped.
    """

    grouped = Signal(object)  # AlertGroup

    def __init__(self, window_ms: int = GROUP_WINDOW_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._alerts: dict[tuple[AlertKind, str], Alert] = {}
        self._timer = QTimer(self, singleShot=True, interval=window_ms)
        self._timer.timeout.connect(self.flush)

    def add(self, alert: Alert) -> None:
        self._alerts.setdefault((alert.kind, alert.contract_id), alert)
        if not self._timer.isActive():
            self._timer.start()

    @property
    def pending(self) -> int:
        return len(self._alerts)

    def flush(self) -> None:
        self._timer.stop()
        if self._alerts:
            group = AlertGroup(tuple(self._alerts.values()))
            self._alerts = {}
            self.grouped.emit(group)

    def stop(self) -> None:
        self._timer.stop()
        self._alerts = {}


class Notifications(QObject):
    """The hub between the bridge's alerts and one `Notifier` backend."""

    openContractRequested = Signal(str)
    showWindowRequested = Signal()
    quitRequested = Signal()
    mutedChanged = Signal(bool)
    presented = Signal(object)  # the AlertGroup handed to the backend

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        window_ms: int = GROUP_WINDOW_MS,
        stale_threshold: timedelta = timedelta(minutes=30),
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.clock = clock or SystemClock()
        self.stale_threshold = stale_threshold
        self.backend: Notifier | None = None
        self.waiting: tuple[WaitingItem, ...] = ()
        self.muted_until: datetime | None = None
        self.offline = False
        self.queued = 0
        self.grouper = AlertGrouper(window_ms, self)
        self.grouper.grouped.connect(self._present)
        self._feed: AlertFeed | None = None
        self._from_inbox = False

    def attach(self, backend: Notifier) -> None:
        self.backend = backend
        backend.set_waiting(self.waiting, self.muted_until)
        backend.set_connection(self.offline, self.queued)

    def set_connection(self, offline: bool, queued: int) -> None:
        """While offline the badge's count is as of the last sync: the backend says so."""
        if (offline, queued) == (self.offline, self.queued):
            return
        self.offline, self.queued = offline, queued
        if self.backend is not None:
            self.backend.set_connection(offline, queued)

    # --- input ---------------------------------------------------------------------------

    def add_alert(self, raw: Mapping[str, Any] | Alert) -> None:
        """An alert from the bridge; shown (grouped) unless muted. An alert of a kind this
        desk does not know is logged and dropped (a newer bridge must not crash the slot)."""
        try:
            alert = raw if isinstance(raw, Alert) else Alert.from_dict(raw)
        except (KeyError, ValueError):
            log.warning("alert of an unknown shape dropped: %r", raw)
            return
        if not self.is_muted():
            self.grouper.add(alert)

    def set_waiting(self, items: Sequence[WaitingItem]) -> None:
        """What waits on the reviewer; the backend hears only of a change (the tray's menu is
        rebuilt then, so an open menu does not flicker on every contract tick)."""
        if tuple(items) == self.waiting:
            return
        self.waiting = tuple(items)
        self._update_backend()

    def follow(self, feed: AlertFeed) -> None:
        """Take the bridge's alerts, and recount what waits whenever contracts change."""
        self._feed = feed
        feed.alert.connect(self.add_alert)
        feed.contractsChanged.connect(self.recount)
        self.recount()

    def count_from(self, inbox: SignalInstance) -> None:
        """What waits is the inbox's items from now on (`core.inbox`'s rule, as the Inbox
        tab shows them): `inbox` emits lists of `InboxItem`s; contracts changing no
        longer recount by themselves."""
        self._from_inbox = True
        inbox.connect(self._inbox_items)

    def _inbox_items(self, items: Sequence[InboxItem]) -> None:
        self.set_waiting(
            [
                WaitingItem(i.contract_id, i.contract_name, i.kind.value.replace("_", " "))
                for i in items
            ]
        )

    def recount(self, *_: object) -> None:
        if self._feed is not None and not self._from_inbox:
            contracts = self._feed.contracts.values()
            now = self.clock.now()
            self.set_waiting(waiting_items(contracts, now, self.stale_threshold))

    # --- mute ----------------------------------------------------------------------------

    def is_muted(self) -> bool:
        if self.muted_until is not None and self.clock.now() >= self.muted_until:
            self.muted_until = None
            self._update_backend()
            self.mutedChanged.emit(False)
        return self.muted_until is not None

    def mute(self, duration: timedelta = MUTE_FOR) -> None:
        """Suppress notifications (not the badge) for `duration`; pending ones are dropped."""
        self.muted_until = self.clock.now() + duration
        self.grouper.stop()
        self._update_backend()
        self.mutedChanged.emit(True)

    def unmute(self) -> None:
        self.muted_until = None
        self._update_backend()
        self.mutedChanged.emit(False)

    # --- NotifierHost --------------------------------------------------------------------

    def open_contract(self, contract_id: str) -> None:
        self.openContractRequested.emit(contract_id)

    def show_window(self) -> None:
        self.showWindowRequested.emit()

    def toggle_mute(self) -> None:
        if self.is_muted():
            self.unmute()
        else:
            self.mute()

    def quit(self) -> None:
        self.quitRequested.emit()

    # --- output --------------------------------------------------------------------------

    def _present(self, group: AlertGroup) -> None:
        if self.is_muted():
            return
        if self.backend is not None:
            self.backend.present(group)
        self.presented.emit(group)

    def _update_backend(self) -> None:
        if self.backend is not None:
            self.backend.set_waiting(self.waiting, self.muted_until)

    def close(self) -> None:
        self.grouper.stop()
        if self._feed is not None:
            # The bridge may already be gone at shutdown: nothing left to disconnect then.
            with contextlib.suppress(RuntimeError, TypeError):
                self._feed.alert.disconnect(self.add_alert)
                self._feed.contractsChanged.disconnect(self.recount)
            self._feed = None
        if self.backend is not None:
            self.backend.close()
            self.backend = None


def base_icon(size: int = ICON_SIZE) -> QPixmap:
    """The application glyph: a document with a check mark."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#2f6fb0"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(QRectF(size * 0.12, size * 0.06, size * 0.66, size * 0.88), 6, 6)
    painter.setPen(QColor("white"))
    font = QFont()
    font.setPixelSize(int(size * 0.5))
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(QRectF(0, 0, size * 0.9, size), Qt.AlignmentFlag.AlignCenter, "✓")
    painter.end()
    return pixmap


BADGE_COLOR = QColor("#d32f2f")
OFFLINE_COLOR = QColor("#616161")


def offline_pixmap(base: QPixmap, size: int = ICON_SIZE) -> QPixmap:
    """`base` faded, with a grey "no connection" disc in the bottom-left corner."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setOpacity(0.45)
    painter.drawPixmap(0, 0, base.scaled(size, size))
    painter.setOpacity(1.0)
    radius = size * 0.22
    centre = QPointF(radius + 1, size - radius - 1)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(OFFLINE_COLOR)
    painter.drawEllipse(centre, radius, radius)
    painter.setPen(QColor("white"))
    inner = radius * 0.55
    painter.drawLine(
        QPointF(centre.x() - inner, centre.y() + inner),
        QPointF(centre.x() + inner, centre.y() - inner),
    )
    painter.end()
    return pixmap


def tray_tooltip(waiting: int, offline: bool, queued: int, muted: bool) -> str:
    """The tray's tooltip: what waits, and while offline that the count is from the last
    sync and how many actions are queued."""
    if offline:
        text = f"{APP_NAME}: offline"
        if queued:
            text += f", {queued} action{'s' if queued != 1 else ''} queued"
        if waiting:
            text += f"; {waiting} waiting at the last sync"
    else:
        text = f"{APP_NAME}: {waiting} waiting" if waiting else APP_NAME
    return text + (" (muted)" if muted else "")


def badge_pixmap(count: int, base: QPixmap | None = None, size: int = ICON_SIZE) -> QPixmap:
    """`base` with `count` drawn in a red disc in the top-right corner (none for 0)."""
    pixmap = (base or base_icon(size)).scaled(size, size)
    if count <= 0:
        return pixmap
    text = str(count) if count < 100 else "99+"
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    radius = size * 0.26
    centre = QPointF(size - radius, radius)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(BADGE_COLOR)
    painter.drawEllipse(centre, radius, radius)
    font = QFont()
    font.setPixelSize(int(radius * (1.2 if len(text) == 1 else 0.9)))
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    box = QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap


class TrayNotifier(QObject):
    """The system-tray backend: badge, menu and native notifications."""

    def __init__(
        self, host: NotifierHost, base: QPixmap | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.base = base or base_icon()
        self.count = 0
        self.last_group: AlertGroup | None = None
        self.muted_until: datetime | None = None
        self.offline = False
        self.queued = 0
        self.menu = QMenu()  # a tray menu has no parent widget: deleted with this object
        self.menu.setObjectName("trayMenu")
        self.destroyed.connect(self.menu.deleteLater)
        self.tray = QSystemTrayIcon(QIcon(self.base), self)
        self.tray.setObjectName("trayIcon")
        self.tray.setToolTip(APP_NAME)
        self.tray.setContextMenu(self.menu)
        self.tray.messageClicked.connect(self._message_clicked)
        self.tray.activated.connect(self._activated)
        self.set_waiting((), None)
        self.tray.show()

    def present(self, group: AlertGroup) -> None:
        self.last_group = group
        info = QSystemTrayIcon.MessageIcon.Information
        self.tray.showMessage(group.title, group.message, info, 10_000)

    def set_waiting(self, items: Sequence[WaitingItem], muted_until: datetime | None) -> None:
        self.count = len(items)
        self.muted_until = muted_until
        self._show_state()
        self._fill_menu(items)

    def set_connection(self, offline: bool, queued: int) -> None:
        self.offline, self.queued = offline, queued
        self._show_state()

    def _show_state(self) -> None:
        base = offline_pixmap(self.base) if self.offline else self.base
        self.tray.setIcon(QIcon(badge_pixmap(self.count, base)))
        muted = self.muted_until is not None
        self.tray.setToolTip(tray_tooltip(self.count, self.offline, self.queued, muted))

    def _fill_menu(self, items: Sequence[WaitingItem]) -> None:
        self.menu.clear()
        self._action("&Open Contract Desk", "trayOpen", self.host.show_window)
        self.menu.addSeparator()
        for item in items[:MENU_ITEMS]:
            cid = item.contract_id
            self._action(item.label, f"trayItem:{cid}", lambda _=False, c=cid: self._open(c))
        if len(items) > MENU_ITEMS:
            more = self.menu.addAction(f"… and {len(items) - MENU_ITEMS} more")
            more.triggered.connect(self.host.show_window)
        if items:
            self.menu.addSeparator()
        mute = self._action("&Mute for an hour", "trayMute", self.host.toggle_mute)
        mute.setCheckable(True)
        mute.setChecked(self.muted_until is not None)
        if self.muted_until is not None:
            mute.setText(f"&Muted until {self.muted_until.astimezone():%H:%M} (unmute)")
        self._action("&Quit", "trayQuit", self.host.quit)

    def _action(self, text: str, name: str, slot: Any) -> QAction:
        action = self.menu.addAction(text)
        action.setObjectName(name)
        action.triggered.connect(slot)
        return action

    def _open(self, contract_id: str) -> None:
        self.host.open_contract(contract_id)

    def _message_clicked(self) -> None:
        if self.last_group is not None:
            self.host.open_contract(self.last_group.contract_ids[0])
        else:
            self.host.show_window()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self.host.show_window()

    def close(self) -> None:
        self.tray.hide()
        self.tray.setContextMenu(None)  # type: ignore[arg-type]
        self.menu.deleteLater()
        self.deleteLater()


class BannerNotifier(QObject):
    """The fallback backend: alerts appear as a banner inside `window`."""

    def __init__(self, host: NotifierHost, window: QWidget) -> None:
        super().__init__(window)
        self.host = host
        self.count = 0
        self.muted_until: datetime | None = None
        self.offline = False
        self.queued = 0
        self.banner = AlertBanner(window)
        self.banner.openRequested.connect(host.open_contract)
        self.banner.muteRequested.connect(host.toggle_mute)

    def present(self, group: AlertGroup) -> None:
        self.banner.show_message(group.message, group.contract_ids[0])

    def set_waiting(self, items: Sequence[WaitingItem], muted_until: datetime | None) -> None:
        self.count = len(items)
        self.muted_until = muted_until
        self._show_state()

    def set_connection(self, offline: bool, queued: int) -> None:
        self.offline, self.queued = offline, queued
        self._show_state()

    def _show_state(self) -> None:
        self.banner.setToolTip(tray_tooltip(self.count, self.offline, self.queued, False))

    def close(self) -> None:
        self.banner.hide()
        self.banner.deleteLater()
        self.deleteLater()


def make_notifier(
    window: QWidget,
    *,
    clock: Clock | None = None,
    tray_available: bool | None = None,
    window_ms: int = GROUP_WINDOW_MS,
) -> Notifications:
    """The hub with the tray backend where a tray exists, else the banner in `window`.

    Connect `openContractRequested`, `showWindowRequested` and `quitRequested`, then
    `follow(bridge)`; call `close()` before the window goes.
    """
    hub = Notifications(clock=clock, window_ms=window_ms, parent=window)
    available = tray_available
    if available is None:
        available = QSystemTrayIcon.isSystemTrayAvailable()
    backend: Notifier = TrayNotifier(hub, parent=hub) if available else BannerNotifier(hub, window)
    hub.attach(backend)
    return hub
