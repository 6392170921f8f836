"""What every `contracts` command shares: settings, the API client, output, confirmation.

Exit codes (all commands): 0 success, 1 server or connection error, 2 usage error,
3 confirmation required or refused. Commands raise `UsageError` / `ConfirmationRefused`
and let `ApiError` through; `sync.cli.main` turns each into its message and exit code.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime
from enum import IntEnum
from typing import TextIO

import httpx

from core.clock import SystemClock
from core.key_options import key_from_stdin
from sync.client import ContractClient
from sync.config import ConfigError, Settings, resolve
from sync.errors import ApiError

FULL_ID_LENGTH = 32  # a UUID without dashes; anything shorter may be a prefix


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the server said no, or could not be reached
    USAGE = 2  # bad arguments or configuration
    CONFIRMATION = 3  # a confirmation was required and not given


class UsageError(Exception):
    """Bad arguments or configuration: exit 2."""


class ConfirmationRefused(Exception):
    """A change needed a confirmation that was refused or could not be asked: exit 3."""


class CliSession:
    """One command's run: its arguments, settings, streams and the client to the server."""

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
        stdin: TextIO | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network (tests: httpx.MockTransport)."""
        self.args = args
        self.transport = transport
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stdin = stdin or sys.stdin
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = resolve(self.args.api_url, self.given_key())
            except ConfigError as error:
                raise UsageError(str(error)) from None
        return self._settings

    def given_key(self) -> str | None:
        """--api-key-stdin's line, else --api-key (resolve() looks further)."""
        if getattr(self.args, "api_key_stdin", False):
            line = key_from_stdin(self.stdin)
            if line is None:
                raise UsageError("--api-key-stdin: standard input held no key")
            return line
        given: str | None = self.args.api_key
        return given

    def client(self) -> ContractClient:
        settings = self.settings
        return ContractClient(
            settings.api_url,
            settings.api_key,
            timeout=self.args.timeout,
            verify=self.verify,
            transport=self.transport,
        )

    @property
    def verify(self) -> bool | str:
        """TLS verification: on, off (--insecure) or against a CA bundle (--ca-bundle)."""
        if self.args.insecure:
            return False
        return str(self.args.ca_bundle) if self.args.ca_bundle else True

    @property
    def width(self) -> int:
        return shutil.get_terminal_size((80, 24)).columns

    def now(self) -> datetime:
        return SystemClock().now()

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    @property
    def interactive(self) -> bool:
        """Whether a person can answer a question (stdin is a terminal)."""
        try:
            return self.stdin.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    def confirm(self, question: str, *, refusal: str) -> None:
        """Ask a yes/no question on the terminal; no terminal, or no "y", raises
        ConfirmationRefused(`refusal`) so nothing changes."""
        if not self.interactive:
            raise ConfirmationRefused(f"{refusal} (no terminal to confirm on)")
        self.err.write(f"{question} [y/N] ")
        self.err.flush()
        answer = self.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise ConfirmationRefused(f"{refusal} (not confirmed)")

    async def contract_id(self, client: ContractClient, ident: str) -> str:
        """A full contract id from a full id or a unique prefix (as tables show)."""
        if len(ident.replace("-", "")) >= FULL_ID_LENGTH:
            return ident
        found: list[str] = []
        offset = 0
        while True:
            page = await client.list_contracts(limit=1000, offset=offset)
            found += [c.id for c in page.contracts if c.id.startswith(ident)]
            offset += len(page.contracts)
            if not page.contracts or offset >= page.total:
                break
        return _one(found, ident, "contract", "CONTRACT_NOT_FOUND")

    async def question_id(self, client: ContractClient, ident: str) -> str:
        if len(ident.replace("-", "")) >= FULL_ID_LENGTH:
            return ident
        questions = await client.list_questions()
        found = [q.id for q in questions if q.id.startswith(ident)]
        return _one(found, ident, "question", "QUESTION_NOT_FOUND")


def _one(found: list[str], ident: str, kind: str, code: str) -> str:
    if len(found) == 1:
        return found[0]
    if not found:
        raise ApiError(404, code, f"No {kind} with id or id prefix {ident!r}")
    raise UsageError(f"{ident!r} matches {len(found)} {kind}s; give more of the id")
