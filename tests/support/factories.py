"""The one factories module: small builders for tests at every level.

- domain values (`make_contract`, `make_task`, `make_question`): sensible defaults, override
  what matters;
- actors and `started_contract` on a `ContractRepository` (store level);
- contracts made through the HTTP API (`new_contract`, `start_contract`, and their `_async`
  twins for `asgi_client`), and `assert_error` for an API error body.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from core.actors import Actor, Role
from core.model import Contract, Question, QuestionType, Task, TaskStatus
from core.phases import ContractType
from core.status import ContractStatus
from core.store import ContractRepository

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


# Store level -----------------------------------------------------------------------------

REVIEWER = Actor("alice", Role.REVIEWER)
SUPERVISOR = Actor("alice", Role.SUPERVISOR)
ADMIN = Actor("alice", Role.ADMIN)
INTRUDER = Actor("mallory", Role.ADMIN)


async def started_contract(
    repo: ContractRepository, contract_type: str = "simple", **options: Any
) -> str:
    """A contract of alice's with a supervisor task, moved to `active`; returns its id."""
    created = await repo.create_contract(REVIEWER, "Contract", contract_type, **options)
    contract_id = created.contract.id
    await repo.create_task(contract_id, SUPERVISOR, "supervisor", is_supervisor=True)
    await repo.change_status(contract_id, SUPERVISOR, "active")
    return contract_id


# HTTP API level --------------------------------------------------------------------------


def contract_body(contract_type: str = "simple", **extra: Any) -> dict[str, Any]:
    """The body of `POST /contracts`, with a unique name."""
    return {"name": f"c-{uuid.uuid4().hex[:8]}", "contractType": contract_type, **extra}


def new_contract(
    client: httpx.Client, contract_type: str = "simple", **extra: Any
) -> dict[str, Any]:
    response = client.post("/contracts", json=contract_body(contract_type, **extra))
    assert response.status_code == 201, response.text
    return dict(response.json())


def start_contract(
    reviewer: httpx.Client, supervisor: httpx.Client, contract_type: str = "simple", **extra: Any
) -> dict[str, Any]:
    """A contract with a supervisor task, moved to `active` by the supervisor."""
    contract = new_contract(reviewer, contract_type, **extra)
    task = supervisor.post(
        f"/contracts/{contract['id']}/tasks", json={"name": "supervisor", "isSupervisor": True}
    )
    assert task.status_code == 201, task.text
    moved = supervisor.post(f"/contracts/{contract['id']}/status", json={"targetStatus": "active"})
    assert moved.status_code == 200, moved.text
    got = reviewer.get(f"/contracts/{contract['id']}")
    return dict(got.json())


async def new_contract_async(
    client: httpx.AsyncClient, contract_type: str = "simple", **extra: Any
) -> dict[str, Any]:
    response = await client.post("/contracts", json=contract_body(contract_type, **extra))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def start_contract_async(
    reviewer: httpx.AsyncClient,
    supervisor: httpx.AsyncClient,
    contract_type: str = "simple",
    **extra: Any,
) -> dict[str, Any]:
    """`start_contract` for async clients (e.g. `asgi_app.client(...)`)."""
    contract = await new_contract_async(reviewer, contract_type, **extra)
    task = await supervisor.post(
        f"/contracts/{contract['id']}/tasks", json={"name": "supervisor", "isSupervisor": True}
    )
    assert task.status_code == 201, task.text
    moved = await supervisor.post(
        f"/contracts/{contract['id']}/status", json={"targetStatus": "active"}
    )
    assert moved.status_code == 200, moved.text
    got = await reviewer.get(f"/contracts/{contract['id']}")
    return dict(got.json())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an API error of `status` with `code` and a message; its body."""
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body
