"""Supervisor answers (snake_case, as the specification shows). Heartbeat bodies are parsed
by hand on the hot path (`core.supervisor.Heartbeat.parse`, thousands a second); they are
described here for the API document."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from core.api.base import SnakeModel, WireTime
from core.api.contracts import ContractPublic, QuestionPublic, TaskPublic
from core.api.events import AnyEvent
from core.api.feedback import FeedbackPublic
from core.supervisor import RestorationAction


class HeartbeatBody(SnakeModel):
    """The specification's SupervisorHeartbeat (`Heartbeat.parse` checks it)."""

    model_config = ConfigDict(extra="allow")

    task_id: str
    state: str
    phase: str
    current_activity: str | None = None
    progress: int | None = None
    pending_task_ids: list[str] = Field(default_factory=list)
    timestamp: str | None = None
    worktrees: list[str] | None = None  # the daemon's worktrees now (replaces the last list)
    acknowledged_feedback: list[str] = Field(
        default_factory=list, description="Feedback ids the supervisor has now picked up."
    )


class HeartbeatBatchBody(SnakeModel):
    model_config = ConfigDict(strict=True)

    heartbeats: list[dict[str, Any]] = Field(max_length=10_000)


class HeartbeatsAccepted(SnakeModel):
    accepted: int


class HeartbeatEntryPublic(SnakeModel):
    timestamp: WireTime
    state: str
    activity: str | None
    progress: int | None
    phase: str | None


class HeartbeatHistoryPublic(SnakeModel):
    heartbeats: list[HeartbeatEntryPublic]


class RestorePublic(SnakeModel):
    action: RestorationAction
    state: SupervisorStatePublic | None
    redeliver_questions: list[QuestionPublic]
    waiting_on_task_ids: list[str]
    problems: list[str]
    heartbeat_interval_seconds: float | None = None  # `[contracts]`: how often to beat


class SupervisorSyncPublic(SnakeModel):
    synced: bool
    state: str | None


class RestartRequested(SnakeModel):
    requested: bool
    event: dict[str, Any] | None = Field(description="The logged event (an event object).")


class SupervisorStatePublic(SnakeModel):
    """The specification's SupervisorPersistentState as saved (`PUT …/supervisor/state`)."""

    state: str
    phase: str
    conversation_history: list[dict[str, Any]]
    pending_questions: list[dict[str, Any]]
    spawned_task_ids: list[str]
    waiting_on_task_ids: list[str]
    last_checkpoint: dict[str, Any] | None
    current_activity: str
    error: str | None
    created_at: WireTime
    updated_at: WireTime


class ExportPublic(SnakeModel):
    """`GET /contracts/{id}/export`: everything known about one contract."""

    contract: ContractPublic
    tasks: list[TaskPublic]
    questions: list[QuestionPublic]
    events: list[AnyEvent]
    supervisor: SupervisorStatePublic | None
    heartbeats: list[HeartbeatEntryPublic]
    feedback: list[FeedbackPublic] = Field(default_factory=list)


RestorePublic.model_rebuild()
