"""The demo shows everything the README promises (issue 13), with the app's real notifier:
against a `contract-server serve` process and the `contract-server simulate` process (tick
0.1 s: the demo's 2 s shrunk twenty times) the main window's notifier presents a question, a
phase confirmation and a STALE alert for an ACTIVE contract whose supervisor went silent, and
the banner shows it. Nobody answers anything.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.status import ContractStatus
from desktop.notify import AlertGroup, AlertKind
from desktop.views.banner import AlertBanner
from tests.desktop.conftest import Loop, until
from tests.desktop.test_e2e_desk import open_desk
from tests.sync.server_fixture import ServerProcess, fast_server, simulating

__all__ = ["fast_server"]

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def simulator(fast_server: ServerProcess, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = tmp_path / "simulator.log"
    with simulating(fast_server, log, supervisors=2, tick=0.1, seed=5) as process:
        yield process


def test_the_demo_raises_a_stale_alert_for_an_active_contract(
    fast_server: ServerProcess,
    simulator: subprocess.Popen[bytes],
    tmp_path: Path,
    qtbot: QtBot,
    qloop: Loop,
) -> None:
    presented: list[AlertGroup] = []
    stale_while_active: list[str] = []

    async def scenario() -> None:
        async with open_desk(fast_server, tmp_path / "replica.db", qtbot) as desk:
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
