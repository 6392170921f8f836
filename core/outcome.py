"""What a use case decided: the contract as it now is, what else changed, what to log.

Core functions return an `Outcome`; the store writes it in one transaction (contract row
with an optimistic version check, changed tasks and questions, events appended with `seq`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.events import NewEvent
from core.model import Contract, Question, Task


@dataclass(frozen=True, slots=True)
class Outcome:
    contract: Contract
    events: tuple[NewEvent, ...] = ()
    tasks: tuple[Task, ...] = ()  # tasks created or changed
    questions: tuple[Question, ...] = ()  # questions created or changed
    # The answer body a route returns when it is not the Contract itself
    # (e.g. `requires_confirmation`, `changes_requested`, the status-change answer).
    response: Mapping[str, Any] | None = None
    previous_version: int | None = None  # the version read before the change (None: created)
    deleted: bool = False  # the contract row is to be deleted (events are kept)
    activity_only: bool = False  # only last_activity_at / stale marker moved: no version bump
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return (
            self.previous_version is None
            or self.contract.version != self.previous_version
            or bool(
                self.events or self.tasks or self.questions or self.deleted or self.activity_only
            )
        )
