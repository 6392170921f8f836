"""`contracts` commands on single contracts and questions: list, show, health, export,
pause, resume, restart-supervisor, advance, questions, answer; and login.

Every write is sent with a fresh Idempotency-Key, so the client may safely retry it when the
connection drops.
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.clock import iso
from core.config import format_duration, parse_duration
from core.errors import DomainError
from core.events import LoggedEvent
from core.evidence import evidence_of
from core.feedback import Delivery
from core.model import Contract
from core.status import ContractStatus
from core.timing import stale_duration
from sync import render
from sync.answers import ContractDetail
from sync.cli_session import CliSession, ConfirmationRefused, UsageError
from sync.client import ContractClient
from sync.config import ENV_KEY, ENV_URL, ConfigError, normalize_url, read_config_file, store_login

MAX_PAGE = 1000  # the server's largest page


def new_key() -> str:
    return uuid.uuid4().hex


def parse_statuses(text: str | None) -> list[str] | None:
    if not text:
        return None
    try:
        return [ContractStatus.parse(part).value for part in text.split(",") if part.strip()]
    except DomainError as error:
        raise UsageError(error.message) from None


def _duration_check(text: str) -> str:
    try:
        parse_duration(text)
    except DomainError as error:
        raise UsageError(error.message) from None
    return text


# login ----------------------------------------------------------------------------------


async def login(session: CliSession) -> int:
    """Check the key on the server (unless --no-check), then keep it (see sync.config).

    The key: --api-key, $CONTRACTS_API_KEY, else typed at a hidden prompt (or one line of
    stdin without a terminal, for `echo $KEY | contracts login`).
    """
    args = session.args
    url = args.api_url or os.environ.get(ENV_URL) or read_config_file().get("api_url")
    if not isinstance(url, str) or not url:
        raise UsageError("give the server with --api-url URL")
    try:
        url = normalize_url(url)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    key = session.given_key() or os.environ.get(ENV_KEY) or _read_key(session)
    if not args.no_check:
        async with ContractClient(url, key, timeout=args.timeout) as client:
            await client.list_contracts(limit=1)  # 401 for a wrong key, 1 for no server
    where = store_login(url, key)
    session.warn(f"Logged in to {url}; key stored in {where}")
    return 0


def _read_key(session: CliSession) -> str:
    interactive = session.interactive
    key = getpass.getpass("API key: ") if interactive else session.stdin.readline().strip()
    if not key:
        raise UsageError("no API key given (--api-key KEY, or type it when asked)")
    return key


# reading --------------------------------------------------------------------------------


async def list_contracts(session: CliSession) -> int:
    """Without `--threshold`, `--stale` uses the server's configured stale threshold."""
    args = session.args
    if args.threshold is not None:
        if not args.stale:
            raise UsageError("--threshold only applies with --stale")
        _duration_check(args.threshold)
    async with session.client() as client:
        contracts, total = await _contracts_upto(client, args)
    if args.format == "json":
        session.print(render.contracts_json(contracts))
    elif args.format == "compact":
        if contracts:
            session.print(render.contracts_compact(contracts, session.now(), session.width))
    else:
        session.print(render.contracts_table(contracts, session.now(), session.width))
        if total > len(contracts):
            session.warn(f"({len(contracts)} of {total} shown; use -n to see more)")
    return 0


async def _contracts_upto(client: ContractClient, args: Any) -> tuple[list[Contract], int]:
    """Up to `args.limit` contracts, in pages of at most the server's 1000."""
    found: list[Contract] = []
    while True:
        page = await client.list_contracts(
            status=parse_statuses(args.status),
            phase=args.phase,
            stale=args.stale,
            threshold=args.threshold,
            waiting=args.waiting,
            limit=min(MAX_PAGE, args.limit - len(found)),
            offset=len(found),
        )
        found += page.contracts
        if not page.contracts or len(found) >= min(args.limit, page.total):
            return found, page.total


async def _all_events(client: ContractClient, contract_id: str) -> list[LoggedEvent]:
    events: list[LoggedEvent] = []
    after = 0
    while True:
        page = await client.contract_events(contract_id, after=after, limit=MAX_PAGE)
        events += page.events
        if len(page.events) < MAX_PAGE:
            return events
        after = page.last_seq


