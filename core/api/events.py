"""Events on the wire: the log's event object, a page of the log, the monitor subscription.

An event object is flat (API.md): the envelope (`seq`, `at`, `type`, `contract_id`, `actor`,
and on contract-changing events `version` and `updated_at`) plus its type's payload fields
(`core.event_payloads` has one frozen type per event type). The model keeps unknown fields
(`extra="allow"`): a newer server's event types and fields reach the reader as sent.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_type_hints

from pydantic import ConfigDict, Discriminator, Field, Tag, create_model, field_validator

from core.actors import Role
from core.api.base import CamelModel, SnakeModel, WireTime
from core.event_payloads import EventPayload, payload_type
from core.events import EventType, MonitorFilter
from core.status import ContractStatus


class ActorPublic(SnakeModel):
    owner: str
    role: Role
    user: str | None = Field(
        default=None, description="The key's person; absent for the system and older keys."
    )


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

    events: list[AnyEvent]
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
    recent_events: list[AnyEvent]
    resource_usage: ResourceUsagePublic


class ServerConfigPublic(SnakeModel):
    """`GET /config`: the server's `[contracts]` settings and `[feature_flags]`, keys as in
    its TOML file."""

    contracts: dict[str, Any]
    feature_flags: dict[str, bool] = Field(default_factory=dict)


def _event_model(payload: type[EventPayload]) -> type[EventPublic]:
    """The event object of one payload type: the envelope plus the payload's fields."""
    assert payload.KIND is not None
    hints = get_type_hints(payload)
    fields: dict[str, Any] = {"type": (Literal[payload.KIND.value], ...)}
    for f in dataclasses.fields(payload):
        default = ... if f.default is dataclasses.MISSING else f.default
        fields[f.name] = (hints[f.name], default)
    name = f"{payload.__name__}Event"
    doc = f"A `{payload.KIND.value}` event."
    return create_model(name, __base__=EventPublic, __doc__=doc, **fields)


EVENT_MODELS: dict[str, type[EventPublic]] = {
    kind.value: _event_model(cls)
    for kind in EventType
    if (cls := payload_type(kind)) is not None and kind is not EventType.HEARTBEAT
}


def _event_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return str(kind) if kind in EVENT_MODELS else "other"


# A logged event as its type's model; a type this version does not know stays EventPublic.
# Built at run time from the payload types (mypy sees the common base).
if TYPE_CHECKING:
    AnyEvent = EventPublic
else:
    _TAGGED = [Annotated[model, Tag(kind)] for kind, model in EVENT_MODELS.items()]
    AnyEvent = Annotated[
        Union[(*_TAGGED, Annotated[EventPublic, Tag("other")])],
        Discriminator(_event_kind),
    ]


EventPagePublic.model_rebuild()
DashboardPublic.model_rebuild()
