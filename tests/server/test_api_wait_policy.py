"""Per-phase wait policies through the real server process with shrunken timings (SQLite,
and PostgreSQL with CONTRACTS_TEST_PG_URL): `wait` waits, `escalate` marks the items
escalated once and names the escalation list, `timeout` pauses; the deadline is on the item."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.server.conftest import assert_error, start_contract
from tests.support.keys import create_key_now
from tests.support.server import configured_server

# Settings: wait by default; a timeout or an escalation after 1.8 s; a sweep every 0.3 s.
QUICK_TOML = """\
[contracts]
wait_policy = "wait"
input_timeout_hours = 0.0005
escalate_after_hours = 0.0005
escalate_to = "lead, oncall"
stale_detection_interval_seconds = 0.3
stale_threshold_minutes = 60.0
heartbeat_timeout_seconds = 120.0
"""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def policy_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    tmp = tmp_path_factory.mktemp(f"policy-{request.param}")
    with configured_server(request.param, tmp, QUICK_TOML) as server:
        keys = {
            role: create_key_now(server.db_url, "ops", role) for role in ("reviewer", "supervisor")
        }
        clients = [
            httpx.Client(
                base_url=server.base_url + "/api/v1",
                headers={"Authorization": f"Bearer {keys[role]}"},
                timeout=30,
            )
            for role in ("reviewer", "supervisor")
        ]
        try:
            yield clients[0], clients[1]
        finally:
            for client in clients:
                client.close()


def _phases(policy: dict[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "phases": [
            {"id": "plan", "name": "Plan", "order": 0},
            {"id": "build", "name": "Build", "order": 1},
        ],
        "deliverables": {"plan": [{"id": "plan-document", "name": "Plan"}]},
    }
    if policy is not None:
        config["waitPolicies"] = {"plan": policy}
    return config


def _asking(
    clients: tuple[httpx.Client, httpx.Client], policy: dict[str, Any] | None
) -> tuple[str, str]:
    """A custom contract in plan (with `policy`) whose supervisor asked: (contract, item)."""
    reviewer, supervisor = clients
    extra = {"phaseConfig": _phases(policy)} if policy is not None else {}
    contract_type = "custom" if policy is not None else "simple"
    cid = start_contract(reviewer, supervisor, contract_type, **extra)["id"]
    asked = supervisor.post(
        f"/contracts/{cid}/questions", json={"question": "Which?", "questionType": "free_text"}
    )
    assert asked.status_code == 201, asked.text
    return cid, f"question:{asked.json()['id']}"


def _item(reviewer: httpx.Client, item: str) -> dict[str, Any] | None:
    items = reviewer.get("/inbox", params={"includeSnoozed": "true"}).json()["items"]
    return next((i for i in items if i["id"] == item), None)


def _events(reviewer: httpx.Client, cid: str, kind: str) -> list[dict[str, Any]]:
    page = reviewer.get(f"/contracts/{cid}/events", params={"limit": 1000}).json()
    return [e for e in page["events"] if e["type"] == kind]


def _until(check: Any, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_default_wait_policy_waits_without_a_deadline(
    policy_server: tuple[httpx.Client, httpx.Client],
) -> None:
    reviewer, _ = policy_server
    cid, item = _asking(policy_server, None)
    found = _item(reviewer, item)
    assert found is not None and found["deadline"] is None and found["escalated"] is False
    time.sleep(2.5)  # past both shrunken timings
    assert reviewer.get(f"/contracts/{cid}").json()["status"] == "waiting_for_input"
    assert _events(reviewer, cid, "inbox_escalated") == []


def test_escalate_marks_the_item_once_and_names_the_escalation_list(
    policy_server: tuple[httpx.Client, httpx.Client],
) -> None:
    reviewer, _ = policy_server
    policy = {"policy": "escalate", "afterHours": 0.0006, "escalateTo": ["Dana", "ops-leads"]}
    cid, item = _asking(policy_server, policy)
    contract = reviewer.get(f"/contracts/{cid}").json()
    found = _item(reviewer, item)
    assert found is not None and found["escalated"] is False
    waited = _at(found["deadline"]) - _at(contract["statusChangedAt"])
    assert abs(waited - timedelta(hours=0.0006)) < timedelta(milliseconds=5)

    escalated = _until(lambda: _events(reviewer, cid, "inbox_escalated"))

    assert escalated, "no escalation"
    assert escalated[0]["escalate_to"] == ["Dana", "ops-leads"]
    assert escalated[0]["item_ids"] == [item]
    assert escalated[0]["actor"]["role"] == "system"
    found = _item(reviewer, item)
    assert found is not None and found["escalated"] is True
    assert reviewer.get(f"/contracts/{cid}").json()["status"] == "waiting_for_input"
    time.sleep(1.0)
    assert len(_events(reviewer, cid, "inbox_escalated")) == 1


def test_escalate_without_a_list_takes_the_settings_list(
    policy_server: tuple[httpx.Client, httpx.Client],
) -> None:
    reviewer, _ = policy_server
    cid, _ = _asking(policy_server, {"policy": "escalate"})
    escalated = _until(lambda: _events(reviewer, cid, "inbox_escalated"))
    assert escalated and escalated[0]["escalate_to"] == ["lead", "oncall"]


def test_timeout_pauses_the_contract_at_the_items_deadline(
    policy_server: tuple[httpx.Client, httpx.Client],
) -> None:
    reviewer, _ = policy_server
    cid, item = _asking(policy_server, {"policy": "timeout", "afterHours": 0.0006})
    found = _item(reviewer, item)
    assert found is not None and found["deadline"] is not None
    deadline = _at(found["deadline"])

    paused = _until(lambda: reviewer.get(f"/contracts/{cid}").json()["status"] == "paused")

    assert paused
    moved = [e for e in _events(reviewer, cid, "status_changed") if e["new_status"] == "paused"]
    assert moved and moved[0]["reason"] == "input timeout"
    assert _at(moved[0]["at"]) >= deadline
    assert _item(reviewer, item) is None


def test_a_bad_wait_policy_is_refused_naming_the_field(
    policy_server: tuple[httpx.Client, httpx.Client],
) -> None:
    reviewer, _ = policy_server
    for policy, field in (
        ({"policy": "later"}, "phaseConfig.waitPolicies.plan.policy"),
        ({"policy": "escalate", "afterHours": -1}, "phaseConfig.waitPolicies.plan.afterHours"),
        ({"policy": "wait", "after": 3}, "phaseConfig.waitPolicies.plan.after"),
        ({"policy": "escalate", "escalateTo": "Dana"}, "phaseConfig.waitPolicies.plan.escalateTo"),
    ):
        body = {"name": "bad", "contractType": "custom", "phaseConfig": _phases(policy)}
        error = assert_error(reviewer.post("/contracts", json=body), 400, "VALIDATION_FAILED")
        assert error.get("details", {}).get("field") == field, error
