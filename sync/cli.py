"""`contracts`: manage contracts from a terminal or a script.

Exit codes: 0 success, 1 server or connection error (code and message on stderr), 2 usage
error, 3 confirmation required or refused. `--format json` prints the API's objects.

The server comes from --api-url, else $CONTRACTS_API_URL, else the config file. The key, first
found: one line of standard input (--api-key-stdin), --api-key (shows in `ps`: avoid it),
$CONTRACTS_API_KEY, the login `contracts login` stored (OS keyring, or a 0600 file where there
is none), the config file (see `sync.config`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn, TextIO

import httpx

from core.errors import DomainError
from core.key_options import add_key_options
from sync import cli_cleanup, cli_contracts, cli_inbox, cli_monitor
from sync.cli_session import CliSession, ConfirmationRefused, ExitCode, UsageError
from sync.client_supervisor import BATCH_OPERATIONS
from sync.errors import ApiError

PROG = "contracts"
DEBUG_ENV = "CONTRACTS_DEBUG"
Command = Callable[[CliSession], Coroutine[Any, Any, int]]

COMMANDS: dict[str, Command] = {
    "login": cli_contracts.login,
    "list": cli_contracts.list_contracts,
    "show": cli_contracts.show,
    "health": cli_contracts.health,
    "export": cli_contracts.export,
    "pause": cli_contracts.pause,
    "resume": cli_contracts.resume,
    "restart-supervisor": cli_contracts.restart_supervisor,
    "advance": cli_contracts.advance,
    "questions": cli_contracts.questions,
    "inbox": cli_inbox.inbox,
    "snooze": cli_inbox.snooze,
    "unsnooze": cli_inbox.unsnooze,
    "claim": cli_inbox.claim,
    "unclaim": cli_inbox.unclaim,
    "answer": cli_contracts.answer,
    "cleanup": cli_cleanup.cleanup,
    "batch": cli_cleanup.batch,
    "monitor": cli_monitor.monitor,
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _seq(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a seq: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seq is at least 0: {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before or after the command. Subcommands default to SUPPRESS so
    they never overwrite a value given before the command."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("connection")
    group.add_argument("--api-url", default=default(None), help="server URL ($CONTRACTS_API_URL)")
    add_key_options(
        group,
        elsewhere="$CONTRACTS_API_KEY or `contracts login` (OS keyring)",
        default=None if top else argparse.SUPPRESS,
    )
    group.add_argument(
        "--timeout", type=_positive_float, default=default(10.0), help="seconds per request"
    )
    group.add_argument(
        "--ca-bundle", default=default(None), help="CA certificates to verify the server with"
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        default=default(False),
        help="do not verify TLS certificates (never in production)",
    )


def _format(parser: argparse.ArgumentParser, choices: Sequence[str], default: str) -> None:
    parser.add_argument("--format", choices=choices, default=default)


Subparsers = Any  # argparse's _SubParsersAction is private


def _command(commands: Subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    _connection_options(sub, top=False)
    return sub


def _reading_commands(commands: Subparsers) -> None:
    _command(commands, "login", "store the server URL and API key for later commands").add_argument(
        "--no-check", action="store_true", help="store without checking the key on the server"
    )

    listing = _command(commands, "list", "list contracts")
    listing.add_argument("--status", help="comma-separated statuses, e.g. active,paused")
    listing.add_argument("--stale", action="store_true", help="only stale contracts")
    listing.add_argument("--threshold", help="stale threshold, e.g. 30m (with --stale)")
    listing.add_argument("--waiting", action="store_true", help="only contracts waiting for input")
    listing.add_argument("--phase", help="only contracts in this phase")
    _format(listing, ("table", "json", "compact"), "table")
    listing.add_argument("-n", "--limit", type=_positive_int, default=100, help="at most N")

    show = _command(commands, "show", "show one contract")
    show.add_argument("id", help="contract id (or a unique prefix)")
    show.add_argument("-v", "--verbose", action="store_true", help="tasks, questions, events")
    _format(show, ("table", "json"), "table")

    health = _command(commands, "health", "check a contract's supervisor; exit 1 when unhealthy")
    health.add_argument("id")
    health.add_argument(
        "--threshold", help="stale after this long idle (default: the server's stale threshold)"
    )
    _format(health, ("table", "json"), "table")

    export = _command(commands, "export", "export a contract's whole history as JSON")
    export.add_argument("id")
    _format(export, ("json",), "json")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")

    inbox = _command(commands, "inbox", "what waits on you, oldest first")
    inbox.add_argument("--include-snoozed", action="store_true", help="list snoozed items too")
    _format(inbox, ("table", "json"), "table")

    questions = _command(commands, "questions", "list pending questions")
    questions.add_argument("--contract", help="only this contract's questions")
    questions.add_argument("--all", action="store_true", help="answered and timed out too")
    _format(questions, ("table", "json", "compact"), "table")


def _changing_commands(commands: Subparsers) -> None:
    pause = _command(commands, "pause", "pause a contract")
    pause.add_argument("id")
    pause.add_argument("--reason", help="why (recorded in the history)")
    _command(commands, "resume", "resume a paused contract").add_argument("id")
    _command(
        commands, "restart-supervisor", "ask for a contract's supervisor to restart"
    ).add_argument("id")

    advance = _command(commands, "advance", "move a contract to another phase")
    advance.add_argument("id")
    advance.add_argument("--phase", required=True)
    advance.add_argument(
        "--force",
        action="store_true",
        help="a reviewer's forced advance: confirms the phase guard and skips missing "
        "deliverables (recorded as forced)",
    )
    advance.add_argument(
        "-y", "--yes", action="store_true", help="confirm a guarded change without asking"
    )

    item_help = "inbox item id (or a unique prefix, or the id of a contract with one item)"
    snooze = _command(
        commands, "snooze", "hide an inbox item for a while (it returns if it changes)"
    )
    snooze.add_argument("item", help=item_help)
    snooze.add_argument(
        "when", nargs="?", help="a duration (1h, 30m), 'tomorrow' (9:00 local) or an ISO time"
    )
    snooze.add_argument("--until", help="an ISO 8601 time (local when no zone is given)")
    _command(commands, "unsnooze", "bring a snoozed inbox item back").add_argument(
        "item", help=item_help
    )
    _command(commands, "claim", "tell the other reviewers you are on an item").add_argument(
        "item", help=item_help
    )
    _command(commands, "unclaim", "release your claim on an item").add_argument(
        "item", help=item_help
    )

    answer = _command(commands, "answer", "answer a question")
    answer.add_argument("qid", help="question id (or a unique prefix)")
    answer.add_argument("answer")


def _batch_commands(commands: Subparsers) -> None:
    cleanup = _command(
        commands, "cleanup", "archive old contracts, delete archived ones, clean up worktrees"
    )
    cleanup.add_argument("--archive", action="store_true", help="archive completed/failed")
    cleanup.add_argument("--delete-archived", action="store_true", help="delete archived")
    cleanup.add_argument(
        "--worktrees",
        action="store_true",
        help="ask daemons to remove the worktrees of finished or archived contracts",
    )
    cleanup.add_argument(
        "--all", action="store_true", help="archive, clean up worktrees, then delete"
    )
    cleanup.add_argument("--older-than", default="7d", help="age threshold (default 7d)")
    cleanup.add_argument("--dry-run", action="store_true", help="only show what would change")
    cleanup.add_argument("--force", action="store_true", help="do not ask for confirmation")

    batch = _command(commands, "batch", "run a batch operation")
    batch.add_argument("operation", choices=BATCH_OPERATIONS)
    batch.add_argument("--older-than", help="e.g. 7d (archive_old, cleanup_archived)")
    batch.add_argument("--status", help="comma-separated statuses (archive_old)")
    batch.add_argument("--reason", help="why (pause_all)")
    batch.add_argument("--stale-threshold", help="e.g. 30m (restart_stale)")
    batch.add_argument("--dry-run", action="store_true", help="only show what would change")
    batch.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def _monitor_command(commands: Subparsers) -> None:
    monitor = _command(commands, "monitor", "follow contract events live (Ctrl-C to stop)")
    monitor.add_argument("ids", nargs="*", metavar="ID", help="only these contracts")
    monitor.add_argument("--status", help="only contracts in these statuses")
    monitor.add_argument("--stale", action="store_true", help="only stale detections")
    monitor.add_argument("-q", "--quiet", action="store_true", help="only important events")
    monitor.add_argument(
        "--format",
        choices=("tui", "text", "json"),
        default=None,
        help="default: tui on a terminal, text otherwise",
    )
    monitor.add_argument(
        "--after",
        type=_seq,
        metavar="SEQ",
        help="first replay the events after this seq (resume a previous run); default: live only",
    )
    monitor.add_argument("--max-events", type=_positive_int, help=argparse.SUPPRESS)
    monitor.add_argument("--duration", type=_positive_float, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").split("\n\n")[0])
    _connection_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _reading_commands(commands)
    _changing_commands(commands)
    _batch_commands(commands)
    _monitor_command(commands)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Run one command; answers the exit code (never raises, never prints a traceback).

    The streams and `transport` (the network, as httpx.MockTransport in tests) are seams.
    """
    _tolerate_unencodable_output()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    session = CliSession(args, out=stdout, err=stderr, stdin=stdin, transport=transport)
    try:
        return asyncio.run(COMMANDS[args.command](session))
    except ApiError as error:
        session.warn(f"{PROG}: error: {error.raw_code}: {error.message}")
        return ExitCode.FAILED
    except UsageError as error:
        session.warn(f"{PROG}: error: {error}")
        return ExitCode.USAGE
    except ConfirmationRefused as error:
        session.warn(f"{PROG}: {error}")
        return ExitCode.CONFIRMATION
    except DomainError as error:  # the server's answer did not parse as the API's objects
        session.warn(f"{PROG}: error: unexpected answer from the server: {error.message}")
        return ExitCode.FAILED
    except KeyboardInterrupt:
        session.warn(f"{PROG}: interrupted")
        return 130
    except BrokenPipeError:  # `contracts list | head -1`: the reader left, nothing to say
        _silence_stdout()
        return ExitCode.OK
    except Exception as error:  # a bug: still one line, never a traceback (unless asked)
        if os.environ.get(DEBUG_ENV):
            raise
        session.warn(
            f"{PROG}: internal error: {type(error).__name__}: {error} "
            f"(set {DEBUG_ENV}=1 for details)"
        )
        return ExitCode.FAILED


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _tolerate_unencodable_output() -> None:
    """Print "?" for characters the terminal cannot show (→, …) rather than crash."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def _exit(code: int) -> NoReturn:
    sys.exit(code)


if __name__ == "__main__":
    _exit(main())
