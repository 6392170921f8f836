"""`contract-server`: serve the API, manage API keys, migrate, run the supervisor simulator.

Serving lives in `server.serving`; this module parses, dispatches and runs the small
database commands.

Exit codes: 0 done, 1 the database (or server) failed, 2 bad arguments. Errors are one line
on stderr, never a traceback. `keys create` prints only the key on stdout, so
`KEY=$(contract-server keys create ...)` works; nothing here ever logs a key.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from platformdirs import user_data_dir
from sqlalchemy.engine import make_url

from core.actors import Role
from core.clock import SystemClock, iso
from core.errors import DomainError
from core.key_options import ENV_KEY, add_key_options, key_from_stdin
from core.store.engine import Store, async_url, open_store
from core.store.migrate import upgrade
from server.app import ENV_CONFIG, ENV_DB_URL
from server.auth import create_key, list_keys, parse_role, revoke_key

T = TypeVar("T")
APP_NAME = "contract-desk"


class CliError(Exception):
    """A failure reported as one line on stderr with its exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def default_db_url() -> str:
    env = os.environ.get(ENV_DB_URL)
    if env:
        return env
    folder = Path(user_data_dir(APP_NAME))
    return f"sqlite:///{folder / 'contracts.db'}"


def safe_url(url: str) -> str:
    """The URL with its password hidden (for messages and `serve --print-config`)."""
    return _safe(url)


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it that could be secret
        return "<unparsable URL>"


def check_url(url: str) -> str:
    try:
        _, dialect = async_url(url)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    if dialect == "sqlite":
        database = make_url(url).database or ""
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


async def _open(url: str) -> Store:
    """Migrate and open the database; unreachable → CliError (exit 1)."""
    check_url(url)
    try:
        return await open_store(url, migrate=True)
    except Exception as exc:
        raise CliError(f"Cannot open database {_safe(url)}: {type(exc).__name__}: {exc}") from None


async def with_store(url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    store = await _open(url)
    try:
        return await work(store)
    finally:
        await store.close()


# keys ----------------------------------------------------------------------------------


async def _keys_create(args: argparse.Namespace) -> int:
    role = parse_role(args.role)

    async def work(store: Store) -> str:
        async with store.write() as uow:
            now = SystemClock().now()
            return await create_key(uow.conn, args.owner, role, now, args.user)

    print(await with_store(args.db, work))
    return 0


async def _keys_list(args: argparse.Namespace) -> int:
    async def work(store: Store) -> list[Any]:
        async with store.read() as uow:
            return await list_keys(uow.conn)

    found = await with_store(args.db, work)
    if args.json:
        rows = [
            {
                "id": k.id,
                "owner": k.owner,
                "role": k.role,
                "prefix": k.prefix,
                "created": iso(k.created_at),
                "revoked": iso(k.revoked_at),
                "user": k.user or k.owner,
            }
            for k in found
        ]
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{'ID':36}  {'OWNER':16}  {'ROLE':10}  {'PREFIX':8}  {'CREATED':24}  {'REVOKED':24}  USER"
    )
    for k in found:
        print(
            f"{k.id:36}  {k.owner:16}  {k.role:10}  {k.prefix:8}  "
            f"{iso(k.created_at) or '':24}  {iso(k.revoked_at) or '-':24}  {k.user or k.owner}"
        )
    return 0


