"""`ServerKeeper`: starts the embedded server behind the window and keeps it running.

The window is shown first (with "starting the local server…"); the keeper prepares the key,
launches the server and, once it answers, tells the desk to connect. If the server process
ends while the desk runs, the keeper reaps it (no zombie), says so, and starts it again on
the same port, so the sync service reconnects by itself. After `RESTART_LIMIT` restarts
within `RESTART_WINDOW_SECONDS` it stops trying and says why: a server that dies at once
every time (a broken database, a full disk) is not helped by a restart loop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from desktop.embedded import EmbeddedServer, EmbeddedServerError

log = logging.getLogger("desktop")

RESTART_LIMIT = 3
RESTART_WINDOW_SECONDS = 300.0
POLL_SECONDS = 0.5


class KeeperListener(Protocol):
    """What the desk hears from the keeper (all called on the event loop)."""

    def server_ready(self, url: str, api_key: str) -> None: ...

    def server_notice(self, text: str, *, lasting: bool = False) -> None: ...

    def server_failed(self, text: str) -> None: ...


def ended(code: int) -> str:
    """An exit code in words: "was killed (SIGKILL)" or "exited with code 3"."""
    if code < 0:
        try:
            return f"was killed ({signal.Signals(-code).name})"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class ServerKeeper:
    server: EmbeddedServer
    listener: KeeperListener
    limit: int = RESTART_LIMIT
    window_seconds: float = RESTART_WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    restarts: list[float] = field(default_factory=list)

    async def run(self) -> None:
        """Prepare, launch, then watch and restart until the limit. Cancel to stop."""
        try:
            await self.server.prepare()
        except EmbeddedServerError as error:
            self._give_up(f"the local server could not be prepared: {_first_line(error)}")
            return
        first = True
        while True:
            problem = await self._launch()
            if problem is None:
                if first:
                    self.listener.server_ready(self.server.url, self.server.api_key)
                else:
                    log.info("the local server is running again")
                    self.listener.server_notice("The local server is running again.")
                first = False
                problem = f"the local server {ended(await self._exited())}"
            elif problem.startswith("refused"):
                self._give_up("the local server refused the kept key: restart Contract Desk")
                return
            if not self._may_restart():
                self._give_up(
                    f"{problem}; it stopped {self.limit + 1} times within "
                    f"{self.window_seconds / 60:.0f} min, so it is not restarted again. "
                    f"See {self.server.log_path}, then restart Contract Desk"
                )
                return
            log.warning("%s; restarting it", problem)
            self.listener.server_notice(f"{_capital(problem)}: restarting it…", lasting=True)

    async def _launch(self) -> str | None:
        """Start the server and wait for it; None when it answers, else what went wrong."""
        try:
            self.server.launch()
            if not await self.server.wait_ready():
                return "refused"
        except EmbeddedServerError as error:
            return f"the local server did not start ({_first_line(error)})"
        return None

    async def _exited(self) -> int:
        """Wait for the server process to end; polling reaps it."""
        while True:
            code = self.server.exit_code()
            if code is not None:
                return code
            await asyncio.sleep(POLL_SECONDS)

    def _may_restart(self) -> bool:
        now = self.clock()
        self.restarts = [at for at in self.restarts if now - at < self.window_seconds]
        if len(self.restarts) >= self.limit:
            return False
        self.restarts.append(now)
        return True

    def _give_up(self, reason: str) -> None:
        log.error("%s", reason)
        self.listener.server_failed(f"{_capital(reason)}.")


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
