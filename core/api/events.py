"""Events on the wire: the log's event object, a page of the log, the monitor subscription.

An event object is flat (API.md): the envelope (`seq`, `at`, `type`, `contract_id`, `actor`,
and on contract-changing events `version` and `updated_at`) plus its type's payload fields
(`core.event_payloads` has one frozen type per event type). The model keeps unknown fields
(`extra="allow"`): a newer server's event types and fields reach the reader as sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from core.actors import Role
from core.api.base import CamelModel, SnakeModel, WireTime
from core.events import MonitorFilter
from core.status import ContractStatus


class ActorPublic(SnakeModel):
    owner: str
    role: Role


class EventPublic(SnakeModel):
    """One event: the envelope below plus the payload fields of its `type`."""

    model_config = ConfigDict(extra="allow")

    seq: int | None = Field(description="Null on transient heartbeats (never logged).")
    at: WireTime
    type: str = Field(description="An EventType value (a newer server may send more).")
    contract_id: str
    actor: ActorPublic | None = None
    version: int | None = Field(default=None, description="The contract's version after it.")
    updated_at: WireTime | None = None


class EventPagePublic(CamelModel):
    """`GET /events`, `GET /contracts/{id}/events`: oldest first; `lastSeq` is where the
    next page starts."""

    events: list[EventPublic]
    last_seq: int


class MonitorSubscription(SnakeModel):
    """The first message of `WS /contracts/monitor` (snake_case keys; camelCase accepted)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["subscribe"] | None = None
    contract_ids: list[Annotated[str, Field(min_length=1)]] | None = None
    statuses: list[str] | None = None
    include_stale: bool | None = None
    include_heartbeats: bool | None = None
    after: int | None = Field(default=None, ge=0)

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, value: list[str] | None) -> list[str] | None:
        """Statuses in any case ("Active"); an unknown one is refused by name."""
        if value is None:
            return None
        known = {s.value for s in ContractStatus}
        wanted = [v.strip().lower() for v in value]
        unknown = [v for v, w in zip(value, wanted, strict=True) if w not in known]
        if unknown:
            raise ValueError(f"unknown status {unknown[0][:30]!r}")
        return wanted

    @classmethod
    def of(cls, wanted: MonitorFilter, after: int | None) -> MonitorSubscription:
        """The message a client sends for `wanted`, resuming after `after`."""
        return cls(
            contract_ids=sorted(wanted.contract_ids) if wanted.contract_ids is not None else None,
            statuses=sorted(wanted.statuses) if wanted.statuses is not None else None,
            include_stale=wanted.include_stale,
            include_heartbeats=wanted.include_heartbeats,
            after=after,
        )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def to_filter(self) -> MonitorFilter:
        return MonitorFilter(
            contract_ids=frozenset(self.contract_ids) if self.contract_ids is not None else None,
            statuses=frozenset(self.statuses) if self.statuses else None,
            include_stale=True if self.include_stale is None else self.include_stale,
            include_heartbeats=bool(self.include_heartbeats),
            after=self.after,
        )


class StaleContractPublic(CamelModel):
    id: str
    name: str
    phase: str
    last_activity: WireTime
    stale_duration_secs: int


class WaitingContractPublic(CamelModel):
    id: str
    name: str
    waiting_for: str
    waiting_since: WireTime
    question: str | None
    phase: str


class ResourceUsagePublic(CamelModel):
    active_supervisors: int
    running_tasks: int
    pending_tasks: int
    active_daemons: int
    total_worktrees: int


class DashboardPublic(CamelModel):
    """`GET /contracts/dashboard`: the specification's DashboardResponse (camelCase)."""

    status_counts: dict[str, int]
    phase_counts: dict[str, int]
    stale_contracts: list[StaleContractPublic]
    waiting_for_input: list[WaitingContractPublic]
    recent_events: list[EventPublic]
    resource_usage: ResourceUsagePublic


class ServerConfigPublic(SnakeModel):
    """`GET /config`: the server's `[contracts]` settings, keys as in its TOML file."""

    contracts: dict[str, Any]
