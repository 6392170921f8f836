"""The typed async client of the contract server's API (API.md).

    async with ContractClient("https://desk.example", key) as client:
        page = await client.list_contracts(status=["active"], stale=True)

Every method answers core types (Contract, Task, Question, LoggedEvent) or the small
answer types of `sync.answers`; every failure is an `ApiError` (`ConnectionFailed` when
there was no answer). TLS certificates are verified unless `verify=False`. Reads, and
writes given an `idempotency_key`, are retried with backoff on connection failures and
502/503/504; other writes are sent once (see `sync.api_session`).

Contract, task and question calls live here; supervisor, batch, dashboard and event-log
calls in `sync.client_supervisor`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from core.api.contracts import (
    AnswerBody,
    AutoCompleteBody,
    CompletionCheckPublic,
    ContractCreate,
    ContractUpdate,
    DeliverableMarkBody,
    HealthPublic,
    PhaseChangeBody,
    QuestionCreate,
    ReadinessPublic,
    StatusChangeAnswer,
    StatusChangeBody,
    TaskCreate,
    TaskUpdate,
)
from core.api.supervisors import ExportPublic
from core.clock import iso
from core.config import ContractTimeoutConfig, config_from_wire
from core.inbox import InboxItem
from core.model import Contract, Question, Task
from core.wire import (
    contract_from_wire,
    inbox_item_from_wire,
    question_from_wire,
    task_from_wire,
)
from sync.answers import ContractDetail, ContractPage, EventPage, PhaseAnswer, read
from sync.api_session import ApiSession, request_body
from sync.client_supervisor import SupervisorCalls
from sync.errors import ApiError

__all__ = [
    "ApiError",
    "ContractClient",
    "ContractDetail",
    "ContractPage",
    "EventPage",
    "PhaseAnswer",
]

LONG_POLL_MARGIN = 5.0
MAX_WAIT = 60.0  # the server's longest long poll


def _csv(values: str | Sequence[str] | None) -> str | None:
    if values is None or isinstance(values, str):
        return values or None
    return ",".join(values) or None


class ContractClient(SupervisorCalls, ApiSession):
    """All of API.md's endpoints as typed async methods."""

    async def health(self) -> HealthPublic:
        """`GET /health` (no /api/v1 prefix): `{status, db}`."""
        return read(HealthPublic, await self._object("GET", "/health", api=False))

    async def server_config(self) -> ContractTimeoutConfig:
        """`GET /config`: the timing rules the server applies (its stale threshold, …)."""
        return config_from_wire(await self._object("GET", "/config"))

    # contracts --------------------------------------------------------------------------

    async def create_contract(
        self,
        name: str,
        contract_type: str,
        *,
        description: str | None = None,
        phase_config: Mapping[str, Any] | None = None,
        phase_guard: bool = True,
        auto_complete_enabled: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Contract:
        """`auto_complete_enabled` None: the server's `[contracts] auto_complete_enabled`."""
        body = request_body(
            ContractCreate,
            name=name,
            contract_type=contract_type,
            description=description,
            phase_config=dict(phase_config) if phase_config is not None else None,
            phase_guard=phase_guard,
            auto_complete_enabled=auto_complete_enabled,
        )
        wire = await self._object("POST", "/contracts", body=body, idempotency_key=idempotency_key)
        return contract_from_wire(wire)

    async def list_contracts(
        self,
        *,
        status: str | Sequence[str] | None = None,
        phase: str | None = None,
        stale: bool = False,
        threshold: str | None = None,
        waiting: bool = False,
        limit: int = 100,
        offset: int = 0,
        updated_since: datetime | str | None = None,
    ) -> ContractPage:
        """One page, most recent activity first. `threshold` ("30m") only counts with
        `stale=True` (the server refuses it otherwise)."""
        since = iso(updated_since) if isinstance(updated_since, datetime) else updated_since
        params = {
            "status": _csv(status),
            "phase": phase,
            "stale": stale,
            "threshold": threshold if stale else None,
            "waiting": waiting,
            "limit": limit,
            "offset": offset,
            "updatedSince": since,
        }
        wire = await self._object("GET", "/contracts", params=params)
        contracts = [contract_from_wire(c) for c in wire.get("contracts") or []]
        total = wire.get("total")
        return ContractPage(contracts, total if isinstance(total, int) else len(contracts))

    async def get_contract(self, contract_id: str) -> ContractDetail:
        return ContractDetail.from_wire(await self._object("GET", f"/contracts/{contract_id}"))

    async def update_contract(
        self,
        contract_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        phase_guard: bool | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Contract:
        body = request_body(
            ContractUpdate,
            name=name,
            description=description,
            phase_guard=phase_guard,
            expected_version=expected_version,
        )
        wire = await self._object(
            "PATCH", f"/contracts/{contract_id}", body=body, idempotency_key=idempotency_key
        )
        return contract_from_wire(wire)

    async def delete_contract(
        self, contract_id: str, *, idempotency_key: str | None = None
    ) -> None:
        """Archived contracts only; others answer 400 INVALID_TRANSITION."""
        await self._call("DELETE", f"/contracts/{contract_id}", idempotency_key=idempotency_key)

    async def change_status(
        self,
        contract_id: str,
        target_status: str,
        *,
        reason: str | None = None,
        blocker: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> StatusChangeAnswer:
        """`{success, previousStatus, newStatus, rejectionReason, version}`."""
        body = request_body(
            StatusChangeBody,
            target_status=target_status,
            reason=reason,
            blocker=blocker,
            expected_version=expected_version,
        )
        wire = await self._object(
            "POST", f"/contracts/{contract_id}/status", body=body, idempotency_key=idempotency_key
        )
        return read(StatusChangeAnswer, wire)

    async def change_phase(
        self,
        contract_id: str,
        phase: str,
        *,
        confirmed: bool = False,
        feedback: str | None = None,
        comment: str | None = None,
        expected_version: int | None = None,
        force: bool = False,
        transition_id: str | None = None,
        evidence_digest: str | None = None,
        idempotency_key: str | None = None,
    ) -> PhaseAnswer:
        """Advance (or move) the phase. On a guarded contract without `confirmed` the answer
        is kind "requires_confirmation" (the contract now waits for a reviewer).

        `transition_id` and `evidence_digest` (the contract's `pendingConfirmation`) bind a
        decision to the request the reviewer saw: it holds whatever else changed, and fails
        with 409 EVIDENCE_CHANGED or REQUEST_SUPERSEDED when that request changed."""
        body = request_body(
            PhaseChangeBody,
            phase=phase,
            confirmed=confirmed,
            feedback=feedback,
            comment=comment,
            expected_version=expected_version,
            force=force,
            transition_id=transition_id,
            evidence_digest=evidence_digest,
        )
        wire = await self._object(
            "POST", f"/contracts/{contract_id}/phase", body=body, idempotency_key=idempotency_key
        )
        return PhaseAnswer.from_wire(wire)

    async def phase_readiness(self, contract_id: str) -> ReadinessPublic:
        """`{phase, ready, missing, auto_advance_enabled}`."""
        wire = await self._object("GET", f"/contracts/{contract_id}/phase-readiness")
        return read(ReadinessPublic, wire)

    async def check_completion(self, contract_id: str) -> CompletionCheckPublic:
        """`{ready, would_complete, missing}`. A POST that changes nothing, so retried."""
        path = f"/contracts/{contract_id}/check-completion"
        return read(CompletionCheckPublic, await self._object("POST", path, safe=True))

    async def set_auto_complete(
        self, contract_id: str, enabled: bool, *, idempotency_key: str | None = None
    ) -> Contract:
        wire = await self._object(
            "PUT",
            f"/contracts/{contract_id}/auto-complete",
            body=request_body(AutoCompleteBody, enabled=enabled),
            idempotency_key=idempotency_key,
        )
        return contract_from_wire(wire)

    async def mark_deliverable(
        self,
        contract_id: str,
        deliverable_id: str,
        *,
        phase: str | None = None,
        url: str | None = None,
        summary: str | None = None,
        idempotency_key: str | None = None,
    ) -> Contract:
        """Record a deliverable, with where it lives (`url`) and what it says (`summary`)."""
        wire = await self._object(
            "POST",
            f"/contracts/{contract_id}/deliverables",
            body=request_body(
                DeliverableMarkBody,
                deliverable_id=deliverable_id,
                phase=phase,
                url=url,
                summary=summary,
            ),
            idempotency_key=idempotency_key,
        )
        return contract_from_wire(wire)

    # tasks ------------------------------------------------------------------------------

    async def create_task(
        self,
        contract_id: str,
        name: str,
        *,
        is_supervisor: bool = False,
        idempotency_key: str | None = None,
    ) -> Task:
        wire = await self._object(
            "POST",
            f"/contracts/{contract_id}/tasks",
            body=request_body(TaskCreate, name=name, is_supervisor=is_supervisor),
            idempotency_key=idempotency_key,
        )
        return task_from_wire(wire)

    async def update_task(
        self, contract_id: str, task_id: str, status: str, *, idempotency_key: str | None = None
    ) -> Task:
        wire = await self._object(
            "PATCH",
            f"/contracts/{contract_id}/tasks/{task_id}",
            body=request_body(TaskUpdate, status=status),
            idempotency_key=idempotency_key,
        )
        return task_from_wire(wire)

    # questions --------------------------------------------------------------------------

    async def ask_question(
        self,
        contract_id: str,
        question: str,
        question_type: str,
        *,
        choices: Sequence[str] | None = None,
        idempotency_key: str | None = None,
    ) -> Question:
        body = request_body(
            QuestionCreate,
            question=question,
            question_type=question_type,
            choices=list(choices) if choices is not None else None,
        )
        wire = await self._object(
            "POST",
            f"/contracts/{contract_id}/questions",
            body=body,
            idempotency_key=idempotency_key,
        )
        return question_from_wire(wire)

    async def list_questions(
        self, *, status: str | None = None, contract_id: str | None = None
    ) -> list[Question]:
        wire = await self._object(
            "GET", "/questions", params={"status": status, "contractId": contract_id}
        )
        return [question_from_wire(q) for q in wire.get("questions") or []]

    async def get_question(self, question_id: str, *, wait: float | None = None) -> Question:
        """The question; with `wait` (cut to 60 s) the server holds the answer until it is
        no longer pending or the wait is over, so the read timeout is stretched to match."""
        wait = min(wait, MAX_WAIT) if wait is not None else None
        timeout = self.timeout + wait + LONG_POLL_MARGIN if wait else None
        wire = await self._object(
            "GET", f"/questions/{question_id}", params={"wait": wait}, read_timeout=timeout
        )
        return question_from_wire(wire)

    async def answer_question(
        self, question_id: str, answer: str, *, idempotency_key: str | None = None
    ) -> Question:
        wire = await self._object(
            "POST",
            f"/questions/{question_id}/answer",
            body=request_body(AnswerBody, answer=answer),
            idempotency_key=idempotency_key,
        )
        return question_from_wire(wire)

    # inbox ------------------------------------------------------------------------------

    async def inbox(self, *, include_snoozed: bool = False) -> list[InboxItem]:
        """`GET /inbox`: the items waiting on the key's owner, oldest first."""
        params = {"includeSnoozed": "true"} if include_snoozed else None
        wire = await self._object("GET", "/inbox", params=params)
        return [inbox_item_from_wire(item) for item in wire.get("items") or []]

    async def snooze_item(
        self, item_id: str, until: datetime, *, idempotency_key: str | None = None
    ) -> InboxItem:
        """`POST /inbox/{id}/snooze`: hide the item until `until` (or until it changes)."""
        body = {"until": iso(until)}
        return await self._mark_item("POST", item_id, "snooze", body, idempotency_key)

    async def unsnooze_item(self, item_id: str, *, idempotency_key: str | None = None) -> InboxItem:
        return await self._mark_item("DELETE", item_id, "snooze", None, idempotency_key)

    async def claim_item(self, item_id: str, *, idempotency_key: str | None = None) -> InboxItem:
        """`POST /inbox/{id}/claim`: the key's person is on it (every reviewer sees it)."""
        return await self._mark_item("POST", item_id, "claim", None, idempotency_key)

    async def unclaim_item(self, item_id: str, *, idempotency_key: str | None = None) -> InboxItem:
        return await self._mark_item("DELETE", item_id, "claim", None, idempotency_key)

    async def _mark_item(
        self,
        method: str,
        item_id: str,
        mark: str,
        body: dict[str, Any] | None,
        idempotency_key: str | None,
    ) -> InboxItem:
        # Ids hold ':' (kept) and phase names (anything else is escaped).
        path = f"/inbox/{quote(item_id, safe=':')}/{mark}"
        wire = await self._object(method, path, body=body, idempotency_key=idempotency_key)
        return inbox_item_from_wire(wire)

    # event log --------------------------------------------------------------------------

    async def events(
        self, *, after: int = 0, limit: int = 1000, contract_id: str | None = None
    ) -> EventPage:
        """Logged events with seq > `after`, oldest first (one page of at most `limit`)."""
        params = {"after": after, "limit": limit, "contractId": contract_id}
        return EventPage.from_wire(await self._object("GET", "/events", params=params), after)

    async def contract_events(
        self, contract_id: str, *, after: int = 0, limit: int = 1000
    ) -> EventPage:
        params = {"after": after, "limit": limit}
        wire = await self._object("GET", f"/contracts/{contract_id}/events", params=params)
        return EventPage.from_wire(wire, after)

    async def export(self, contract_id: str) -> ExportPublic:
        """`{contract, tasks, questions, events, supervisor, heartbeats}` as the server wrote it."""
        return read(ExportPublic, await self._object("GET", f"/contracts/{contract_id}/export"))
