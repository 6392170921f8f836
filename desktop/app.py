"""`contract-desk`: the desktop application's entry point (the qasync edge).

    contract-desk                     the embedded local server (started for you)
    contract-desk --demo [N]          ... plus N simulated supervisors (default 4)
    contract-desk --server URL --api-key KEY
    contract-desk --offline           the replica the last session used, no connection
    contract-desk --offline --replica PATH   that replica file, no connection

Startup order matters for the first paint: the window shows the replica at once ("Starting
the local server…") and the embedded server's key, process and the connection come up
behind it (`desktop.server_keeper`, which also restarts a server that dies). The server ends
with the desk however the desk ends (`serve --parent-pid`); SIGINT and SIGTERM are File ▸
Quit (`desktop.startup`). While it runs, the desk leaves a reference for `contracts`
(`sync.discovery`). The API key is kept in the OS keyring (or a 0600 file); `--api-key`
stores it for the next run. With -v the desk logs when it was first painted and when data
went live (`bench/bench_desktop.py --launch` reads those lines).

Exit codes: 0 closed normally, 1 cannot run (no display, server failed to start), 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import redaction
from core.api.errors import ErrorCode
from desktop.display import display_problem
from desktop.settings import DeskPaths, DeskSettings, KeyStore, SettingsStore
from sync.errors import ApiError

LAUNCHED = time.monotonic()  # the first module `contract-desk` imports: about the launch

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from desktop.backend import ServiceBackend
    from desktop.embedded import EmbeddedServer
    from desktop.replicas import ReplicaChoice
    from desktop.views.main_window import MainWindow

log = logging.getLogger("desktop")

ENV_KEY = "CONTRACTS_API_KEY"


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
        "--replica", type=Path, metavar="PATH", help="with --offline: open this replica file"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="settings and data folder (default: per user)"
    )
    parser.add_argument(
        "--print-server",
        action="store_true",
        help="show the embedded server's URL and database (with --demo: the demo's), then exit",
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


def _since_launch() -> float:
    return time.monotonic() - LAUNCHED


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
        self._live_logged = False
        self._deferred: list[Callable[[], None]] = []  # keeper news from before the window

    async def run(self) -> int:
        """Show the window over the replica first; the embedded server (when there is one)
        starts behind it (launched first, so it boots while the window is built) and the
        sync service connects once it answers."""
        from desktop.backend import ServiceBackend
        from desktop.embedded import EmbeddedServer
        from sync.service import SyncService

        plan = make_plan(self.args, self.settings, self.keys)
        url, key = plan.server_url, plan.api_key
        replica = self._replica(plan)
        embedded = url is None and not plan.offline
        if embedded:
            self.embedded = EmbeddedServer(self.paths.data, self.keys, demo=plan.demo)
            self._keep_server(self.embedded)
        service = SyncService(replica.path, url, key)
        self.backend = ServiceBackend(service, offline=plan.offline or key is None)
        self.backend.awaiting_server = embedded
        await self.backend.start()
        self.backend.on_state(self._state_moved)
        self._open_window(plan, has_key=key is not None or embedded)
        self._show_replica(replica)
        service.errors.subscribe(self._sync_error)
        if self.embedded is not None and not self._deferred:
            self._starting_note()
        for act in self._deferred:
            act()
        self._deferred.clear()
        if self.args.screenshot is not None or self.args.quit_after is not None:
            self._tasks.append(asyncio.ensure_future(self._scripted()))
        await self.closed.wait()
        await self._shutdown()
        return self.exit_code

    def _replica(self, plan: Plan) -> ReplicaChoice:
        from desktop.replicas import choose_replica

        explicit = bool(self.args.server) or self.args.demo is not None
        planned = self.paths.replica_file(plan.replica_name)
        chosen = getattr(self.args, "replica", None)
        return choose_replica(
            self.paths, planned, offline=plan.offline, explicit=explicit, chosen=chosen
        )

    def _show_replica(self, choice: ReplicaChoice) -> None:
        from desktop.replicas import offline_note

        if self.window is not None and self.args.offline:
            self.window.setWindowTitle(f"Contract Desk — offline: {choice.path.name}")
            self.window.offline_note = offline_note(choice)

    def _starting_note(self) -> None:
        assert self.window is not None
        self.window.status.connection.setText("○ Starting the local server…")
        self.window.show_banner("Starting the local server… contracts appear when it answers.")

    def _keep_server(self, server: EmbeddedServer) -> None:
        from desktop.server_keeper import ServerKeeper

        self._tasks.append(asyncio.ensure_future(ServerKeeper(server, self).run()))

    # --- what the server keeper says (kept until the window is shown) ---------------------

    def _when_shown(self, act: Callable[[], None]) -> None:
        if self.window is None:
            self._deferred.append(act)
        else:
            act()

    def server_ready(self, url: str, api_key: str) -> None:
        log.info("startup: local server answered after %.2f s", _since_launch())
        self._when_shown(lambda: self._connect_embedded(url, api_key))

    def _connect_embedded(self, url: str, api_key: str) -> None:
        from sync import discovery

        assert self.backend is not None and self.embedded is not None
        if self.window is not None:
            self.window.banner.hide()
        self.backend.connect(url, api_key)
        credentials = str(self.paths.credentials_file)
        ref = discovery.EmbeddedServerRef(url, os.getpid(), self.embedded.account, credentials)
        discovery.publish(ref, self.paths.data)  # `contracts` finds this server by itself

    def server_notice(self, text: str, *, lasting: bool = False) -> None:
        def show() -> None:
            assert self.window is not None
            self.window.show_banner(text)
            self.window.status.showMessage(text, 0 if lasting else 10_000)

        self._when_shown(show)

    def server_failed(self, text: str) -> None:
        def fail() -> None:
            assert self.backend is not None
            self.backend.server_unavailable()

        self._when_shown(fail)
        self.server_notice(text, lasting=True)

    # --- the rest -------------------------------------------------------------------------

    def _state_moved(self, state: str) -> None:
        if state == "live" and not self._live_logged:
            self._live_logged = True
            log.info("startup: live data after %.2f s", _since_launch())

    def _sync_error(self, error: Any) -> None:
        """A refusal retrying cannot fix is shown; connection failures are the status bar's."""
        refused = (ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN)
        if isinstance(error, ApiError) and error.code in refused:
            self._banner("The server refused the API key: enter another in Settings (Ctrl+,).")

    def _banner(self, text: str) -> None:
        if self.window is not None:
            self.window.show_banner(text)

    def _open_window(self, plan: Plan, *, has_key: bool) -> None:
        from desktop.bridge import AlertPolicy, SyncBridge
        from desktop.drafts import Drafts, drafts_beside
        from desktop.operations import TaskRunner
        from desktop.startup import FirstPaint
        from desktop.views.main_window import MainWindow

        assert self.backend is not None
        minutes = self.settings.stale_threshold_minutes  # the server's, as last seen
        policy = AlertPolicy(timedelta(minutes=minutes), self.settings.notifications)
        bridge = SyncBridge(self.backend, TaskRunner(asyncio.get_event_loop()), policy=policy)
        bridge.set_stale_threshold(minutes)
        window = MainWindow(
            bridge,
            self.settings,
            has_key=has_key,
            drafts=Drafts(drafts_beside(self.backend.service.replica_path)),
        )
        icon = load_icon("contract-desk.svg")
        if icon is not None:
            window.setWindowIcon(icon)
        window.settingsChanged.connect(self._settings_changed)
        window.closed.connect(self.closed.set)
        self.window = window
        self._first_paint = FirstPaint(
            lambda: log.info("startup: first paint after %.2f s", _since_launch())
        )
        window.installEventFilter(self._first_paint)
        window.show()
        window.start()
        if plan.server_url and not has_key and not plan.offline:
            window.show_banner(f"No API key for {plan.server_url}: open Settings (Ctrl+,).")

    def quit(self, why: str) -> None:
        """File ▸ Quit by another route (a signal): the same orderly shutdown."""
        if not self.closed.is_set():
            log.info("quitting on %s", why)
        self.closed.set()

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
            self.window.hide()
            await self.window.bridge.runner.drain()
        if self.backend is not None:
            await self.backend.stop()
        self.stop_server()

    def stop_server(self) -> None:
        """Stop the embedded server and withdraw its reference. Idempotent."""
        from sync import discovery

        if self.embedded is not None:
            self.embedded.stop()
            discovery.withdraw(self.paths.data, os.getpid())


