"""Questions: a supervisor asks, a reviewer answers; `GET ?wait=` long-polls for the answer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from core.model import Question, QuestionStatus
from core.store import queries
from server.context import ServerContext
from server.deps import ActorDep, CtxDep
from server.routes.publishing import committed
from server.schemas import Answer, QuestionCreate

router = APIRouter(prefix="/api/v1", tags=["questions"])

Json = dict[str, Any]
MAX_WAIT_SECONDS = 60.0
POLL_SECONDS = 0.25


@router.post("/contracts/{contract_id}/questions", status_code=201)
async def ask_question(
    contract_id: str, body: QuestionCreate, ctx: CtxDep, actor: ActorDep
) -> Json:
    applied = await ctx.repo.ask_question(
        contract_id, actor, body.question, body.question_type, choices=body.choices
    )
    committed(ctx, applied)
    return applied.questions[0].to_wire()


@router.get("/questions")
async def list_questions(
    ctx: CtxDep,
    actor: ActorDep,
    status: QuestionStatus | None = None,
    contract_id: Annotated[str | None, Query(alias="contractId", max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Json:
    found = await queries.list_questions(
        ctx.store, actor.owner, status=status, contract_id=contract_id, limit=limit
    )
    return {"questions": [q.to_wire() for q in found]}


async def _wait_until_settled(
    request: Request, ctx: ServerContext, question_id: str, owner: str, wait: float
) -> Question:
    """The question once it is no longer pending, or as it is when `wait` seconds passed,
    the client went away or the server began shutting down.

    Polls the database (the source of truth, whichever process answered) every 0.25 s.
    """
    deadline = time.monotonic() + wait
    closing: asyncio.Event = request.app.state.closing
    while True:
        question = await queries.get_question(ctx.store, question_id, owner)
        remaining = deadline - time.monotonic()
        if not question.is_pending or remaining <= 0 or closing.is_set():
            return question
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), min(POLL_SECONDS, remaining))
        if await request.is_disconnected():
            return question


@router.get("/questions/{question_id}")
async def get_question(
    question_id: str,
    request: Request,
    ctx: CtxDep,
    actor: ActorDep,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
) -> Json:
    question = await _wait_until_settled(request, ctx, question_id, actor.owner, wait)
    return question.to_wire()


@router.post("/questions/{question_id}/answer")
async def answer_question(question_id: str, body: Answer, ctx: CtxDep, actor: ActorDep) -> Json:
    applied = await ctx.repo.answer_question(question_id, actor, body.answer)
    committed(ctx, applied)
    return applied.questions[0].to_wire()
