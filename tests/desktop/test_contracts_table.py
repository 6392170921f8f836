"""The contracts page: filters, sort, selection, keyboard, 10,000 rows."""

from __future__ import annotations

import time
from datetime import timedelta

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.status import ContractStatus, WaitingFor
from desktop.bridge import SyncBridge
from desktop.views.contracts_table import ContractsPage
from tests.desktop.conftest import make_contract


def _page(qtbot: QtBot, bridge: SyncBridge) -> ContractsPage:
    page = ContractsPage(bridge)
    qtbot.addWidget(page)
    page.resize(1000, 600)
    return page


def test_filters_narrow_the_table(qtbot: QtBot, bridge: SyncBridge) -> None:
    page = _page(qtbot, bridge)
    page.apply_updates(
        [
            make_contract(0, name="Billing export", quiet=timedelta(hours=3)),
            make_contract(
                1,
                name="Search",
                status=ContractStatus.WAITING_FOR_INPUT,
                waiting_for=WaitingFor.QUESTION,
            ),
            make_contract(2, name="Audit", phase="execute", status=ContractStatus.PAUSED),
        ]
    )
    assert page.table.objectName() == "contractsTable"
    assert page.count.text() == "3 contracts"
    assert not page.filtering  # no filter: the table shows the model itself
    qtbot.keyClicks(page.search, "audit")
    qtbot.waitUntil(lambda: page.shown_count() == 1)
    assert page.filtering
    assert page.count.text() == "1 of 3 contracts"
    page.search.clear()
    qtbot.waitUntil(lambda: page.shown_count() == 3)
    assert not page.filtering
    page.waiting_only.setChecked(True)
    assert page.shown_count() == 1
    page.waiting_only.setChecked(False)
    bridge.set_stale_threshold(30)
    page.stale_only.setChecked(True)
    assert [page.contract_at(0).name] == ["Billing export"]
    page.stale_only.setChecked(False)
    page.status_filter.setCurrentIndex(page.status_filter.findData("paused"))
    assert page.shown_count() == 1
    page.status_filter.setCurrentIndex(0)
    page.phase_filter.setCurrentIndex(page.phase_filter.findData("execute"))
    assert page.shown_count() == 1 and page.contract_at(0).name == "Audit"


def test_the_selection_survives_moves_and_filter_changes(qtbot: QtBot, bridge: SyncBridge) -> None:
    page = _page(qtbot, bridge)
    page.apply_updates([make_contract(i, quiet=timedelta(minutes=i)) for i in range(40)])
    selected: list[str] = []
    page.contractSelected.connect(selected.append)
    target = make_contract(20, quiet=timedelta(minutes=20))
    assert page.select(target.id)
    # Many rows move at once (a relayout), the selected one among them.
    page.apply_updates([make_contract(i, quiet=timedelta(seconds=-i)) for i in range(10, 30)])
    assert page.current_contract().id == target.id
    assert selected == [target.id]  # restoring the selection announced nothing new
    hidden: list[bool] = []
    page.selectionHidden.connect(lambda: hidden.append(True))
    page.waiting_only.setChecked(True)  # filters it out: the detail is told to clear
    assert hidden == [True] and page.selected_id is None
    assert not page.table.selectionModel().hasSelection()
    page.waiting_only.setChecked(False)  # shown again: selected again, the detail follows
    assert page.current_contract().id == target.id
    assert selected == [target.id, target.id] and hidden == [True]


def test_selecting_and_activating_with_the_keyboard(qtbot: QtBot, bridge: SyncBridge) -> None:
    page = _page(qtbot, bridge)
    page.apply_updates([make_contract(i) for i in range(5)])
    selected: list[str] = []
    activated: list[str] = []
    page.contractSelected.connect(selected.append)
    page.contractActivated.connect(activated.append)
    assert page.select(make_contract(3).id)
    assert selected[-1] == make_contract(3).id
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert activated == [make_contract(3).id]
    page.apply_removed([make_contract(3).id])
    assert page.model.rowCount() == 4
    assert not page.select(make_contract(3).id)


def test_ten_thousand_rows_load_and_update_quickly(qtbot: QtBot, bridge: SyncBridge) -> None:
    page = _page(qtbot, bridge)
    page.show()
    contracts = [make_contract(i, quiet=timedelta(seconds=i)) for i in range(10_000)]
    started = time.perf_counter()
    page.apply_updates(contracts)
    qtbot.wait(1)
    loaded = time.perf_counter() - started
    assert page.shown_count() == 10_000
    qtbot.wait(50)  # the first paint of the loaded table
    started = time.perf_counter()
    page.apply_updates([make_contract(i, version=2) for i in range(0, 10_000, 100)])
    qtbot.wait(1)
    updated = time.perf_counter() - started
    assert loaded < 5.0, loaded
    # Generous: test machines are shared; bench/bench_desktop.py measures for real.
    assert updated < 0.5, updated
