"""One rule, shown the same everywhere (issue 8 items 10 and 13), against a real server whose
stale threshold is three seconds:

- the desk takes the threshold from the server (`GET /config`), not from a copy of its own,
  and the settings dialog shows that value;
- the table's "Stale only" (a real click), the dashboard's "Stale" list and the stale alerts
  hold the same contracts: active ones that went quiet — never one waiting on the reviewer;
- the dashboard's "Waiting on you" holds the contracts waiting on the reviewer, including one
  asked a question while paused and then resumed (it used to come back `active`, count as
  stale and be blamed on the automation);
- the table's "Quiet for" column shows each contract's age since its last activity and sorts.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from desktop.models.contracts import NAME, QUIET
from desktop.models.dashboard import AUTOMATION
from desktop.views.main_window import MainWindow
from sync.client import ContractClient
from tests.desktop.conftest import Loop, until
from tests.desktop.test_e2e_desk import Desk, open_desk
from tests.sync.server_fixture import ServerProcess, fast_server

__all__ = ["fast_server"]

pytestmark = pytest.mark.timeout(240)


async def _started(desk: Desk, name: str) -> str:
    contract = await desk.admin.create_contract(name, "simple", phase_guard=True)
    await desk.supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
    await desk.supervisor.change_status(contract.id, "active")
    return contract.id


async def _three_kinds(desk: Desk, tag: str) -> dict[str, str]:
    """A contract asking a question, one that goes quiet, one asked while paused and resumed."""
    supervisor: ContractClient = desk.supervisor
    asks = await _started(desk, f"asks-{tag}")
    await supervisor.ask_question(asks, "Which DB?", "free_text")
    silent = await _started(desk, f"silent-{tag}")
    resumed = await _started(desk, f"resumed-{tag}")
    await desk.admin.change_status(resumed, "paused", reason="maintenance")
    await supervisor.ask_question(resumed, "Keep v1?", "free_text")
    answer = await desk.admin.change_status(resumed, "active")
    assert answer.new_status == "waiting_for_input"
    return {"asks": asks, "silent": silent, "resumed": resumed}


def _shown_ids(window: MainWindow) -> set[str]:
    page = window.contracts
    found = (page.contract_at(row) for row in range(page.shown_count()))
    return {c.id for c in found if c is not None}


def _click_header(window: MainWindow, qtbot: QtBot, column: int) -> None:
    header = window.contracts.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))


def test_views_agree_on_stale_and_waiting_by_the_servers_threshold(
    fast_server: ServerProcess, tmp_path: Path, qtbot: QtBot, qloop: Loop
) -> None:
    tag = uuid.uuid4().hex[:6]
    alerts: list[dict[str, str]] = []

    async def scenario() -> None:
        async with open_desk(fast_server, tmp_path / "replica.db", qtbot) as desk:
            window, bridge = desk.window, desk.bridge
            bridge.alert.connect(alerts.append)
            ids = await _three_kinds(desk, tag)
            # The threshold is the server's three seconds, not the desk's own 30 minutes.
            await until(lambda: bridge.config.stale_threshold_minutes == 0.05, 15)
            await until(lambda: set(ids.values()) <= set(bridge.contracts), 15)
            await asyncio.sleep(3.5)  # the quiet one goes stale; the waiting ones never do
            bridge.scan_stale()

            window.show_contracts()  # the Contracts tab (table and detail side by side)
            stale_box = window.contracts.stale_only
            qtbot.mouseClick(stale_box, Qt.MouseButton.LeftButton)
            assert stale_box.isChecked()
            assert _shown_ids(window) & set(ids.values()) == {ids["silent"]}
            qtbot.mouseClick(stale_box, Qt.MouseButton.LeftButton)
            waiting_box = window.contracts.waiting_only
            qtbot.mouseClick(waiting_box, Qt.MouseButton.LeftButton)
            assert _shown_ids(window) & set(ids.values()) == {ids["asks"], ids["resumed"]}
            qtbot.mouseClick(waiting_box, Qt.MouseButton.LeftButton)

            window.dashboard.refresh()
            await until(lambda: _dashboard_has(window, ids["silent"]), 15)
            board = window.dashboard
            stale_rows = {r.contract_id: r for r in board.stale_model.rows}
            assert set(stale_rows) & set(ids.values()) == {ids["silent"]}
            assert stale_rows[ids["silent"]].blocker == AUTOMATION
            waiting = {w.info.id for w in board.waiting_model.rows}
            assert {ids["asks"], ids["resumed"]} <= waiting
            assert board.waiting_box.title() == "Waiting on you"
            assert board.stale_box.title() == "Stale: active, no activity for over 3 s"

            stale_alerts = {a["contract_id"] for a in alerts if a["kind"] == "stale"}
            assert stale_alerts & set(ids.values()) == {ids["silent"]}

            _click_header(window, qtbot, QUIET)
            model = window.contracts.model
            assert model.sort_column == QUIET
            row = model.row_of(ids["silent"])
            assert row is not None
            assert model.index(row, QUIET).data().endswith(" s")
            names = [model.index(r, NAME).data() for r in range(model.rowCount())]
            quiet_first = names if model.sort_order is Qt.SortOrder.DescendingOrder else names[::-1]
            assert quiet_first.index(f"silent-{tag}") < quiet_first.index(f"resumed-{tag}")

            dialog = window.open_settings()
            assert dialog.stale.value() == 0.05
            assert dialog.stale_source.text().startswith("the server's setting (")
            dialog.reject()

    qloop.run(scenario(), timeout=120)


def _dashboard_has(window: MainWindow, contract_id: str) -> bool:
    rows = window.dashboard.stale_model.rows
    return any(r.contract_id == contract_id for r in rows)
