"""The keeper of the embedded server, with a real `contract-server` process: a server killed
under it is reaped and started again; past the restart limit it stops and says why."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from desktop.embedded import EmbeddedServer
from desktop.server_keeper import ServerKeeper, ended
from desktop.settings import DeskPaths, KeyStore
from tests.desktop.conftest import until
from tests.desktop.desk_process import running

pytestmark = pytest.mark.timeout(240)


class Heard:
    """What the desk would show: the keeper's calls, recorded."""

    def __init__(self) -> None:
        self.ready: list[str] = []
        self.notices: list[str] = []
        self.failures: list[str] = []

    def server_ready(self, url: str, api_key: str) -> None:
        self.ready.append(url)

    def server_notice(self, text: str, *, lasting: bool = False) -> None:
        self.notices.append(text)

    def server_failed(self, text: str) -> None:
        self.failures.append(text)


def test_exit_codes_in_words() -> None:
    assert ended(-signal.SIGKILL) == "was killed (SIGKILL)"
    assert ended(3) == "exited with code 3"


async def test_restarts_a_killed_server_then_gives_up_past_the_limit(tmp_path: Path) -> None:
    keys = KeyStore(DeskPaths(tmp_path / "config", tmp_path / "data"), use_keyring=False)
    server = EmbeddedServer(tmp_path / "data", keys)
    heard = Heard()
    keeping = asyncio.create_task(ServerKeeper(server, heard, limit=1).run())
    try:
        await until(lambda: bool(heard.ready), 90)
        first = server.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await until(lambda: any("running again" in n for n in heard.notices), 90)
        assert any("was killed (SIGKILL): restarting" in n for n in heard.notices)
        assert not running(first)  # reaped: no zombie left
        second = server.pid
        assert second is not None and second != first and running(second)
        assert heard.ready == [server.url]  # told once: the desk keeps its connection

        os.kill(second, signal.SIGKILL)
        await until(lambda: bool(heard.failures), 90)
        await asyncio.wait_for(keeping, 5)  # the keeper has stopped trying
        assert "stopped 2 times" in heard.failures[0]
        assert str(server.log_path) in heard.failures[0]
        assert not running(second)
    finally:
        keeping.cancel()
        server.stop()
