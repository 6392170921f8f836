"""Every answer a real server sends is exactly what its route's `response_model` declares.

The routes send the domain's wire dicts directly (no re-validation, for speed), so this is
what keeps `/openapi.json` honest: each answer is read with the declared model and written
back, and must come out key for key the same (no missing, extra or re-spelled key).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from server.routes import batch, contracts, history, operations, questions, supervisors
from tests.server.conftest import Server, start_contract

# In the app's order: fixed segments (dashboard, batch) before `/contracts/{id}`.
ROUTES = [
    route
    for module in (history, batch, contracts, questions, supervisors, operations)
    for route in module.router.routes
    if isinstance(route, APIRoute)
]


def _model_of(method: str, path: str) -> Any:
    for route in ROUTES:
        if method in route.methods and route.path_regex.match(path):
            return route.response_model
    raise AssertionError(f"no route for {method} {path}")


class Checked:
    """Sends requests and checks each 2xx JSON answer against its route's model."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, response: httpx.Response) -> Any:
        assert response.is_success, response.text
        request = response.request
        path = request.url.path
        model = _model_of(request.method, path)
        body = response.json()
        adapter: TypeAdapter[Any] = TypeAdapter(model)
        parsed = adapter.validate_python(body)
        again = adapter.dump_python(parsed, mode="json", by_alias=True, exclude_unset=True)
        assert again == body, f"{request.method} {path}: {again} != {body}"
        self.seen.add(f"{request.method} {model}")
        return body


def _beat(task_id: str, contract_id: str) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "contract_id": contract_id,
        "state": "working",
        "phase": "plan",
        "current_activity": "writing",
        "progress": 40,
    }


def test_every_answer_is_its_declared_schema(server: Server) -> None:
    reviewer, supervisor, admin = (server.client(r) for r in ("reviewer", "supervisor", "admin"))
    check = Checked()
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    check(reviewer.get(f"/contracts/{cid}"))
    check(reviewer.get("/contracts", params={"limit": 5}))
    check(reviewer.patch(f"/contracts/{cid}", json={"description": "typed"}))
    check(reviewer.put(f"/contracts/{cid}/auto-complete", json={"enabled": False}))
    check(reviewer.get(f"/contracts/{cid}/phase-readiness"))
    check(reviewer.post(f"/contracts/{cid}/check-completion"))
    task = check(supervisor.post(f"/contracts/{cid}/tasks", json={"name": "work"}))
    check(supervisor.patch(f"/contracts/{cid}/tasks/{task['id']}", json={"status": "done"}))
    sup = check(reviewer.get(f"/contracts/{cid}")).get("supervisorTaskId")
    check(supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=_beat(sup, cid)))
    check(supervisor.post("/supervisor/heartbeats", json={"heartbeats": [_beat(sup, cid)]}))
    check(reviewer.get(f"/contracts/{cid}/supervisor/status"))
    check(reviewer.get(f"/contracts/{cid}/supervisor/heartbeats"))
    check(reviewer.post(f"/contracts/{cid}/supervisor/sync"))
    now = datetime.now(UTC).isoformat()
    state = {"state": "working", "phase": "plan", "createdAt": now, "updatedAt": now}
    check(supervisor.put(f"/contracts/{cid}/supervisor/state", json=state))
    check(supervisor.get(f"/contracts/{cid}/supervisor/restore"))
    check(
        supervisor.post(f"/contracts/{cid}/deliverables", json={"deliverableId": "plan-document"})
    )
    asked = check(supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"}))
    assert asked["status"] == "requires_confirmation"
    feedback = {"phase": "execute", "feedback": "more tests"}
    assert check(reviewer.post(f"/contracts/{cid}/phase", json=feedback))["status"] == (
        "changes_requested"
    )
    check(supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"}))
    moved = check(
        reviewer.post(f"/contracts/{cid}/phase", json={"phase": "execute", "confirmed": True})
    )
    assert moved["phase"] == "execute"
    question = {"question": "Which?", "questionType": "choice", "choices": ["a", "b"]}
    q = check(supervisor.post(f"/contracts/{cid}/questions", json=question))
    check(reviewer.get("/questions", params={"status": "pending"}))
    check(reviewer.get(f"/questions/{q['id']}"))
    check(reviewer.post(f"/questions/{q['id']}/answer", json={"answer": "a"}))
    check(reviewer.post(f"/contracts/{cid}/status", json={"targetStatus": "paused"}))
    check(reviewer.get("/events", params={"limit": 1000}))
    check(reviewer.get(f"/contracts/{cid}/events"))
    check(reviewer.get("/contracts/dashboard"))
    check(reviewer.get("/config"))
    check(reviewer.get(f"/contracts/{cid}/export"))
    check(admin.post("/contracts/batch", json={"operation": "pause_all", "dry_run": True}))
    key = {"Idempotency-Key": uuid.uuid4().hex}
    check(reviewer.post(f"/contracts/{cid}/supervisor/restart", headers=key))
    check(server.anonymous().get("/health"))
    assert len(check.seen) >= 20
