"""Small builders of core value types for tests: sensible defaults, override what matters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.model import Contract, Question, QuestionType, Task, TaskStatus
from core.phases import ContractType
from core.status import ContractStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_contract(**overrides: Any) -> Contract:
    """An `active` simple contract in phase `plan`, every time field at T0."""
    fields: dict[str, Any] = {
        "id": "c1",
        "owner": "alice",
        "name": "Contract c1",
        "contract_type": ContractType.SIMPLE,
        "phase": "plan",
        "status": ContractStatus.ACTIVE,
        "created_at": T0,
        "updated_at": T0,
        "status_changed_at": T0,
        "last_activity_at": T0,
    }
    fields.update(overrides)
    return Contract(**fields)


def make_task(**overrides: Any) -> Task:
    fields: dict[str, Any] = {
        "id": "t1",
        "contract_id": "c1",
        "name": "task t1",
        "status": TaskStatus.RUNNING,
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(overrides)
    return Task(**fields)


def make_question(**overrides: Any) -> Question:
    fields: dict[str, Any] = {
        "id": "q1",
        "contract_id": "c1",
        "phase": "plan",
        "question": "Which database?",
        "question_type": QuestionType.FREE_TEXT,
        "asked_at": T0,
    }
    fields.update(overrides)
    return Question(**fields)