async def show(session: CliSession) -> int:
    args = session.args
    async with session.client() as client:
        contract_id = await session.contract_id(client, args.id)
        detail = await client.get_contract(contract_id)
        events = await _all_events(client, contract_id) if args.verbose else None
    if args.format == "json":
        body = dict(detail.raw)
        if events is not None:
            body["events"] = [e.to_wire() for e in events]
        session.print(render.dumps(body))
        return 0
    width = session.width
    session.print(render.contract_summary(detail.contract, session.now(), width))
    if detail.contract.description:
        session.print(f"\n{detail.contract.description}")
    _show_readiness(session, detail)
    _show_feedback(session, detail)
    if args.verbose:
        _show_verbose(
            session,
            detail,
            [render.event_text(e, width) for e in events[-20:]] if events else [],
        )
    return 0


def _show_readiness(session: CliSession, detail: ContractDetail) -> None:
    contract = detail.contract
    session.print(f"\nDeliverables of {contract.phase}:")
    session.print(render.deliverables_review(contract, contract.phase))
    missing = detail.readiness.missing if detail.readiness else []
    if missing:
        session.print("Missing: " + "; ".join(str(m) for m in missing))


DELIVERY_TEXT = {
    Delivery.DELIVERED: "delivered",
    Delivery.NOT_YET_PICKED_UP: "not yet picked up",
}


def _show_feedback(session: CliSession, detail: ContractDetail) -> None:
    """The feedback thread: each request, whether the supervisor has it, and its reply."""
    if not detail.feedback:
        return
    session.print("\nFeedback:")
    for entry in detail.feedback:
        when = iso(entry.requested_at)
        session.print(
            f"  {when}  {entry.requested_by} ({entry.phase or '-'}): {entry.feedback}"
            f"  [{DELIVERY_TEXT[entry.delivery]}]"
        )
        if entry.reply is not None:
            session.print(f"    ↳ supervisor {entry.reply.kind}: {entry.reply.text}")


def _show_verbose(session: CliSession, detail: ContractDetail, event_lines: list[str]) -> None:
    session.print("\nTasks:")
    for task in detail.tasks:
        mark = " (supervisor)" if task.is_supervisor else ""
        session.print(f"  {render.short(task.id)}  {task.status.value:<8} {task.name}{mark}")
    if not detail.tasks:
        session.print("  -")
    session.print("\nPending questions:")
    for q in detail.pending_questions:
        session.print(f"  {render.short(q.id)}  {render.fit(q.question, session.width - 12)}")
    if not detail.pending_questions:
        session.print("  -")
    session.print("\nSupervisor:")
    supervisor = detail.supervisor.model_dump(mode="json") if detail.supervisor else None
    session.print(render.key_values((supervisor or {"supervisor": None}).items()))
    session.print("\nRecent events:")
    for line in event_lines:
        session.print(f"  {line}")


async def health(session: CliSession) -> int:
    """Supervisor state, last heartbeat, alive, stale, readiness, what it waits for.

    Exit 1 when unhealthy: no supervisor or a silent one on an open contract, stale,
    blocked or failed.
    """
    args = session.args
    given = parse_duration(_duration_check(args.threshold)) if args.threshold else None
    async with session.client() as client:
        detail = await client.get_contract(await session.contract_id(client, args.id))
        # Stale by the server's rule unless told otherwise: the same verdict as its list.
        threshold = given or (await client.server_config()).stale_threshold
    report = health_report(detail, session.now(), threshold)
    if args.format == "json":
        session.print(render.dumps(report))
    else:
        pairs = [(k.replace("_", " ").capitalize(), v) for k, v in report.items()]
        session.print(render.key_values(pairs, session.width))
    return 0 if report["healthy"] else 1


def health_report(detail: ContractDetail, now: datetime, threshold: timedelta) -> dict[str, Any]:
    """The `health` command's findings; `stale` by core's rule (active and idle too long)."""
    contract, supervisor, readiness = detail.contract, detail.supervisor, detail.readiness
    stale = stale_duration(contract, now, threshold) is not None
    problems = _health_problems(detail, stale)
    waits = [contract.waiting_for.value] if contract.waiting_for else []
    waits += [f"question: {q.question}" for q in detail.pending_questions]
    return {
        "id": contract.id,
        "status": contract.status.value,
        "phase": contract.phase,
        "supervisor_state": supervisor.state if supervisor else None,
        "last_heartbeat": iso(supervisor.last_heartbeat) if supervisor else None,
        "alive": bool(supervisor and supervisor.alive),
        "stale": stale,
        "stale_threshold": format_duration(threshold),
        "ready": readiness.ready if readiness else None,
        "missing": readiness.missing if readiness else [],
        "waiting_for": waits,
        "healthy": not problems,
        "problems": problems,
    }


