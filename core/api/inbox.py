"""`GET /inbox`: the items waiting on the caller's owner (`core.inbox`'s rule)."""

from __future__ import annotations

from pydantic import AwareDatetime, ConfigDict, Field

from core.api.base import Body, CamelModel, WireTime
from core.inbox import InboxItem, InboxKind


class InboxItemPublic(CamelModel):
    """One item; the optional fields are null where they do not apply."""

    id: str = Field(description="Stable: question:<id>, confirmation:<transitionId>, …")
    kind: InboxKind
    contract_id: str
    contract_name: str
    phase: str
    since: WireTime
    question_id: str | None = None
    transition_id: str | None = None
    snoozed_until: WireTime | None = None
    claimed_by: str | None = None
    claimed_at: WireTime | None = None
    deadline: WireTime | None = None
    blocked_by: str | None = None
    escalated: bool = False

    @classmethod
    def of(cls, item: InboxItem) -> InboxItemPublic:
        return cls(**{f: getattr(item, f) for f in cls.model_fields})

    def to_domain(self) -> InboxItem:
        return InboxItem(**dict(self))


class InboxPublic(CamelModel):
    items: list[InboxItemPublic]


class SnoozeBody(Body):
    """`POST /inbox/{id}/snooze`: until when (ISO 8601 with a zone; in the future)."""

    model_config = ConfigDict(extra="forbid", strict=False)  # a time arrives as text

    until: AwareDatetime
