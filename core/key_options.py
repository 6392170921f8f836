"""Where a command takes its API key from: one rule for every command line (`contracts`,
`contract-sync run`, `contract-server simulate`).

A key given as `--api-key KEY` shows in `ps` to every user of the machine, so each command
also reads it from one line of standard input (`--api-key-stdin`), the environment
(`CONTRACTS_API_KEY`) or the stored login, and its `--help` says so.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

ENV_KEY = "CONTRACTS_API_KEY"


def add_key_options(
    parser: argparse.ArgumentParser | Any, *, elsewhere: str, default: Any = None
) -> None:
    """`--api-key` and `--api-key-stdin` on `parser` (or an argument group); `elsewhere`
    names the other sources this command reads (for the help text)."""
    parser.add_argument(
        "--api-key",
        default=default,
        metavar="KEY",
        help=f"API key; prefer --api-key-stdin, {elsewhere}: a key on the command line "
        "shows in `ps`",
    )
    parser.add_argument(
        "--api-key-stdin",
        action="store_true",
        default=False if default is None else default,
        help="read the API key from one line of standard input",
    )


def key_from_stdin(stdin: TextIO) -> str | None:
    """The key on the first line of `stdin` (None: an empty line or none)."""
    return stdin.readline().strip() or None
