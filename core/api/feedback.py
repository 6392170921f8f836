"""A contract's feedback thread (`core.feedback`): on `GET /contracts/{id}` and the export."""

from __future__ import annotations

from typing import Literal

from core.api.base import CamelModel, WireTime
from core.feedback import AckVia, Delivery, FeedbackEntry, Reply


class ReplyPublic(CamelModel):
    kind: Literal["question", "request"]
    text: str
    at: WireTime


class FeedbackPublic(CamelModel):
    """One change request and what became of it: delivered (acknowledged) or not yet."""

    id: str
    phase: str | None
    feedback: str
    requested_by: str
    requested_at: WireTime
    delivery: Delivery
    acknowledged_at: WireTime | None = None
    acknowledged_via: AckVia | None = None
    reply: ReplyPublic | None = None

    def to_domain(self, contract_id: str = "") -> FeedbackEntry:
        reply = self.reply
        return FeedbackEntry(
            id=self.id,
            contract_id=contract_id,
            phase=self.phase,
            feedback=self.feedback,
            requested_by=self.requested_by,
            requested_at=self.requested_at,
            acknowledged_at=self.acknowledged_at,
            acknowledged_via=self.acknowledged_via.value if self.acknowledged_via else None,
            reply=Reply(reply.kind, reply.text, reply.at) if reply is not None else None,
        )
