"""Issue 14, no 5xx on bad input: lone surrogates and over-long ids and phases answer
`400 VALIDATION_FAILED` on SQLite and PostgreSQL alike, at the edge; and a hypothesis fuzz
test per request body (one field at a time replaced by hostile values) never sees a 5xx."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Server, assert_error, start_contract

NOW = "2026-01-01T00:00:00Z"


def _send(client: httpx.Client, method: str, url: str, body: Any, **headers: str) -> httpx.Response:
    """`body` as JSON with \\u escapes, so lone surrogates travel as JSON allows them."""
    content = json.dumps(body).encode()
    return client.request(
        method, url, content=content, headers={"content-type": "application/json", **headers}
    )


def _beat(contract: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "taskId": contract["supervisorTaskId"],
        "state": "working",
        "phase": contract["phase"],
        "progress": 10,
        **fields,
    }


def _state(contract: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "state": "working",
        "phase": contract["phase"],
        "createdAt": NOW,
        "updatedAt": NOW,
        **fields,
    }


@pytest.fixture
def contract(server: Server) -> dict[str, Any]:
    return start_contract(server.client("reviewer"), server.client("supervisor"))


def test_lone_surrogate_in_supervisor_state(server: Server, contract: dict[str, Any]) -> None:
    body = _state(contract, currentActivity="half \ud800 a pair")
    answer = _send(
        server.client("supervisor"), "PUT", f"/contracts/{contract['id']}/supervisor/state", body
    )
    error = assert_error(answer, 400, "VALIDATION_FAILED")
    assert error["details"]["field"] == "currentActivity"


@pytest.mark.parametrize("idempotent", [False, True], ids=["fast-path", "route"])
@pytest.mark.parametrize(
    ("field", "value"), [("taskId", "t" * 37), ("phase", "p" * 101)], ids=["task_id", "phase"]
)
def test_over_long_heartbeat_fields(
    server: Server, contract: dict[str, Any], field: str, value: str, idempotent: bool
) -> None:
    headers = {"Idempotency-Key": uuid.uuid4().hex} if idempotent else {}
    client = server.client("supervisor")
    beat = _beat(contract, **{field: value})
    single = _send(
        client, "POST", f"/contracts/{contract['id']}/supervisor/heartbeat", beat, **headers
    )
    assert_error(single, 400, "VALIDATION_FAILED")
    headers = {"Idempotency-Key": uuid.uuid4().hex} if idempotent else {}
    batch = {"heartbeats": [{**beat, "contractId": contract["id"]}]}
    assert_error(
        _send(client, "POST", "/supervisor/heartbeats", batch, **headers), 400, "VALIDATION_FAILED"
    )


def test_over_long_phase_in_supervisor_state(server: Server, contract: dict[str, Any]) -> None:
    body = _state(contract, phase="p" * 101, spawnedTaskIds=["s" * 37])
    answer = _send(
        server.client("supervisor"), "PUT", f"/contracts/{contract['id']}/supervisor/state", body
    )
    assert_error(answer, 400, "VALIDATION_FAILED")


# fuzzing --------------------------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.text(st.characters(codec=None, categories=None), max_size=20),  # surrogates included
    st.text(alphabet="ab\ud800\udfff", min_size=1, max_size=5),
    st.integers(min_value=30, max_value=400).map(lambda n: "x" * n),
)
HOSTILE = st.one_of(
    HOSTILE_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.none(),
    st.booleans(),
    st.lists(HOSTILE_TEXT, max_size=3),
    st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=2),
)

Body = Callable[[dict[str, Any]], tuple[str, str, str, dict[str, Any]]]
BODIES: dict[str, Body] = {
    "heartbeat": lambda c: (
        "supervisor",
        "POST",
        f"/contracts/{c['id']}/supervisor/heartbeat",
        _beat(c, currentActivity="a", pendingTaskIds=[]),
    ),
    "heartbeat-batch": lambda c: (
        "supervisor",
        "POST",
        "/supervisor/heartbeats",
        _beat(c, contractId=c["id"], currentActivity="a"),
    ),
    "supervisor-state": lambda c: (
        "supervisor",
        "PUT",
        f"/contracts/{c['id']}/supervisor/state",
        _state(c, currentActivity="a", error=None, spawnedTaskIds=[]),
    ),
    "create": lambda c: (
        "reviewer",
        "POST",
        "/contracts",
        {"name": "n", "contractType": "simple", "description": "d", "phaseGuard": True},
    ),
    "update": lambda c: ("reviewer", "PATCH", f"/contracts/{c['id']}", {"name": "n"}),
    "status": lambda c: (
        "supervisor",
        "POST",
        f"/contracts/{c['id']}/status",
        {"targetStatus": "blocked", "reason": "r", "blocker": "b"},
    ),
    "phase": lambda c: (
        "reviewer",
        "POST",
        f"/contracts/{c['id']}/phase",
        {"phase": "execute", "comment": "c", "feedback": "f"},
    ),
    "question": lambda c: (
        "supervisor",
        "POST",
        f"/contracts/{c['id']}/questions",
        {"question": "q", "questionType": "text"},
    ),
    "task": lambda c: (
        "supervisor",
        "POST",
        f"/contracts/{c['id']}/tasks",
        {"name": "t", "isSupervisor": False},
    ),
}


def _fuzzed(base: dict[str, Any], field: str, value: Any, batch: bool) -> dict[str, Any]:
    body = {**base, field: value}
    return {"heartbeats": [body]} if batch else body


def _has_lone_surrogate(value: Any) -> bool:
    texts = [value] if isinstance(value, str) else []
    if isinstance(value, list):
        texts = [v for v in value if isinstance(v, str)]
    if isinstance(value, dict):
        texts = [t for kv in value.items() for t in kv if isinstance(t, str)]
    # JSON joins an adjacent high+low pair into one character: only what stays alone counts.
    joined = [json.loads(json.dumps(text)) for text in texts]
    return any(0xD800 <= ord(ch) <= 0xDFFF for text in joined for ch in text)


@pytest.mark.parametrize("name", list(BODIES))
def test_fuzzed_bodies_never_answer_5xx(server: Server, name: str) -> None:
    contract = start_contract(server.client("reviewer"), server.client("supervisor"))
    role, method, url, base = BODIES[name](contract)
    client = server.client(role)
    fields = st.sampled_from(sorted(base))
    seen: list[str] = []

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(field=fields, value=HOSTILE)
    def probe(field: str, value: Any) -> None:
        body = _fuzzed(base, field, value, batch=name == "heartbeat-batch")
        answer = _send(client, method, url, body)
        assert answer.status_code < 500, (name, field, repr(value), answer.text)
        if _has_lone_surrogate(value):
            assert_error(answer, 400, "VALIDATION_FAILED")
        seen.append(field)

    probe()
    assert seen