async def _keys_revoke(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        async with store.write() as uow:
            return await revoke_key(uow.conn, args.ident, SystemClock().now())

    count = await with_store(args.db, work)
    if count == 0:
        raise CliError(f"No active key with id or prefix {args.ident!r}")
    print(f"Revoked {count} key(s)", file=sys.stderr)
    return 0


# migrate -------------------------------------------------------------------------------


async def _migrate(args: argparse.Namespace) -> int:
    check_url(args.db)
    try:
        await upgrade(args.db)
    except Exception as exc:
        raise CliError(f"Cannot migrate {_safe(args.db)}: {type(exc).__name__}: {exc}") from None
    print(f"Database {_safe(args.db)} is at the newest schema", file=sys.stderr)
    return 0


# simulate ------------------------------------------------------------------------------


async def _simulate(args: argparse.Namespace) -> int:
    from server.simulator import simulate

    key = key_from_stdin(sys.stdin) if args.api_key_stdin else None
    key = key or os.environ.get(ENV_KEY) or args.api_key
    if not key:
        raise CliError(f"simulate needs a key: --api-key-stdin, ${ENV_KEY} or --api-key", 2)
    await simulate(
        args.api_url,
        key,
        args.supervisors,
        seed=args.seed,
        tick=args.tick,
        supervisor_key=os.environ.get(ENV_SIM_SUPERVISOR_KEY) or args.supervisor_key,
    )
    return 0


ENV_SIM_SUPERVISOR_KEY = "CONTRACTS_SUPERVISOR_KEY"


# parsing -------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port: {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help="database URL: sqlite:///PATH or postgresql://... "
        f"(default: ${ENV_DB_URL}, else a SQLite file in the user data folder)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contract-server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP + WebSocket API")
    _db_option(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--config", default=None, help=f"TOML file (default: ${ENV_CONFIG})")
    serve.add_argument("--demo", type=_positive, default=None, metavar="N")
    serve.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective settings and feature flags (TOML, no secrets) and exit",
    )
    serve.add_argument("--workers", type=_positive, default=1, metavar="N")
    serve.add_argument(
        "--parent-pid",
        type=_positive,
        default=None,
        metavar="PID",
        help="stop when process PID ends (the desktop's embedded server)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )

    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key; prints only the key")
    create.add_argument("--owner", required=True)
    create.add_argument(
        "--user", default=None, help="the person the key belongs to (default: the owner)"
    )
    create.add_argument(
        "--role", required=True, choices=[r.value for r in Role if r.value != "system"]
    )
    _db_option(create)
    listing = key_commands.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--json", action="store_true")
    _db_option(listing)
    revoke = key_commands.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("ident", metavar="ID_OR_PREFIX")
    _db_option(revoke)

    migrate = commands.add_parser("migrate", help="upgrade the database schema")
    _db_option(migrate)

    simulate = commands.add_parser("simulate", help="run simulated supervisors against a server")
    simulate.add_argument("--api-url", required=True)
    add_key_options(simulate, elsewhere=f"${ENV_KEY} (a reviewer or admin key)")
    simulate.add_argument(
        "--supervisor-key", default=None, help=f"supervisor key (or ${ENV_SIM_SUPERVISOR_KEY})"
    )
    simulate.add_argument("--supervisors", type=_positive, required=True)
    simulate.add_argument("--seed", type=int, default=None)
    simulate.add_argument("--tick", type=_non_negative_float, default=2.0)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if getattr(args, "db", "") is None:
        args.db = default_db_url()
    if args.command == "serve":
        from server.serving import serve

        return serve(args)
    if args.command == "migrate":
        return asyncio.run(_migrate(args))
    if args.command == "simulate":
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_simulate(args))
        return 0
    runners = {"create": _keys_create, "list": _keys_list, "revoke": _keys_revoke}
    return asyncio.run(runners[args.keys_command](args))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse: usage error (2) or --help (0), already printed
        return stop.code if isinstance(stop.code, int) else 2
    try:
        return _dispatch(args)
    except CliError as error:
        return _fail(parser, str(error), error.code)
    except DomainError as error:
        return _fail(parser, error.message, 2)


def _fail(parser: argparse.ArgumentParser, message: str, code: int) -> int:
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    # Run the importable module's main, not this `__main__` copy: server.serving imports
    # CliError from `server.cli`, and `except CliError` must catch that same class.
    from server.cli import main as _main

    sys.exit(_main())
