"""Contracts: create, list, read, update, delete, status, phase, readiness, settings, work."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from core.api.answers import phase_answer, status_answer
from core.api.contracts import (
    AutoCompleteBody,
    CompletionCheckPublic,
    ContractCreate,
    ContractDetailPublic,
    ContractListPublic,
    ContractListQuery,
    ContractPublic,
    ContractUpdate,
    DeliverableMarkBody,
    PhaseChangeAnswer,
    PhaseChangeBody,
    ReadinessPublic,
    StatusChangeAnswer,
    StatusChangeBody,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)
from core.clock import parse_iso
from core.config import parse_duration
from core.errors import SupervisorNotFound, ValidationFailed
from core.evidence import evidence_of
from core.gates import check_phase_readiness
from core.outcome import CompletionChecked
from core.phase_change import PhaseChangeRequest
from core.progress import auto_advance_enabled
from core.status import ContractStatus
from core.store import feedback_log, queries
from core.store.queries import ContractDetail, ContractFilter
from server.context import ServerContext
from server.deps import (
    ActorDep,
    AutoCompleteDep,
    CreatorDep,
    CtxDep,
    DeleterDep,
    EditorDep,
    feature,
)
from server.responses import OrjsonResponse
from server.routes.publishing import committed

router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"])

Json = dict[str, Any]

# Every answer is built by the domain's writers (`Contract.to_wire` & co., which the models
# of core/api round-trip key for key) and sent as it is: FastAPI does not validate a
# Response a route returns, so `response_model` documents the answer without costing a
# second pass over it.


def _statuses(text: str | None) -> list[ContractStatus] | None:
    if text is None or not text.strip():
        return None
    return [ContractStatus.parse(part) for part in text.split(",") if part.strip()]


def _filter(query: ContractListQuery, default_threshold: timedelta) -> ContractFilter:
    if query.threshold is not None and not query.stale:
        raise ValidationFailed("'threshold' is only used with stale=true")
    stale_after = None
    if query.stale:
        stale_after = parse_duration(query.threshold) if query.threshold else default_threshold
    return ContractFilter(
        statuses=_statuses(query.status),
        phase=query.phase,
        stale_threshold=stale_after,
        waiting=query.waiting,
        updated_since=_parse_time(query.updated_since),
        limit=query.limit,
        offset=query.offset,
    )


@router.post("", status_code=201, response_model=ContractPublic)
async def create_contract(body: ContractCreate, ctx: CtxDep, actor: CreatorDep) -> OrjsonResponse:
    applied = await ctx.repo.create_contract(
        actor,
        body.name,
        body.contract_type,
        description=body.description,
        phase_config=body.phase_config,
        phase_guard=body.phase_guard,
        auto_complete_enabled=(
            ctx.config.auto_complete_enabled
            if body.auto_complete_enabled is None
            else body.auto_complete_enabled
        ),
    )
    committed(ctx, applied)
    return OrjsonResponse(applied.contract.to_wire(), status_code=201)


@router.get("", response_class=OrjsonResponse, response_model=ContractListPublic)
async def list_contracts(
    query: Annotated[ContractListQuery, Query()], ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    where = _filter(query, ctx.config.stale_threshold)
    page = await queries.list_contracts(ctx.store, actor.owner, where, now=ctx.clock.now())
    wire = {"contracts": [c.to_wire() for c in page.contracts], "total": page.total}
    return OrjsonResponse(wire)


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        raise ValidationFailed(
            f"'updatedSince' must be an ISO 8601 time, got {text!r}",
            details={"field": "updatedSince"},
        ) from None


async def _supervisor(ctx: ServerContext, contract_id: str, owner: str) -> Json | None:
    try:
        status = await queries.supervisor_status(
            ctx.store,
            contract_id,
            owner,
            now=ctx.clock.now(),
            heartbeat_timeout=ctx.config.heartbeat_timeout,
        )
    except SupervisorNotFound:
        return None
    return status.to_wire()


def _readiness_wire(ctx: ServerContext, detail: ContractDetail) -> Json:
    readiness = check_phase_readiness(detail.contract, detail.tasks)
    return readiness.to_wire(auto_advance_enabled(detail.contract, ctx.repo.progress))


def _detail_wire(ctx: ServerContext, detail: ContractDetail) -> Json:
    evidence = evidence_of(detail.contract)
    return {
        **detail.contract.to_wire(),
        "tasks": [t.to_wire() for t in detail.tasks],
        "pendingQuestions": [q.to_wire() for q in detail.pending_questions],
        "readiness": _readiness_wire(ctx, detail),
        # What a reviewer confirms (with its digest), null when nothing is pending.
        "evidence": evidence.to_wire() if evidence is not None else None,
    }


@router.get("/{contract_id}", response_model=ContractDetailPublic)
async def get_contract(contract_id: str, ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    detail = await queries.get_contract(ctx.store, contract_id, actor.owner)
    wire = _detail_wire(ctx, detail)
    wire["supervisor"] = await _supervisor(ctx, contract_id, actor.owner)
    # The feedback thread: each change request and whether its supervisor picked it up.
    thread = await feedback_log.feedback_of(ctx.store, contract_id, actor.owner)
    wire["feedback"] = [entry.to_wire() for entry in thread]
    return OrjsonResponse(wire)


@router.patch("/{contract_id}", response_model=ContractPublic)
async def update_contract(
    contract_id: str, body: ContractUpdate, ctx: CtxDep, actor: EditorDep
) -> OrjsonResponse:
    applied = await ctx.repo.update_contract(
        contract_id,
        actor,
        name=body.name,
        description=body.description,
        phase_guard=body.phase_guard,
        expected_version=body.expected_version,
    )
    committed(ctx, applied)
    return OrjsonResponse(applied.contract.to_wire())


@router.delete("/{contract_id}", status_code=204, response_class=Response)
async def delete_contract(contract_id: str, ctx: CtxDep, actor: DeleterDep) -> Response:
    applied = await ctx.repo.delete_contract(contract_id, actor)
    committed(ctx, applied)
    return Response(status_code=204)


@router.post(
    "/{contract_id}/status",
    response_model=StatusChangeAnswer,
    dependencies=[feature("enhanced_contract_status", "Changing a contract's status")],
)
async def change_status(
    contract_id: str, body: StatusChangeBody, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    applied = await ctx.repo.change_status(
        contract_id,
        actor,
        body.target_status,
        reason=body.reason,
        blocker=body.blocker,
        expected_version=body.expected_version,
    )
    committed(ctx, applied)
    return OrjsonResponse(status_answer(applied.decision, applied.contract).model_dump(mode="json"))


@router.post("/{contract_id}/phase", response_model=PhaseChangeAnswer)
async def change_phase(
    contract_id: str, body: PhaseChangeBody, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    request = PhaseChangeRequest(
        phase=body.phase,
        confirmed=body.confirmed,
        feedback=body.feedback,
        comment=body.comment,
        expected_version=body.expected_version,
        force=body.force,
        transition_id=body.transition_id,
        evidence_digest=body.evidence_digest,
    )
    applied = await ctx.repo.change_phase(contract_id, actor, request)
    committed(ctx, applied)
    answer = phase_answer(applied.decision, applied.contract)
    if answer is not None:
        return OrjsonResponse(answer.model_dump(mode="json"))
    return OrjsonResponse(applied.contract.to_wire())


@router.get("/{contract_id}/phase-readiness", response_model=ReadinessPublic)
async def phase_readiness(contract_id: str, ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    detail = await queries.get_contract(ctx.store, contract_id, actor.owner)
    return OrjsonResponse(_readiness_wire(ctx, detail))


@router.post("/{contract_id}/check-completion", response_model=CompletionCheckPublic)
async def check_completion(contract_id: str, ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    """The "force completion check": a ready contract starts completing now (the
    `auto_complete` feature flag and the contract's own switch allowing)."""
    applied = await ctx.repo.check_completion(contract_id, actor)
    committed(ctx, applied)
    checked = applied.decision
    assert isinstance(checked, CompletionChecked)
    answer = {
        "ready": checked.ready,
        "would_complete": checked.would_complete,
        "missing": list(checked.missing),
        "started": checked.started,
        "status": checked.status.value,
        "version": applied.contract.version,
    }
    return OrjsonResponse(answer)


@router.put("/{contract_id}/auto-complete", response_model=ContractPublic)
async def set_auto_complete(
    contract_id: str, body: AutoCompleteBody, ctx: CtxDep, actor: AutoCompleteDep
) -> OrjsonResponse:
    applied = await ctx.repo.set_auto_complete(contract_id, actor, body.enabled)
    committed(ctx, applied)
    return OrjsonResponse(applied.contract.to_wire())


@router.post("/{contract_id}/deliverables", response_model=ContractPublic)
async def mark_deliverable(
    contract_id: str, body: DeliverableMarkBody, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    applied = await ctx.repo.mark_deliverable(
        contract_id,
        actor,
        body.deliverable_id,
        phase=body.phase,
        url=body.url,
        summary=body.summary,
    )
    committed(ctx, applied)
    return OrjsonResponse(applied.contract.to_wire())


@router.post("/{contract_id}/tasks", status_code=201, response_model=TaskPublic)
async def create_task(
    contract_id: str, body: TaskCreate, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    applied = await ctx.repo.create_task(
        contract_id, actor, body.name, is_supervisor=body.is_supervisor
    )
    committed(ctx, applied)
    return OrjsonResponse(applied.tasks[0].to_wire(), status_code=201)


@router.patch("/{contract_id}/tasks/{task_id}", response_model=TaskPublic)
async def update_task(
    contract_id: str, task_id: str, body: TaskUpdate, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    applied = await ctx.repo.update_task(contract_id, actor, task_id, body.status)
    committed(ctx, applied)
    if applied.tasks:
        return OrjsonResponse(applied.tasks[0].to_wire())
    # Unchanged (same status again): answer the task as it is.
    detail = await queries.get_contract(ctx.store, contract_id, actor.owner)
    task = next(t for t in detail.tasks if t.id == task_id)
    return OrjsonResponse(task.to_wire())
