"""Who a contract waits on, asked of the real server: the reviewer (questions, phase and
completion confirmations) or, for a stale contract, the automation — never both.

Issue 8 item 10: after pause-all and resume-all, contracts with open questions came back
`active`, so they counted as stale and were blamed on their supervisor.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from core.config import ContractTimeoutConfig
from tests.support.asgi import AsgiApp
from tests.support.factories import new_contract_async


@pytest.fixture
def asgi_config() -> ContractTimeoutConfig:
    """The timing rules these tests read back from /config."""
    return ContractTimeoutConfig(
        stale_threshold_minutes=30.0,
        heartbeat_timeout_seconds=120.0,
        stale_detection_interval_seconds=3600.0,
    )


async def _started(admin: httpx.AsyncClient, **extra: Any) -> str:
    cid = str((await new_contract_async(admin, **extra))["id"])
    task = await admin.post(f"/contracts/{cid}/tasks", json={"name": "sup", "isSupervisor": True})
    assert task.status_code == 201, task.text
    moved = await admin.post(f"/contracts/{cid}/status", json={"targetStatus": "active"})
    assert moved.status_code == 200, moved.text
    return cid


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(listing: dict[str, Any]) -> set[str]:
    return {c["id"] for c in listing["contracts"]}


async def test_after_pause_all_and_resume_all_an_open_question_waits_on_the_reviewer(
    asgi_app: AsgiApp,
) -> None:
    bob = asgi_app.client("other_admin")
    asking = await _started(bob)
    asked = await bob.post(
        f"/contracts/{asking}/questions",
        json={"question": "Which DB?", "questionType": "free_text"},
    )
    assert asked.status_code == 201, asked.text
    quiet = await _started(bob)
    paused = await bob.post("/contracts/batch", json={"operation": "pause_all"})
    assert paused.status_code == 200, paused.text
    resumed = await bob.post("/contracts/batch", json={"operation": "resume_all"})
    assert resumed.status_code == 200 and asking in resumed.json()["affected_ids"]

    contract = await _get(bob, f"/contracts/{asking}")
    assert (contract["status"], contract["waitingFor"]) == ("waiting_for_input", "question")
    assert (await _get(bob, f"/contracts/{quiet}"))["status"] == "active"
    await asyncio.sleep(1.2)
    stale = _ids(await _get(bob, "/contracts", stale="true", threshold="1s", limit=500))
    assert quiet in stale and asking not in stale
    waiting = _ids(await _get(bob, "/contracts", waiting="true", limit=500))
    assert asking in waiting and quiet not in waiting
    board = await _get(bob, "/contracts/dashboard")
    rows = {w["id"]: w for w in board["waitingForInput"]}
    assert rows[asking]["waitingFor"] == "question"
    assert rows[asking]["question"] == "Which DB?"


async def test_a_completing_contract_waits_on_the_reviewer_for_the_completion(
    asgi_app: AsgiApp,
) -> None:
    bob = asgi_app.client("other_admin")
    cid = await _started(bob, phaseGuard=False)
    # Unguarded: each required deliverable advances the phase, the last one completes.
    for phase, deliverable in (("plan", "plan-document"), ("execute", "pull-request")):
        marked = await bob.post(
            f"/contracts/{cid}/deliverables", json={"deliverableId": deliverable, "phase": phase}
        )
        assert marked.status_code == 200, marked.text
    contract = await _get(bob, f"/contracts/{cid}")
    assert contract["status"] == "completing", contract
    assert cid in _ids(await _get(bob, "/contracts", waiting="true", limit=500))
    rows = {w["id"]: w for w in (await _get(bob, "/contracts/dashboard"))["waitingForInput"]}
    assert rows[cid]["waitingFor"] == "completion_confirmation"


async def test_config_reports_the_servers_timing_rules_to_any_key(asgi_app: AsgiApp) -> None:
    for role in ("reviewer", "supervisor", "other"):
        body = await _get(asgi_app.client(role), "/config")
        assert body["contracts"]["stale_threshold_minutes"] == 30.0  # asgi_config above
        assert body["contracts"]["heartbeat_timeout_seconds"] == 120.0
    anonymous = await asgi_app.anonymous().get("/api/v1/config")
    assert anonymous.status_code == 401, anonymous.text
