"""The demo shows everything the README promises (issue 13), with the app's real notifier:
against a `contract-server serve` process and the `contract-server simulate` process (tick
0.1 s: the demo's 2 s shrunk twenty times) the main window's notifier presents a question, a
phase confirmation and a STALE alert for an ACTIVE contract whose supervisor went silent, and
the banner shows it. Nobody answers anything.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.status import ContractStatus
from desktop.notify import AlertGroup, AlertKind
from desktop.views.banner import AlertBanner
from tests.desktop.conftest import Loop, until
from tests.desktop.test_e2e_desk import open_desk
from tests.sync.server_fixture import ServerProcess, start_server

pytestmark = pytest.mark.timeout(240)

FAST = """\
[contracts]
stale_threshold_minutes = 0.05
stale_detection_interval_seconds = 0.5
heartbeat_timeout_seconds = 2.0
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = start_server(tmp_path / "server", FAST)
    try:
        yield process
    finally:
        process.stop()
        assert "Traceback" not in process.log_text(), process.log_text()[-5000:]


@pytest.fixture
def simulator(server: ServerProcess, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "server.cli", "simulate", "--api-url", server.base_url]
    command += ["--api-key", server.admin_key, "--supervisor-key", server.supervisor_key]
    command += ["--supervisors", "2", "--tick", "0.1", "--seed", "5"]
    with (tmp_path / "simulator.log").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_demo_raises_a_stale_alert_for_an_active_contract(
    server: ServerProcess,
    simulator: subprocess.Popen[bytes],
    tmp_path: Path,
    qtbot: QtBot,
    qloop: Loop,
) -> None:
    presented: list[AlertGroup] = []
    stale_while_active: list[str] = []

    async def scenario() -> None:
        async with open_desk(server, tmp_path / "replica.db", qtbot) as desk:
            notifier = desk.window.notifier
            assert notifier is not None

            def seen(group: AlertGroup) -> None:
                presented.append(group)
                for alert in group.alerts:
                    held = desk.bridge.contracts.get(alert.contract_id)
                    active = held is not None and held.status is ContractStatus.ACTIVE
                    if alert.kind is AlertKind.STALE and active:
                        stale_while_active.append(alert.contract_id)

            notifier.presented.connect(seen)
            kinds = lambda: {a.kind for g in presented for a in g.alerts}  # noqa: E731
            await until(lambda: bool(stale_while_active), 60)
            await until(lambda: {AlertKind.QUESTION, AlertKind.PHASE_CONFIRMATION} <= kinds(), 30)
            banner = desk.window.findChild(AlertBanner, "alertBanner")
            assert banner is not None and banner.isVisible()

    qloop.run(scenario(), timeout=150)
    assert stale_while_active