def _health_problems(detail: ContractDetail, stale: bool) -> list[str]:
    contract = detail.contract
    if contract.status.is_done:
        return []
    problems = []
    if contract.status is ContractStatus.FAILED:
        problems.append(f"failed: {contract.failure_reason or 'no reason given'}")
    if contract.status is ContractStatus.BLOCKED:
        problems.append(f"blocked: {contract.blocked_reason or 'no reason given'}")
    if detail.supervisor is None:
        problems.append("no supervisor")
    elif not detail.supervisor.alive:
        problems.append("supervisor not alive (no recent heartbeat)")
    if stale:
        problems.append("stale: no activity for longer than the threshold")
    return problems


async def export(session: CliSession) -> int:
    args = session.args
    async with session.client() as client:
        exported = await client.export(await session.contract_id(client, args.id))
    # Printed as the server wrote it: fields it did not send are not added.
    text = json.dumps(
        exported.model_dump(mode="json", exclude_unset=True), indent=2, ensure_ascii=False
    )
    if args.output in (None, "-"):
        session.print(text)
        return 0
    _write(Path(args.output), text + "\n")
    session.warn(f"Exported {exported.contract.id} to {args.output}")
    return 0


def _write(path: Path, text: str) -> None:
    """Write an export, created 0600: it holds a contract's whole history."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


# changing -------------------------------------------------------------------------------


async def pause(session: CliSession) -> int:
    return await _move(session, "paused", session.args.reason)


async def resume(session: CliSession) -> int:
    return await _move(session, "active", None)


async def _move(session: CliSession, target: str, reason: str | None) -> int:
    async with session.client() as client:
        contract_id = await session.contract_id(client, session.args.id)
        answer = await client.change_status(
            contract_id, target, reason=reason, idempotency_key=new_key()
        )
    session.print(f"{contract_id}: {answer.previous_status} → {answer.new_status}")
    return 0


async def restart_supervisor(session: CliSession) -> int:
    async with session.client() as client:
        contract_id = await session.contract_id(client, session.args.id)
        await client.restart_supervisor(contract_id, idempotency_key=new_key())
    session.print(f"{contract_id}: supervisor restart requested")
    return 0


async def advance(session: CliSession) -> int:
    """Move to `--phase`. A guarded contract needs the reviewer's confirmation: `--yes`, or
    "y" on a terminal after reading the deliverables review; otherwise exit 3, unchanged.
    `--force` is the reviewer's forced advance of §5.4: it confirms the guard by itself and
    skips missing deliverables; the `phase_changed` event records it as forced."""
    args = session.args
    async with session.client() as client:
        contract_id = await session.contract_id(client, args.id)
        detail = await client.get_contract(contract_id)
        contract = detail.contract
        if contract.phase_guard and not (args.yes or args.force):
            _review(session, detail, args.phase)
            session.confirm(
                "Confirm this phase change?",
                refusal="the phase guard needs a confirmation: rerun with --yes to confirm",
            )
        # Bound to the request and evidence just reviewed when one is open for this phase
        # (a busy contract then never conflicts over tasks or heartbeats), else the version.
        seen = evidence_of(contract)
        bound = seen is not None and bool(seen.transition_id) and seen.next_phase == args.phase
        answer = await client.change_phase(
            contract_id,
            args.phase,
            confirmed=contract.phase_guard,
            force=args.force,
            expected_version=None if bound else contract.version,
            transition_id=seen.transition_id if bound and seen else None,
            evidence_digest=seen.digest if bound and seen else None,
            idempotency_key=new_key(),
        )
    if answer.contract is None:
        raise ConfirmationRefused(f"the server answered {answer.kind}: {answer.body}")
    session.print(f"{contract_id}: phase {contract.phase} → {answer.contract.phase}")
    return 0


def _review(session: CliSession, detail: ContractDetail, phase: str) -> None:
    """What a reviewer reads before confirming a guarded phase change."""
    contract = detail.contract
    session.print(f"Advance {contract.name} ({contract.id}): {contract.phase} → {phase}")
    _show_readiness(session, detail)


async def questions(session: CliSession) -> int:
    args = session.args
    async with session.client() as client:
        contract_id = await session.contract_id(client, args.contract) if args.contract else None
        found = await client.list_questions(
            status=None if args.all else "pending", contract_id=contract_id
        )
    if args.format == "json":
        session.print(render.questions_json(found))
    elif args.format == "compact":
        if found:
            session.print(render.questions_compact(found, session.width))
    else:
        session.print(render.questions_table(found, session.now(), session.width))
    return 0


async def answer(session: CliSession) -> int:
    args = session.args
    async with session.client() as client:
        question_id = await session.question_id(client, args.qid)
        answered = await client.answer_question(question_id, args.answer, idempotency_key=new_key())
    session.print(f"{answered.id}: answered {answered.answer!r}")
    return 0
