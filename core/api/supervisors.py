"""Supervisor answers (snake_case, as the specification shows). Heartbeat bodies are parsed
by hand on the hot path (`core.supervisor.Heartbeat.parse`, thousands a second); they are
described here for the API document."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from core.api.base import SnakeModel, WireTime
from core.api.contracts import QuestionPublic
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
    state: dict[str, Any] | None = Field(description="The saved SupervisorPersistentState.")
    redeliver_questions: list[QuestionPublic]
    waiting_on_task_ids: list[str]
    problems: list[str]


class SupervisorSyncPublic(SnakeModel):
    synced: bool
    state: str | None


class RestartRequested(SnakeModel):
    requested: bool
    event: dict[str, Any] | None = Field(description="The logged event (an event object).")
