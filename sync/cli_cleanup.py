"""`contracts cleanup` and `contracts batch`: the batch operations, previewed and confirmed.

Both first ask the server for a dry run and show what would change. `cleanup --worktrees`
lists the worktrees daemons reported for finished or archived contracts and asks each
contract's daemon to remove them (one `worktree_cleanup_requested` event per worktree);
`--all` archives, cleans worktrees, then deletes, in that order, so the worktrees of the
contracts about to be deleted are asked for first. A real run then needs
`--force` (cleanup) or `--yes` (batch), or a "y" on a terminal; without a terminal they
refuse with exit 3 and change nothing. Every archive and deletion that happened is logged
with the contract's id and name, to stderr and to `cleanup.log` in the user log directory.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.api.batch import BatchResult
from core.clock import iso
from core.config import parse_duration
from core.errors import DomainError
from core.worktrees import ReportedWorktree
from sync import render
from sync.cli_contracts import parse_statuses
from sync.cli_session import CliSession, UsageError
from sync.client import ContractClient
from sync.config import log_dir
from sync.errors import ApiError

LOG_FILE = "cleanup.log"
ARCHIVE_STATUSES = ("completed", "failed")
VERBS = {
    "archive_old": "archive",
    "pause_all": "pause",
    "resume_all": "resume",
    "cleanup_archived": "delete",
    "restart_stale": "restart the supervisor of",
}
LOGGED = {"archive_old": "archived", "cleanup_archived": "deleted"}


@dataclass(frozen=True, slots=True)
class BatchCall:
    """One batch operation with its parameters (as `ContractClient.batch` takes them)."""

    operation: str
    older_than_hours: float | None = None
    status_filter: Sequence[str] | None = None
    reason: str | None = None
    stale_threshold_minutes: float | None = None

    async def send(
        self, client: ContractClient, *, dry_run: bool, key: str | None = None
    ) -> BatchResult:
        return await client.batch(
            self.operation,
            older_than_hours=self.older_than_hours,
            status_filter=self.status_filter,
            reason=self.reason,
            stale_threshold_minutes=self.stale_threshold_minutes,
            dry_run=dry_run,
            idempotency_key=key,
        )


def _hours(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text).total_seconds() / 3600
    except DomainError as error:
        raise UsageError(error.message) from None


def _minutes(text: str | None) -> float | None:
    hours = _hours(text)
    return None if hours is None else hours * 60


# cleanup --------------------------------------------------------------------------------


def cleanup_calls(args: Any) -> list[BatchCall]:
    archive = args.archive or args.all
    delete = args.delete_archived or args.all
    if not (archive or delete or args.worktrees):
        raise UsageError(
            "choose what to clean up: --archive, --delete-archived, --worktrees or --all"
        )
    hours = _hours(args.older_than)
    calls = []
    if archive:
        calls.append(BatchCall("archive_old", hours, ARCHIVE_STATUSES))
    if delete:
        calls.append(BatchCall("cleanup_archived", hours))
    return calls


async def cleanup(session: CliSession) -> int:
    args = session.args
    calls = cleanup_calls(args)
    deleting = [c for c in calls if c.operation == "cleanup_archived"]
    first = [c for c in calls if c not in deleting]
    code = 0
    if first:
        code = await _run_calls(session, first, dry_run=args.dry_run, confirmed=args.force)
    if args.worktrees or args.all:
        cleaned = await clean_worktrees(session, dry_run=args.dry_run, confirmed=args.force)
        code = max(code, cleaned)
    if deleting:
        deleted = await _run_calls(session, deleting, dry_run=args.dry_run, confirmed=args.force)
        code = max(code, deleted)
    return code


async def clean_worktrees(session: CliSession, *, dry_run: bool, confirmed: bool) -> int:
    """List the worktrees of finished or archived contracts; ask, then request their removal."""
    async with session.client() as client:
        found = await client.worktrees(cleanable=True)
        if not found:
            session.print("worktrees: none reported for finished or archived contracts")
            return 0
        mark = " (dry run)" if dry_run else ""
        session.print(f"worktrees{mark}: {len(found)} reported for finished or archived contracts")
        for worktree in found:
            session.print(f"  {_worktree_line(worktree, session.width)}")
        if dry_run:
            return 0
        if not confirmed:
            session.confirm(
                f"Ask the daemons to remove {len(found)} worktree(s)?",
                refusal="worktree cleanup needs a confirmation: rerun with --force",
            )
        return await _request_removals(session, client, found)


def _worktree_line(worktree: ReportedWorktree, width: int) -> str:
    """The path in full (it is what gets removed); the contract's name where room is left."""
    line = f"{render.short(worktree.contract_id)}  {worktree.contract_status.value:<9} "
    line += worktree.path
    room = width - len(line) - 6
    return line + (f"  ({render.fit(worktree.contract_name, room)})" if room >= 10 else "")


