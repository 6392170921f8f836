"""Questions: a supervisor asks, a reviewer answers; `GET ?wait=` long-polls for the answer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from core.api.contracts import AnswerBody, QuestionCreate, QuestionListPublic, QuestionPublic
from core.model import Question, QuestionStatus
from core.store import queries
from server.context import ServerContext
from server.deps import ActorDep, CtxDep
from server.responses import OrjsonResponse
from server.routes.publishing import committed

router = APIRouter(prefix="/api/v1", tags=["questions"])

MAX_WAIT_SECONDS = 60.0
POLL_SECONDS = 0.25


@router.post("/contracts/{contract_id}/questions", status_code=201, response_model=QuestionPublic)
async def ask_question(
    contract_id: str, body: QuestionCreate, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    applied = await ctx.repo.ask_question(
        contract_id, actor, body.question, body.question_type, choices=body.choices
    )
    committed(ctx, applied)
    return OrjsonResponse(applied.questions[0].to_wire(), status_code=201)


@router.get("/questions", response_model=QuestionListPublic)
async def list_questions(
    ctx: CtxDep,
    actor: ActorDep,
    status: QuestionStatus | None = None,
    contract_id: Annotated[str | None, Query(alias="contractId", max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OrjsonResponse:
    found = await queries.list_questions(
        ctx.store, actor.owner, status=status, contract_id=contract_id, limit=limit
    )
    return OrjsonResponse({"questions": [q.to_wire() for q in found]})


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


@router.get("/questions/{question_id}", response_model=QuestionPublic)
async def get_question(
    question_id: str,
    request: Request,
    ctx: CtxDep,
    actor: ActorDep,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
) -> OrjsonResponse:
    question = await _wait_until_settled(request, ctx, question_id, actor.owner, wait)
    return OrjsonResponse(question.to_wire())


@router.post("/questions/{question_id}/answer", response_model=QuestionPublic)
async def answer_question(
    question_id: str, body: AnswerBody, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    applied = await ctx.repo.answer_question(question_id, actor, body.answer)
    committed(ctx, applied)
    return OrjsonResponse(applied.questions[0].to_wire())
