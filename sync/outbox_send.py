"""Sending one outbox entry: the request for each kind of action, and reading the answer.

Every request carries the entry's idempotency key (so a resend after a lost answer is
replayed by the server, not applied again) and, where the endpoint checks it, the entry's
expected version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import ErrorCode
from sync.client import ContractClient
from sync.errors import ApiError
from sync.outbox_entry import CLAIM_KINDS, SNOOZE_KINDS, ActionKind, OutboxEntry
from sync.replica import Replica

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SentAnswer:
    body: dict[str, Any]  # the server's answer, for the entry's `result`
    version: int | None  # the contract version the action made, when the answer shows it


async def send_action(client: ContractClient, entry: OutboxEntry) -> SentAnswer:
    """One request for one entry, with its idempotency key and expected version."""
    p, cid, key = entry.payload, entry.contract_id or "", entry.idempotency_key
    kind = entry.kind
    expected = entry.expected_version
    if kind in (ActionKind.CONFIRM_PHASE, ActionKind.REJECT_PHASE):
        confirm = kind is ActionKind.CONFIRM_PHASE
        answer = await client.change_phase(
            cid,
            str(p["phase"]),
            confirmed=confirm,
            feedback=None if confirm else str(p.get("feedback") or ""),
            comment=p.get("comment"),
            expected_version=expected,
            transition_id=p.get("transition_id"),
            evidence_digest=p.get("evidence_digest") if confirm else None,
            idempotency_key=key,
        )
        return SentAnswer(answer.body, answer.version)
    if kind is ActionKind.CHANGE_STATUS:
        moved = await client.change_status(
            cid,
            str(p["target_status"]),
            reason=p.get("reason"),
            blocker=p.get("blocker"),
            expected_version=expected,
            idempotency_key=key,
        )
        return SentAnswer(moved.model_dump(mode="json"), moved.version)
    if kind is ActionKind.UPDATE_CONTRACT:
        contract = await client.update_contract(
            cid,
            name=p.get("name"),
            description=p.get("description"),
            phase_guard=p.get("phase_guard"),
            expected_version=expected,
            idempotency_key=key,
        )
        return SentAnswer(contract.to_wire(), contract.version)
    return await _send_unversioned(client, entry)


async def _send_unversioned(client: ContractClient, entry: OutboxEntry) -> SentAnswer:
    p, cid, key = entry.payload, entry.contract_id or "", entry.idempotency_key
    if entry.kind is ActionKind.ANSWER_QUESTION:
        question = await client.answer_question(
            str(p["question_id"]), str(p["answer"]), idempotency_key=key
        )
        return SentAnswer(question.to_wire(), None)
    if entry.kind is ActionKind.SET_AUTO_COMPLETE:
        contract = await client.set_auto_complete(cid, bool(p["enabled"]), idempotency_key=key)
        return SentAnswer(contract.to_wire(), None)
    if entry.kind is ActionKind.RESTART_SUPERVISOR:
        await client.restart_supervisor(cid, idempotency_key=key)
        return SentAnswer({}, None)
    if entry.kind in SNOOZE_KINDS | CLAIM_KINDS:
        return await _send_mark(client, entry)
    options = {k: v for k, v in p.items() if k != "operation"}
    done = await client.batch(str(p["operation"]), idempotency_key=key, **options)
    return SentAnswer(done.model_dump(mode="json"), None)


async def _send_mark(client: ContractClient, entry: OutboxEntry) -> SentAnswer:
    """A snooze or claim of an inbox item (the server answers the item as it now is)."""
    p, key = entry.payload, entry.idempotency_key
    item_id = str(p["item_id"])
    if entry.kind is ActionKind.SNOOZE_ITEM:
        until = datetime.fromisoformat(str(p["until"]).replace("Z", "+00:00"))
        item = await client.snooze_item(item_id, until, idempotency_key=key)
    elif entry.kind is ActionKind.UNSNOOZE_ITEM:
        item = await client.unsnooze_item(item_id, idempotency_key=key)
    elif entry.kind is ActionKind.CLAIM_ITEM:
        item = await client.claim_item(item_id, idempotency_key=key)
    else:
        item = await client.unclaim_item(item_id, idempotency_key=key)
    return SentAnswer(item.to_wire(), None)


def is_transient(error: ApiError) -> bool:
    """No verdict on the action itself: the key, a proxy or the server had a problem."""
    if error.code is ErrorCode.UNAUTHORIZED:
        return True
    if error.code is ErrorCode.UNKNOWN and error.status in (408, 429):
        return True  # a proxy's timeout or rate limit (not the API's body)
    return error.status >= 500 and error.code is not ErrorCode.SUPERVISOR_DEAD


async def current_contract(
    client: ContractClient, replica: Replica, contract_id: str
) -> dict[str, Any] | None:
    """The contract as the server has it now (also stored in the replica), if reachable."""
    try:
        detail = await client.get_contract(contract_id)
    except ApiError as error:
        log.info("could not fetch contract %s after a conflict: %s", contract_id, error)
        return None
    await replica.put_contracts([detail.contract])
    return detail.contract.to_wire()