async def _request_removals(
    session: CliSession, client: ContractClient, found: Sequence[ReportedWorktree]
) -> int:
    by_contract: dict[str, list[ReportedWorktree]] = {}
    for worktree in found:
        by_contract.setdefault(worktree.contract_id, []).append(worktree)
    failed, lines, now = False, [], iso(datetime.now().astimezone())
    for contract_id, trees in by_contract.items():
        try:
            requested = await client.request_worktree_cleanup(
                contract_id, [t.path for t in trees], idempotency_key=uuid.uuid4().hex
            )
        except ApiError as error:  # say which contract, go on with the others
            session.warn(f"worktrees of {contract_id}: {error.code}: {error.message}")
            failed = True
            continue
        name = trees[0].contract_name
        lines += [
            f"{now} requested removal of worktree {path} of contract {contract_id} ({name})"
            for path in requested
        ]
    for line in lines:
        session.warn(line)
    if lines:
        _append_log(session, lines)
    session.print(f"worktrees: removal of {len(lines)} worktree(s) requested from the daemons")
    return 1 if failed else 0


async def batch(session: CliSession) -> int:
    args = session.args
    call = BatchCall(
        args.operation,
        older_than_hours=_hours(args.older_than),
        status_filter=parse_statuses(args.status),
        reason=args.reason,
        stale_threshold_minutes=_minutes(args.stale_threshold),
    )
    return await _run_calls(session, [call], dry_run=args.dry_run, confirmed=args.yes)


async def _run_calls(
    session: CliSession, calls: Sequence[BatchCall], *, dry_run: bool, confirmed: bool
) -> int:
    failed = False
    async with session.client() as client:
        names = await _names(client)
        for call in calls:
            preview = await call.send(client, dry_run=True)
            _show(session, call, preview, names, done=False)
            if dry_run or not preview.affected_ids:
                continue
            if not confirmed:
                count = len(preview.affected_ids)
                session.confirm(
                    f"{VERBS[call.operation].capitalize()} {count} contract(s)?",
                    refusal=f"{call.operation} needs a confirmation: rerun with "
                    + ("--force" if session.args.command == "cleanup" else "--yes"),
                )
            result = await call.send(client, dry_run=False, key=uuid.uuid4().hex)
            _show(session, call, result, names, done=True)
            _log_changes(session, call, result, names)
            failed = failed or bool(result.errors)
    return 1 if failed else 0


async def _names(client: ContractClient) -> dict[str, str]:
    """Every contract's name by id, to show more than ids in previews and logs."""
    names: dict[str, str] = {}
    offset = 0
    while True:
        page = await client.list_contracts(limit=1000, offset=offset)
        names.update({c.id: c.name for c in page.contracts})
        offset += len(page.contracts)
        if not page.contracts or offset >= page.total:
            return names


def _show(
    session: CliSession,
    call: BatchCall,
    result: BatchResult,
    names: Mapping[str, str],
    *,
    done: bool,
) -> None:
    count = result.affected_count
    verb = VERBS.get(call.operation, call.operation)
    if done:
        head = f"{call.operation}: {count} contract(s) done"
    else:
        head = f"{call.operation} (dry run): would {verb} {count} contract(s)"
    session.print(head)
    for line in render.batch_lines(result, names):
        session.print(line)


def _log_changes(
    session: CliSession, call: BatchCall, result: BatchResult, names: Mapping[str, str]
) -> None:
    """Log each archive and deletion with the contract's id: stderr and the log file."""
    done = LOGGED.get(call.operation)
    if done is None:
        return
    now = iso(datetime.now().astimezone())
    lines = [
        f"{now} {done} contract {cid} ({names.get(cid, '?')}) by {call.operation}"
        for cid in result.affected_ids
    ]
    for line in lines:
        session.warn(line)
    if lines:
        _append_log(session, lines)


def _append_log(session: CliSession, lines: list[str]) -> None:
    path = log_dir() / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with Path(path).open("a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
    except OSError as error:
        session.warn(f"warning: cannot write the cleanup log {path}: {error}")