def resource(name: str) -> bytes | None:
    """A file of the installed package's `desktop/resources` (a wheel carries it as
    package data), or None with a warning when it is missing."""
    found = files("desktop").joinpath("resources", *name.split("/"))
    try:
        return found.read_bytes()
    except OSError:
        log.warning("resources: %s is missing from the installed package", name)
        return None


def load_icon(name: str) -> QIcon | None:
    from PySide6.QtGui import QIcon, QPixmap

    data = resource(f"icons/{name}")
    pixmap = QPixmap()
    if data is None or not pixmap.loadFromData(data):
        log.warning("resources: icon %s could not be loaded", name)
        return None
    log.info("resources: icon %s loaded (%dx%d)", name, pixmap.width(), pixmap.height())
    return QIcon(pixmap)


def _style(app: Any) -> None:
    data = resource("style.qss")
    if data is not None:
        app.setStyleSheet(data.decode("utf-8"))
        log.info("resources: style sheet loaded (%d characters)", len(app.styleSheet()))


def print_server(args: argparse.Namespace, paths: DeskPaths) -> int:
    """--print-server: where the embedded server is (or would be) and how to make keys."""
    from desktop.embedded import EmbeddedServer, local_owner
    from sync import discovery

    server = EmbeddedServer(paths.data, KeyStore(paths, use_keyring=False), demo=args.demo)
    db_url = server.db_url
    running = discovery.find(paths.data)
    if running is not None:
        state = f"{running.url} (running, desk pid {running.pid})"
        db_url = f"sqlite:///{running.account.removeprefix('embedded:')}"  # the one running
    else:
        state = "not running (start it with: contract-desk" + (" --demo)" if args.demo else ")")
    owner = local_owner()
    print(f"server:   {state}")
    print(f"database: {db_url}")
    print(f"log:      {server.log_path}")
    print(f"owner:    {owner} (a key sees only its owner's contracts)")
    print(f"a key:    contract-server keys create --owner {owner} --role reviewer --db {db_url}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    paths = (
        DeskPaths.default()
        if args.data_dir is None
        else DeskPaths(args.data_dir / "config", args.data_dir / "data")
    )
    if args.print_server:
        return print_server(args, paths)
    problem = display_problem(os.environ)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    redaction.install()  # no API key in any log line
    return _run_qt(args, paths)


def _run_qt(args: argparse.Namespace, paths: DeskPaths) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    from desktop.startup import QuitOnSignals

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["contract-desk"])
    app.setApplicationName("Contract Desk")
    app.setDesktopFileName("contract-desk")
    app.setQuitOnLastWindowClosed(False)
    _style(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    desk = Desk(app, args, paths)
    signals = QuitOnSignals(desk.quit)
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
        desk.stop_server()
        signals.restore()
        asyncio.set_event_loop(None)
        loop.close()


if __name__ == "__main__":
    raise SystemExit(main())
