"""The dashboard page: charts, waiting and stale lists, recent events, resource usage."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.actors import Actor, Role
from core.events import EventType
from core.status import ContractStatus, WaitingFor
from desktop.bridge import SyncBridge
from desktop.views.charts import Bar, BarChart
from desktop.views.dashboard import DashboardPage
from tests.desktop.conftest import LocalBackend, Loop, make_contract, make_event


def test_bar_chart_paints_and_describes_its_bars(qtbot: QtBot) -> None:
    chart = BarChart("By status")
    qtbot.addWidget(chart)
    chart.resize(300, 200)
    chart.set_bars([Bar("active", 3), Bar("paused", 0, "#888888")])
    assert chart.accessibleDescription() == "By status. active: 3, paused: 0"
    image = chart.grab()  # paints without error
    assert not image.isNull()
    chart.set_bars([])
    assert not chart.grab().isNull()


def test_dashboard_shows_counts_waiting_stale_and_events(
    qtbot: QtBot, bridge: SyncBridge, backend: LocalBackend, qloop: Loop
) -> None:
    waiting = make_contract(
        1,
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.PHASE_CONFIRMATION,
        quiet=timedelta(hours=1),
        name="Needs you",
    )
    stale = make_contract(2, quiet=timedelta(hours=2), name="Quiet one", phase="execute")
    fresh = make_contract(3, name="Busy")
    qloop.run(backend.replica.put_contracts([waiting, stale, fresh]))
    events = [
        make_event(i, stale.id, EventType.STATUS_CHANGED, old_status="created", new_status="active")
        for i in range(1, 4)
    ]
    qloop.run(backend.replica.store_snapshot_events(events))
    page = DashboardPage(bridge)
    qtbot.addWidget(page)
    qloop.run(bridge.start())
    page.start()
    qloop.until(lambda: page.data is not None)
    assert page.objectName() == "dashboardPage"
    bars = {b.label: b.value for b in page.status_chart.bars}
    assert bars["active"] == 2 and bars["waiting for input"] == 1
    # §4.4: phase counts are of active contracts only (the waiting one in plan is not counted).
    assert {b.label: b.value for b in page.phase_chart.bars} == {"plan": 1, "execute": 1}
    assert page.waiting_model.index(0, 0).data() == "Needs you"
    assert page.waiting_model.index(0, 1).data() == "phase confirmation"
    stale_names = [page.stale_model.index(r, 0).data() for r in range(page.stale_model.rowCount())]
    assert stale_names == ["Quiet one"]  # waiting on the reviewer is the other list, not stale
    assert page.stale_model.index(0, 3).data().startswith("automation")
    assert page.waiting_box.title() == "Waiting on you"
    assert page.stale_box.title() == "Stale: active, no activity for over 30 min"
    assert page.events_model.rowCount() == 3
    assert page.events_model.index(0, 1).data() == "Quiet one"
    assert "supervisors alive: 0" in page.usage.text()
    opened: list[str] = []
    page.contractActivated.connect(opened.append)
    page.waiting_view.setCurrentIndex(page.waiting_model.index(0, 0))
    qtbot.keyClick(page.waiting_view, Qt.Key.Key_Return)
    assert opened == [waiting.id]
    page.stop()


def test_dashboard_refreshes_are_throttled(qtbot: QtBot, bridge: SyncBridge, qloop: Loop) -> None:
    page = DashboardPage(bridge)
    qtbot.addWidget(page)
    page.mark_dirty()
    page.mark_dirty()
    assert page._throttle.isActive()
    page.stop()
    assert not page._throttle.isActive()
    _ = Actor("x", Role.ADMIN)
