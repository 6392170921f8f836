"""The main window (`mainWindow`): the inbox (the first tab, the page it opens on),
dashboard, contracts with their detail, questions, the outbox panel and the status bar,
every action in a menu with a shortcut.

The window wires views to the bridge and turns view requests into operations or dialogs:
the questions panel (its count is the Questions tab's badge), the phase confirmation
dialog, the batch wizard and the notifier (tray, or an in-window banner). Dialogs open with
`open()` (never `exec()`), so tests and the event loop keep running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.actions import ReviewerAction, allows
from core.config import ContractTimeoutConfig
from core.inbox import InboxItem
from core.model import Contract
from desktop.bridge import AlertFeed, AlertPolicy, ContractSnapshot, SyncBridge
from desktop.drafts import Drafts
from desktop.models.outbox import (
    PAUSE,
    RESUME,
    Decision,
    OutboxModel,
    action_text,
    phase_decision,
    queued_badges,
    queued_refusal,
)
from desktop.notify import make_notifier
from desktop.settings import DeskSettings
from desktop.views.batch_wizard import BatchWizard
from desktop.views.bulk_confirm import BulkConfirmDialog
from desktop.views.conflict_dialog import ConflictDialog
from desktop.views.contract_detail import ContractDetail, write_export
from desktop.views.contracts_table import ContractsPage
from desktop.views.dashboard import DashboardPage
from desktop.views.inbox_page import FOOTER as INBOX_KEYS
from desktop.views.inbox_page import InboxPage
from desktop.views.outbox_panel import OutboxPanel
from desktop.views.pause_dialog import PauseDialog
from desktop.views.phase_dialog import PhaseConfirmationDialog, next_phase_of
from desktop.views.questions_panel import QuestionsPanel
from desktop.views.quit_dialog import QuitDialog
from desktop.views.settings_dialog import SettingsDialog
from desktop.views.status_bar import DeskStatusBar, OutboxView
from sync.outbox import OutboxEntry, OutboxState

log = logging.getLogger(__name__)

INBOX, DASHBOARD, CONTRACTS, QUESTIONS = range(4)
BANNER_MS = 8_000


class MainWindow(QMainWindow):
    settingsChanged = Signal(object, object)  # DeskSettings, new key or None
    closed = Signal()  # the window was closed: the application ends

    def __init__(
        self,
        bridge: SyncBridge,
        settings: DeskSettings | None = None,
        *,
        has_key: bool = False,
        drafts: Drafts | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Contract Desk")
        self.setAccessibleName("Contract Desk")
        self.bridge = bridge
        self.settings = settings or DeskSettings()
        self.has_key = has_key
        self.dialogs: list[QDialog] = []
        self.drafts = drafts or Drafts()  # unsent answers, comments, feedback (kept per item)
        self.conflict_dialog: ConflictDialog | None = None
        self.dashboard = DashboardPage(bridge)
        self.contracts = ContractsPage(bridge)
        self.detail = ContractDetail(bridge)
        self.questions = self._make_questions_panel()
        self.inbox = self._make_inbox()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.outbox_model = OutboxModel(self, names=self._contract_name)
        self.outbox_view = OutboxView(self.outbox_model)
        self.outbox_panel = OutboxPanel(self.outbox_view)
        self.status = DeskStatusBar(self.outbox_model, self)
        self.banner = QLabel()
        self.banner.setObjectName("infoBanner")
        self.banner.setAccessibleName("Message")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self._banner_timer = QTimer(self, singleShot=True, interval=BANNER_MS)
        self._banner_timer.timeout.connect(self.banner.hide)
        self.actions_by_name: dict[str, QAction] = {}
        self.alert_feed: AlertFeed | None = None
        self.offline_note: str | None = None  # which replica an offline start opened, if notable
        self.quit_dialog: QuitDialog | None = None
        self._quit_confirmed = False
        self._build()
        self._menus()
        self.notifier: Any = None
        self._connect()
        self.notifier = self._make_notifier()
        self._tell_notifier()
        self._fit_screen(1280, 820)

    # --- building ------------------------------------------------------------------------

    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("contractsSplit")
        split.addWidget(self.contracts)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.tabs.addTab(self.inbox, "&Inbox")
        self.tabs.addTab(self.dashboard, "&Dashboard")
        self.tabs.addTab(split, "&Contracts")
        self.tabs.addTab(self.questions, "&Questions")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        self._central_layout = layout
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)
        self.outbox_dock = QDockWidget("Outbox", self)
        self.outbox_dock.setObjectName("outboxDock")
        self.outbox_dock.setWidget(self.outbox_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.outbox_dock)
        self.outbox_dock.hide()
        self.setStatusBar(self.status)

    def _action(
        self,
        name: str,
        text: str,
        shortcut: str | QKeySequence.StandardKey | None,
        slot: Callable[[], Any],
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        self.actions_by_name[name] = action
        self.addAction(action)
        return action

    def _menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction(self._action("actionSettings", "&Settings…", "Ctrl+,", self.open_settings))
        file.addAction(self._action("actionExport", "&Export contract…", "Ctrl+E", self.export))
        file.addSeparator()
        file.addAction(self._action("actionQuit", "&Quit", "Ctrl+Q", self.request_quit))
        view = bar.addMenu("&View")
        view.addAction(self._action("actionInbox", "&Inbox", "Ctrl+1", self.show_inbox))
        view.addAction(self._action("actionDashboard", "&Dashboard", "Ctrl+2", self.show_dashboard))
        view.addAction(self._action("actionContracts", "&Contracts", "Ctrl+3", self.show_contracts))
        view.addAction(self._action("actionQuestions", "&Questions", "Ctrl+4", self.show_questions))
        view.addAction(self._action("actionFind", "&Find contract", "Ctrl+F", self.find_contract))
        view.addAction(self._action("actionOutbox", "&Outbox", "Ctrl+Shift+O", self.toggle_outbox))
        view.addAction(self._action("actionRefresh", "&Refresh", "F5", self.refresh))
        contract = bar.addMenu("C&ontract")
        contract.addAction(
            self._action("actionConfirm", "&Confirm phase…", "Ctrl+Return", self.confirm_current)
        )
        contract.addAction(
            self._action(
                "actionChanges", "Request c&hanges…", "Ctrl+Shift+Return", self.changes_current
            )
        )
        contract.addAction(self._action("actionPause", "&Pause", "Ctrl+P", self.pause_current))
        contract.addAction(
            self._action("actionResume", "&Resume", "Ctrl+Shift+P", self.resume_current)
        )
        inbox = bar.addMenu("In&box")
        inbox.addAction(
            self._action("actionUndoDecision", "&Undo the last decision", "Ctrl+Z", self.inbox.undo)
        )
        inbox.addAction(
            self._action(
                "actionConfirmSelected",
                "&Confirm the selected confirmations…",
                "Ctrl+Shift+Y",
                self.inbox.confirm,
            )
        )
        tools = bar.addMenu("&Tools")
        tools.addAction(self._action("actionBatch", "&Batch operations…", "Ctrl+B", self.batch))
        tools.addAction(
            self._action(
                "actionConflicts",
                "Resolve &conflicts and refusals…",
                "Ctrl+Shift+C",
                self.next_conflict,
            )
        )
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("actionKeys", "&Keyboard shortcuts", "F1", self.show_keys))

    def _connect(self) -> None:
        b = self.bridge
        b.connectionStateChanged.connect(self._state_changed)
        b.operationFailed.connect(self.show_error)
        b.operations.operationSucceeded.connect(lambda text: self.status.showMessage(text, 5000))
        b.outboxEntry.connect(self.outbox_model.upsert)
        b.conflict.connect(self.show_conflict)
        b.contractsLoaded.connect(self._loaded)
        b.contractsLoaded.connect(self.outbox_model.names_changed)
        for signal in (
            self.outbox_model.rowsInserted,
            self.outbox_model.dataChanged,
            self.outbox_model.modelReset,
        ):
            signal.connect(self._show_badges)
            signal.connect(self._tell_notifier)
        b.staleScanned.connect(self._redraw_ages)  # "3 min ago" grows with time alone
        b.serverConfigChanged.connect(self._server_config)
        self.status.outboxToggled.connect(self.toggle_outbox)
        self.outbox_panel.openRequested.connect(self.show_conflict)
        self.outbox_panel.retryRequested.connect(self.bridge.operations.reconfirm)
        self.outbox_panel.discardRequested.connect(self.bridge.operations.drop)
        b.outboxEntry.connect(self._refused)
        self.contracts.contractSelected.connect(self.detail.show_contract)
        self.contracts.selectionHidden.connect(lambda: self.detail.show_contract(None))
        self.contracts.contractActivated.connect(self.open_contract)
        self.dashboard.contractActivated.connect(self.open_contract)
        self.detail.confirmRequested.connect(self.confirm)
        self.detail.changesRequested.connect(self.request_changes)
        self.detail.pauseRequested.connect(self.pause)
        self.detail.resumeRequested.connect(self.resume)
        self.detail.exportRequested.connect(self._ask_export_path)

    def _fit_screen(self, width: int, height: int) -> None:
        """Start at `width` x `height`, or the screen's free area when it is smaller (every
        pane fits down to 1024 x 700: see tests/desktop/test_e2e_live_view.py)."""
        screen = self.screen()
        if screen is not None:
            free = screen.availableGeometry()
            width, height = min(width, free.width()), min(height, free.height())
        self.resize(width, height)

    def _redraw_ages(self) -> None:
        views = [self.questions.table, self.detail.history_view, self.detail.tasks_view]
        for view in [*views, self.detail.questions_view]:
            view.viewport().update()

    def _make_inbox(self) -> InboxPage:
        page = InboxPage(self.bridge, self.bridge.operations, self.drafts)
        page.openContractRequested.connect(self.open_contract)
        page.countChanged.connect(self._show_inbox_count)
        page.message.connect(lambda text: self.status.showMessage(text, 5000))
        page.bulkRequested.connect(self.confirm_several)
        return page

    def _show_inbox_count(self, count: int) -> None:
        """The badge: the Inbox tab says how many items wait on the reviewer."""
        index = self.tabs.indexOf(self.inbox)
        self.tabs.setTabText(index, f"&Inbox ({count})" if count else "&Inbox")
        self.tabs.setTabToolTip(index, f"{count} item(s) waiting on you")

    def _make_questions_panel(self) -> QuestionsPanel:
        panel = QuestionsPanel(self.bridge, self.bridge.operations, drafts=self.drafts)
        panel.openContractRequested.connect(self.open_contract)
        panel.countChanged.connect(self._show_question_count)
        return panel

    def _contract_name(self, contract_id: str) -> str | None:
        found = self.bridge.contracts.get(contract_id)
        return None if found is None else found.name

    def _show_badges(self, *_: object) -> None:
        """Each contract's row wears its queued actions."""
        self.contracts.model.set_badges(queued_badges(self.outbox_model.rows))

    def _show_question_count(self, count: int) -> None:
        """The badge: the Questions tab says how many questions wait on the reviewer."""
        index = self.tabs.indexOf(self.questions)
        label = f"&Questions ({count})" if count else "&Questions"
        self.tabs.setTabText(index, label)
        self.tabs.setTabToolTip(index, f"{count} open question(s)")

    def _make_notifier(self) -> Any:
        hub = make_notifier(self)
        hub.openContractRequested.connect(self.open_contract)
        hub.showWindowRequested.connect(self.show_window)
        hub.quitRequested.connect(self.request_quit)
        hub.stale_threshold = timedelta(minutes=self.settings.stale_threshold_minutes)
        self.alert_feed = AlertFeed(self.bridge)
        hub.follow(self.alert_feed)
        hub.count_from(self.inbox.itemsShown)  # the tray's badge is the inbox's count
        overlay = self.findChild(QWidget, "alertBanner")
        if overlay is not None:  # the banner floats over the top: make room while it shows
            overlay.installEventFilter(self)
        return hub

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched.objectName() == "alertBanner" and event.type() in (
            QEvent.Type.Show,
            QEvent.Type.Hide,
            QEvent.Type.Resize,
        ):
            assert isinstance(watched, QWidget)
            room = watched.height() if watched.isVisible() else 0
            self._central_layout.setContentsMargins(4, 4 + room, 4, 4)
        return super().eventFilter(watched, event)

    # --- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Show what the replica holds and follow changes (call once the backend runs)."""
        self._state_changed(self.bridge.state)
        self.bridge.start()
        self.dashboard.start()
        self.bridge.runner.spawn(self._load_outbox(), self._outbox_failed)

    async def _load_outbox(self) -> None:
        self.outbox_model.set_rows(await self.bridge.outbox_entries())
        self.status.update_outbox()

    def _outbox_failed(self, error: BaseException) -> None:
        self.show_error("Outbox", str(error))

    def _loaded(self) -> None:
        if self.bridge.is_offline:
            self.show_banner(
                self.offline_note
                or "Offline: showing the contracts synced before. Actions are queued."
            )

    def request_quit(self) -> None:
        """Quit (Ctrl+Q, the tray's Quit): with actions still queued, ask first."""
        queued = self.outbox_model.pending_count()
        if queued and not self._quit_confirmed:
            self._ask_quit(queued)
            return
        self.close()

    def _ask_quit(self, queued: int) -> None:
        if self.quit_dialog is not None:
            self.quit_dialog.raise_()
            return
        dialog = QuitDialog(queued, self)
        dialog.quitConfirmed.connect(self._quit_now)
        dialog.finished.connect(self._quit_dialog_closed)
        self.quit_dialog = dialog
        self._open_dialog(dialog)

    def _quit_now(self) -> None:
        self._quit_confirmed = True
        self.close()

    def _quit_dialog_closed(self, _: int) -> None:
        self.quit_dialog = None

    def closeEvent(self, event: QCloseEvent) -> None:
        # The window manager's close button asks like Ctrl+Q; a close by the program
        # (the app ending, tests) does not.
        queued = self.outbox_model.pending_count()
        if event.spontaneous() and queued and not self._quit_confirmed:
            event.ignore()
            self._ask_quit(queued)
            return
        self.shutdown()
        super().closeEvent(event)
        self.closed.emit()

    def shutdown(self) -> None:
        """Stop every timer and close dialogs (the app stops the backend). Idempotent."""
        self._banner_timer.stop()
        self.dashboard.stop()
        self.bridge.close()
        if self.alert_feed is not None:
            self.alert_feed.stop()
        if self.notifier is not None:
            self.notifier.close()
            self.notifier = None
        for dialog in list(self.dialogs):
            dialog.close()
        self.questions.stop_following()
        self.inbox.stop()

    def show_window(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # --- navigation ----------------------------------------------------------------------

    def show_inbox(self) -> None:
        self.tabs.setCurrentIndex(INBOX)
        self.inbox.focus_list()

    def show_dashboard(self) -> None:
        self.tabs.setCurrentIndex(DASHBOARD)

    def show_contracts(self) -> None:
        self.tabs.setCurrentIndex(CONTRACTS)
        self.contracts.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_questions(self) -> None:
        self.tabs.setCurrentWidget(self.questions)
        self.questions.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def find_contract(self) -> None:
        self.tabs.setCurrentIndex(CONTRACTS)
        self.contracts.focus_search()

    def toggle_outbox(self) -> None:
        self.outbox_dock.setVisible(not self.outbox_dock.isVisible())
        if self.outbox_dock.isVisible():
            self.outbox_panel.select_first_needing_you()
            self.outbox_view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def refresh(self) -> None:
        self.dashboard.refresh()
        self.detail.reload()

    def confirm_several(self, items: list[InboxItem]) -> BulkConfirmDialog:
        """Several inbox items selected and `y`: the preview, then one result per item."""
        chosen = [(item, self.bridge.contracts.get(item.contract_id)) for item in items]
        dialog = BulkConfirmDialog(
            chosen, self.inbox.decide_confirmation, self.bridge.outboxEntry, self
        )
        self._open_dialog(dialog)
        return dialog

    def open_contract(self, contract_id: str) -> None:
        """Select the contract and show its detail; filters that would hide it are turned
        off first (and the status bar says which), so table and detail agree."""
        self.show_window()
        self.tabs.setCurrentIndex(CONTRACTS)
        cleared = self.contracts.clear_filters_hiding(contract_id)
        if cleared:
            self.status.showMessage(f"Turned off to show the contract: {', '.join(cleared)}", 5000)
        if not self.contracts.select(contract_id):
            self.detail.show_contract(contract_id)  # not in the table yet (still loading)

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setAccessibleDescription(text)
        self.banner.show()
        self._banner_timer.start()

    def show_error(self, title: str, message: str) -> None:
        self.show_banner(f"{title}: {message}")
        self.status.showMessage(f"{title} failed: {message}", 10_000)

    def _state_changed(self, state: str) -> None:
        self.status.connection.show_state(state, self.bridge.offline_since)
        self._tell_notifier()

    def _tell_notifier(self, *_: object) -> None:
        """The tray says offline (and how many actions are queued) while it is."""
        if self.notifier is not None:
            self.notifier.set_connection(self.bridge.is_offline, self.outbox_model.pending_count())

    # --- contract actions ----------------------------------------------------------------

    def current_contract(self) -> Contract | None:
        snapshot = self.detail.snapshot
        if snapshot is not None:
            return snapshot.contract
        return self.contracts.current_contract()

    def _with_current(self, act: Callable[[Contract], object]) -> None:
        contract = self.current_contract()
        if contract is None:
            self.status.showMessage("Select a contract first", 4000)
            return
        act(contract)

    def confirm_current(self) -> QDialog | None:
        contract = self.current_contract()
        if contract is None:
            self.status.showMessage("Select a contract first", 4000)
            return None
        return self._phase_dialog(contract, "confirm")

    def _already_queued(self, contract: Contract, decision: Decision) -> bool:
        """The same decision is on its way: say so instead of queueing it twice (the
        shortcuts reach here even while the detail's button is off)."""
        refusal = queued_refusal(self.outbox_model.rows, contract.id, decision)
        if refusal is not None:
            self.status.showMessage(refusal, 6000)
        return refusal is not None

    def changes_current(self) -> None:
        self._with_current(self.request_changes)

    def pause_current(self) -> None:
        self._with_current(self.pause)

    def resume_current(self) -> None:
        self._with_current(self.resume)

    def confirm(self, contract: Contract) -> None:
        self._phase_dialog(contract, "confirm")

    def request_changes(self, contract: Contract) -> None:
        self._phase_dialog(contract, "changes")

    def _phase_dialog(self, contract: Contract, mode: str) -> QDialog | None:
        if self._already_queued(contract, phase_decision(next_phase_of(contract))):
            return None
        snapshot = self.detail.snapshot
        tasks = snapshot.detail.tasks if snapshot and snapshot.contract.id == contract.id else ()
        dialog = PhaseConfirmationDialog(contract, list(tasks), self.bridge.operations, self)
        # An open dialog keeps up with the contract (a confirmation decided elsewhere
        # disables its buttons), so a reviewer never confirms what is no longer pending.
        dialog.follow_updates(self.bridge.contractsUpdated)
        dialog.keep_drafts(self.drafts)
        if mode == "changes":
            dialog.focus_feedback()
        self._open_dialog(dialog)
        return dialog

    def pause(self, contract: Contract) -> QDialog | None:
        """Ask why (the pause dialog), then queue the pause with the reason, against the
        version the reviewer saw when asking."""
        if not allows(contract, ReviewerAction.PAUSE):
            self.status.showMessage(f"Cannot pause a {contract.status.value} contract", 4000)
            return None
        if self._already_queued(contract, PAUSE):
            return None
        dialog = PauseDialog(contract, self)
        dialog.pauseRequested.connect(
            lambda reason: self.bridge.operations.pause(contract.id, contract.version, reason)
        )
        self._open_dialog(dialog)
        return dialog

    def resume(self, contract: Contract) -> None:
        if not allows(contract, ReviewerAction.RESUME):
            self.status.showMessage("Only a paused contract can be resumed", 4000)
            return
        if self._already_queued(contract, RESUME):
            return
        self.bridge.operations.resume(contract.id, contract.version)

    def batch(self) -> QDialog | None:
        wizard = BatchWizard(self.bridge.operations, self, contracts=self.bridge.contracts)
        self._open_dialog(wizard)
        return wizard

    def _open_dialog(self, dialog: QDialog) -> None:
        self.dialogs.append(dialog)
        dialog.finished.connect(lambda _: self._forget(dialog))
        dialog.open()

    def _forget(self, dialog: QDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)
        dialog.deleteLater()

    # --- export --------------------------------------------------------------------------

    def export(self) -> None:
        snapshot = self.detail.snapshot
        if snapshot is None:
            self.status.showMessage("Open a contract to export it", 4000)
            return
        self._ask_export_path(snapshot)

    def _ask_export_path(self, snapshot: ContractSnapshot) -> None:
        dialog = QFileDialog(self, "Export contract", f"contract-{snapshot.contract.id}.json")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("JSON (*.json)")
        dialog.fileSelected.connect(lambda path: self.export_to(snapshot, path))
        self._open_dialog(dialog)

    def export_to(self, snapshot: ContractSnapshot, path: str | Path) -> Path:
        written = write_export(snapshot, path)
        self.status.showMessage(f"Exported to {written}", 5000)
        return written

    # --- conflicts -----------------------------------------------------------------------

    def show_conflict(self, entry: OutboxEntry) -> None:
        if self.conflict_dialog is not None:
            return
        self.bridge.runner.spawn(self._open_conflict(entry), self._outbox_failed)

    async def _open_conflict(self, entry: OutboxEntry) -> None:
        seen: Contract | None = None
        since = []
        if entry.contract_id is not None:
            history = await self.bridge.replica.history(entry.contract_id)
            since = [e for e in history if e.at >= entry.created_at]
            seen = self.bridge.contracts.get(entry.contract_id)
            if seen is not None and seen.version != entry.expected_version:
                seen = None  # the copy moved on: show the version seen, not a newer row
        if self.conflict_dialog is not None:
            return
        dialog = ConflictDialog(entry, seen, since, self)
        dialog.reconfirmRequested.connect(self.bridge.operations.reconfirm)
        dialog.dropRequested.connect(self.bridge.operations.drop)
        dialog.finished.connect(self._conflict_closed)
        self.conflict_dialog = dialog
        self._open_dialog(dialog)

    def _conflict_closed(self, _: int) -> None:
        self.conflict_dialog = None

    def next_conflict(self) -> None:
        """The oldest entry that needs the reviewer: the same ones the status bar counts."""
        waiting = self.outbox_model.needing_attention()
        if waiting:
            self.show_conflict(waiting[0])
        else:
            self.status.showMessage("Nothing in the outbox needs you", 3000)

    def _refused(self, entry: OutboxEntry) -> None:
        """A refusal is said at once (a conflict opens its dialog by itself)."""
        if entry.state is not OutboxState.REJECTED:
            return
        where = self._contract_name(entry.contract_id) if entry.contract_id else None
        self.show_banner(
            f"The server refused “{action_text(entry)}”"
            + (f" on {where}" if where else "")
            + f": {entry.error_message or entry.error_code}. Open the outbox (Ctrl+Shift+O) "
            "to retry or discard it."
        )

    # --- settings ------------------------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(
            self.settings, has_key=self.has_key, live=not self.bridge.is_offline, parent=self
        )
        dialog.settingsAccepted.connect(self.apply_settings)
        self._open_dialog(dialog)
        return dialog

    def _server_config(self, config: ContractTimeoutConfig) -> None:
        """The server's stale threshold is the one threshold: remembered in the settings, so
        offline the desk shows what the server would (Desk saves on settingsChanged)."""
        self.settings = self.settings.with_changes(
            stale_threshold_minutes=config.stale_threshold_minutes
        )
        if self.notifier is not None:
            self.notifier.stale_threshold = config.stale_threshold
        self.settingsChanged.emit(self.settings, None)
        self.dashboard.refresh()

    def apply_settings(self, settings: DeskSettings, key: str | None) -> None:
        old = self.settings
        self.settings = settings
        threshold = timedelta(minutes=settings.stale_threshold_minutes)
        self.bridge.set_policy(
            AlertPolicy(
                stale_threshold=threshold,
                notifications=settings.notifications,
                heartbeat_timeout=self.bridge.policy.heartbeat_timeout,
            )
        )
        self.bridge.set_stale_threshold(settings.stale_threshold_minutes)
        if self.notifier is not None:
            self.notifier.stale_threshold = threshold
        self.settingsChanged.emit(settings, key)
        self.dashboard.refresh()
        if settings.server_url != old.server_url or key:
            self.show_banner("Server settings saved: restart Contract Desk to reconnect.")

    def show_keys(self) -> None:
        lines = [
            f"{a.text().replace('&', '')}: {a.shortcut().toString()}"
            for a in self.actions_by_name.values()
            if not a.shortcut().isEmpty()
        ]
        self.show_banner(" · ".join(lines) + " — Inbox: " + INBOX_KEYS)
