"""`contract-desk`: the desktop application's entry point (the qasync edge).

    contract-desk                     the embedded local server (started for you)
    contract-desk --demo [N]          ... plus N simulated supervisors (default 4)
    contract-desk --server URL --api-key KEY
    contract-desk --offline           the local replica only, no connection

Startup order matters for the first paint: the window shows the replica at once and the
connection (and, when embedded, the server process) comes up behind it. The API key is kept
in the OS keyring (or a 0600 file); `--api-key` stores it for the next run.

Exit codes: 0 closed normally, 1 cannot run (no display, server failed to start), 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import redaction
from desktop.settings import DeskPaths, DeskSettings, KeyStore, SettingsStore

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from desktop.backend import ServiceBackend
    from desktop.embedded import EmbeddedServer
    from desktop.views.main_window import MainWindow

log = logging.getLogger("desktop")

ENV_KEY = "CONTRACTS_API_KEY"
NO_DISPLAY = (
    "contract-desk: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
    "Run it in a desktop session, or under a virtual display: xvfb-run contract-desk --demo\n"
    "(QT_QPA_PLATFORM=offscreen runs it without showing anything, e.g. for tests)."
)


def display_problem(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why no window can be shown, or None. Only Linux and the BSDs need X11/Wayland."""
    if not (platform.startswith("linux") or "bsd" in platform):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM"):
        return None
    return NO_DISPLAY


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contract-desk", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--demo",
        nargs="?",
        type=int,
        const=4,
        default=None,
        metavar="N",
        help="start the embedded server with N simulated supervisors (default 4)",
    )
    parser.add_argument("--server", metavar="URL", help="connect to this contract server")
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="API key, kept in the OS keyring for later runs (or set $CONTRACTS_API_KEY, or "
        "enter it in Settings: a key on the command line shows in `ps`)",
    )
    parser.add_argument("--offline", action="store_true", help="open the replica, do not connect")
    parser.add_argument(
        "--data-dir", type=Path, help="settings and data folder (default: per user)"
    )
    parser.add_argument("--screenshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--quit-after", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


@dataclass(frozen=True, slots=True)
class Plan:
    """Where to connect, decided from the arguments, the settings and the key store."""

    server_url: str | None  # None: the embedded server (or nothing, offline)
    api_key: str | None
    replica_name: str
    offline: bool
    demo: int | None


def make_plan(args: argparse.Namespace, settings: DeskSettings, keys: KeyStore) -> Plan:
    url = (args.server or settings.server_url or "").strip().rstrip("/") or None
    if args.demo and args.server:
        raise ValueError("--demo starts the embedded server: leave out --server")
    key = None
    if url is not None:
        key = args.api_key or keys.get(url) or os.environ.get(ENV_KEY) or None
        if args.api_key:
            keys.set(url, args.api_key)
    name = url or ("embedded-demo" if args.demo else "embedded")
    return Plan(url, key, name, bool(args.offline), None if url else args.demo)


class Desk:
    """The running application: settings, embedded server, sync service, window."""

    def __init__(self, app: QApplication, args: argparse.Namespace, paths: DeskPaths) -> None:
        self.app = app
        self.args = args
        self.paths = paths
        self.store = SettingsStore(paths)
        self.keys = KeyStore(paths)
        self.settings = self.store.load()
        self.embedded: EmbeddedServer | None = None
        self.backend: ServiceBackend | None = None
        self.window: MainWindow | None = None
        self.closed = asyncio.Event()
        self.exit_code = 0
        self._tasks: list[asyncio.Future[None]] = []

    async def run(self) -> int:
        from desktop.backend import ServiceBackend
        from sync.service import SyncService

        plan = make_plan(self.args, self.settings, self.keys)
        url, key = plan.server_url, plan.api_key
        if url is None and not plan.offline:
            url, key = await self._prepare_embedded(plan.demo)
        replica = self.paths.replica_file(plan.replica_name)
        service = SyncService(replica, url, key)
        self.backend = ServiceBackend(service, offline=plan.offline or key is None)
        await self.backend.start()
        self._open_window(plan, has_key=key is not None)
        service.errors.subscribe(self._sync_error)
        if self.embedded is not None:
            self._tasks.append(asyncio.ensure_future(self._watch_embedded()))
        if self.args.screenshot is not None or self.args.quit_after is not None:
            self._tasks.append(asyncio.ensure_future(self._scripted()))
        await self.closed.wait()
        await self._shutdown()
        return self.exit_code

    async def _prepare_embedded(self, demo: int | None) -> tuple[str, str]:
        from desktop.embedded import EmbeddedServer

        self.embedded = EmbeddedServer(self.paths.data, self.keys, demo=demo)
        await self.embedded.prepare()
        self.embedded.launch()
        return self.embedded.url, self.embedded.api_key

    async def _watch_embedded(self) -> None:
        from desktop.embedded import EmbeddedServerError

        assert self.embedded is not None
        try:
            if not await self.embedded.wait_ready():
                self._banner("The embedded server refused the kept key: restart Contract Desk.")
        except EmbeddedServerError as error:
            log.error("%s", error)
            self._banner(f"The embedded server did not start: {str(error).splitlines()[0]}")

    def _sync_error(self, error: Any) -> None:
        """A refusal retrying cannot fix is shown; connection failures are the status bar's."""
        code = str(getattr(error, "code", ""))
        if code in ("UNAUTHORIZED", "FORBIDDEN"):
            self._banner("The server refused the API key: enter another in Settings (Ctrl+,).")

    def _banner(self, text: str) -> None:
        if self.window is not None:
            self.window.show_banner(text)

    def _open_window(self, plan: Plan, *, has_key: bool) -> None:
        from PySide6.QtGui import QIcon

        from desktop.bridge import AlertPolicy, SyncBridge
        from desktop.operations import TaskRunner
        from desktop.views.main_window import MainWindow

        assert self.backend is not None
        minutes = 0.5 if plan.demo else self.settings.stale_threshold_minutes
        policy = AlertPolicy(timedelta(minutes=minutes), self.settings.notifications)
        bridge = SyncBridge(self.backend, TaskRunner(asyncio.get_event_loop()), policy=policy)
        bridge.set_stale_threshold(minutes)
        window = MainWindow(
            bridge, self.settings.with_changes(stale_threshold_minutes=minutes), has_key=has_key
        )
        icon = resource_path("icons/contract-desk.svg")
        if icon.exists():
            window.setWindowIcon(QIcon(str(icon)))
        window.settingsChanged.connect(self._settings_changed)
        window.closed.connect(self.closed.set)
        self.window = window
        window.show()
        window.start()
        if plan.server_url and not has_key and not plan.offline:
            window.show_banner(f"No API key for {plan.server_url}: open Settings (Ctrl+,).")

    def _settings_changed(self, settings: DeskSettings, key: str | None) -> None:
        self.store.save(settings)
        self.settings = settings
        if key and settings.server_url:
            self.keys.set(settings.server_url, key)

    async def _scripted(self) -> None:
        """--screenshot PATH / --quit-after S: for the README's screenshot and smoke tests."""
        await asyncio.sleep(self.args.quit_after or 5.0)
        if self.window is not None and self.args.screenshot is not None:
            self.window.grab().save(str(self.args.screenshot))
        if self.window is not None:
            self.window.close()
        self.closed.set()

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.window is not None:
            self.window.shutdown()
            await self.window.bridge.runner.drain()
        if self.backend is not None:
            await self.backend.stop()
        if self.embedded is not None:
            self.embedded.stop()


def resource_path(name: str) -> Path:
    return Path(__file__).resolve().parent.parent / "resources" / name


def _style(app: Any) -> None:
    sheet = resource_path("style.qss")
    if sheet.exists():
        app.setStyleSheet(sheet.read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    problem = display_problem(os.environ)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    redaction.install()  # no API key in any log line
    paths = (
        DeskPaths.default()
        if args.data_dir is None
        else DeskPaths(args.data_dir / "config", args.data_dir / "data")
    )
    return _run_qt(args, paths)


def _run_qt(args: argparse.Namespace, paths: DeskPaths) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["contract-desk"])
    app.setApplicationName("Contract Desk")
    app.setDesktopFileName("contract-desk")
    app.setQuitOnLastWindowClosed(False)
    _style(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    desk = Desk(app, args, paths)
    try:
        return int(loop.run_until_complete(desk.run()))
    except ValueError as error:
        print(f"contract-desk: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # one line for the user, the trace in the log
        log.exception("contract-desk failed")
        print(f"contract-desk: error: {error}", file=sys.stderr)
        return 1
    finally:
        if desk.embedded is not None:
            desk.embedded.stop()
        asyncio.set_event_loop(None)
        loop.close()


if __name__ == "__main__":
    raise SystemExit(main())
