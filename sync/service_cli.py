"""`contract-sync run`: the sync service, headless, until SIGTERM or SIGINT.

    contract-sync run [--api-url URL] [--api-key-stdin] [--replica PATH] [--offline]

The URL also comes from CONTRACTS_API_URL. The key, first found: one line of standard input
(`--api-key-stdin`), CONTRACTS_API_KEY, the login `contracts login` stored for that URL (OS
keyring, or its 0600 file), `--api-key KEY` (last resort: a command line shows in `ps`).
The replica defaults to `platformdirs.user_data_dir("contract-desk")/replica.db`. State
changes are logged on stderr, every line through `core.redaction` (no key, at any level).

Exit codes: 0 stopped by a signal; 1 the service failed (the server refused the key, the
replica cannot be opened); 2 bad arguments. Errors are one line on stderr, never a traceback,
and the key is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from platformdirs import user_data_dir

from core import redaction
from core.key_options import ENV_KEY, add_key_options, key_from_stdin
from sync.config import ConfigError, normalize_url, stored_key
from sync.service import ConnectionState, SyncService

APP_NAME = "contract-desk"
ENV_URL = "CONTRACTS_API_URL"
log = logging.getLogger("contract-sync")


def default_replica() -> Path:
    return Path(user_data_dir(APP_NAME)) / "replica.db"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="contract-sync", description="Keep a local replica in step with a contract server."
    )
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="sync until SIGTERM or SIGINT")
    run.add_argument("--api-url", default=os.environ.get(ENV_URL), help=f"(or {ENV_URL})")
    add_key_options(run, elsewhere=f"${ENV_KEY} or `contracts login` (OS keyring)")
    run.add_argument("--replica", type=Path, default=None, help="replica file")
    run.add_argument("--offline", action="store_true", help="open the replica, do not connect")
    run.add_argument("--no-heartbeats", action="store_true", help="do not follow heartbeats")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return top


def _key(args: argparse.Namespace) -> str | None:
    """The key by the order of the module docstring (None: none found)."""
    if args.api_key_stdin:
        return key_from_stdin(sys.stdin)
    found = os.environ.get(ENV_KEY) or None
    if found is None and args.api_url:
        with contextlib.suppress(ConfigError):
            found = next((k for _, k in stored_key(normalize_url(args.api_url)) if k), None)
    return found or args.api_key


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)  # exits 2 on bad arguments
    args.api_key = None if args.offline else _key(args)
    if not args.offline:
        missing = [
            name
            for name, value in (("--api-url", args.api_url), ("--api-key", args.api_key))
            if not value
        ]
        if missing:
            return _fail(
                f"{' and '.join(missing)} required (or {ENV_URL}; the key: --api-key-stdin, "
                f"{ENV_KEY} or `contracts login`)",
                2,
            )
        if not str(args.api_url).startswith(("http://", "https://")):
            return _fail(f"--api-url must start with http:// or https://: {args.api_url!r}", 2)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    redaction.install()  # websockets logs handshake headers at debug level
    replica = args.replica or default_replica()
    service = SyncService(
        replica,
        None if args.offline else args.api_url,
        None if args.offline else args.api_key,
        heartbeats=not args.no_heartbeats,
    )
    try:
        return asyncio.run(_run(service))
    except KeyboardInterrupt:
        return 0


async def _run(service: SyncService) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service.state_changed.subscribe(lambda state: log.info("state: %s", state.value))
    try:
        await service.start()
    except Exception as exc:
        return _fail(f"cannot open the replica {service.replica_path}: {exc}", 1)
    log.info("replica: %s", service.replica_path)
    try:
        await _until(stop, service)
        fatal = service.fatal
    finally:
        await service.stop()
    if fatal is not None:
        return _fail(f"the server refused the sync ({fatal.raw_code}): {fatal.message}", 1)
    log.info("stopped (%s)", ConnectionState.OFFLINE.value)
    return 0


async def _until(stop: asyncio.Event, service: SyncService) -> None:
    while not stop.is_set() and service.fatal is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


def _fail(message: str, code: int) -> int:
    print(f"contract-sync: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
