"""The simulator against a real server (in-process uvicorn with the full app and services)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from core.config import ContractTimeoutConfig
from server.app import create_app
from server.simulator import simulate
from tests.server.harness import LiveServer, context_on, make_key, sqlite_url

__all__ = ["sqlite_url"]


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    response.raise_for_status()
    return response.json()


async def test_two_supervisors_bring_the_system_to_life(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = ContractTimeoutConfig(stale_detection_interval_seconds=0.5)
    async with context_on(sqlite_url, config=config) as ctx:
        admin = await make_key(ctx, "demo", "admin")
        supervisor = await make_key(ctx, "demo", "supervisor")
        reviewer = await make_key(ctx, "demo", "reviewer")
        async with LiveServer(create_app(ctx), lifespan="on") as live:
            stop = asyncio.Event()
            caplog.set_level(logging.WARNING, logger="server.simulator")
            running = asyncio.create_task(
                simulate(
                    live.url, admin, 2, stop=stop, seed=7, tick=0.05, supervisor_key=supervisor
                )
            )
            headers = {"Authorization": f"Bearer {reviewer}"}
            async with httpx.AsyncClient(base_url=live.url + "/api/v1", headers=headers) as api:
                try:
                    pending = await _wait_for_review_work(api)
                    await _review_and_see_the_supervisors_go_on(api, pending)
                finally:
                    stop.set()
                    await asyncio.wait_for(running, 10)
                listed = await _get(api, "/contracts")
                assert listed["total"] >= 2
                kinds = {c["contractType"] for c in listed["contracts"]}
                assert kinds <= {"simple", "specification", "execute"}
                statuses = {c["status"] for c in listed["contracts"]}
                assert statuses & {"active", "waiting_for_input"}, statuses
                live_ones = [
                    c for c in listed["contracts"] if c["status"] in ("active", "waiting_for_input")
                ]
                for contract in live_ones:
                    beats = await _get(api, f"/contracts/{contract['id']}/supervisor/heartbeats")
                    assert beats["heartbeats"], "every running contract has heartbeats"
                    detail = await _get(api, f"/contracts/{contract['id']}")
                    assert detail["supervisorTaskId"] and detail["tasks"][0]["isSupervisor"]
                worked = [await _get(api, f"/contracts/{c['id']}") for c in live_ones]
                assert any(len(d["tasks"]) >= 2 for d in worked), "worker tasks were created"
                # Nobody but our reviewer confirmed anything: the simulator never does.
                confirmed = [
                    e
                    for e in await _all_events(api)
                    if e["type"] == "phase_changed" and e["actor"]["role"] != "supervisor"
                ]
                assert [e["actor"]["role"] for e in confirmed] == ["reviewer"]
        server_errors = [r for r in caplog.records if "→ 5" in r.getMessage()]
        assert server_errors == []


async def _review_and_see_the_supervisors_go_on(
    api: httpx.AsyncClient, pending: dict[str, list[Any]]
) -> None:
    """Answer a question and confirm a phase; each supervisor picks its work up again."""
    question = pending["questions"][0]
    answer = question["choices"][0] if question["choices"] else "yes"
    answered = await api.post(f"/questions/{question['id']}/answer", json={"answer": answer})
    assert answered.status_code == 200, answered.text
    contract = pending["confirmations"][0]
    target = contract["pendingPhase"]
    confirmed = await api.post(
        f"/contracts/{contract['id']}/phase", json={"phase": target, "confirmed": True}
    )
    assert confirmed.status_code == 200, confirmed.text
    cursor = await _head(api)
    waiting_on = {question["contractId"], contract["id"]}
    deadline = asyncio.get_running_loop().time() + 30
    while waiting_on and asyncio.get_running_loop().time() < deadline:
        later = await _get(api, "/events", after=cursor, limit=1000)
        cursor = later["lastSeq"]
        waiting_on -= {
            e["contract_id"] for e in later["events"] if e["actor"]["role"] == "supervisor"
        }
        await asyncio.sleep(0.05)
    if not waiting_on:
        return
    raise AssertionError("the supervisors did not go on after the reviewer acted")


async def _all_events(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = await _get(api, "/events", after=found[-1]["seq"] if found else 0, limit=1000)
        found += page["events"]
        if len(page["events"]) < 1000:
            return found


async def _head(api: httpx.AsyncClient) -> int:
    cursor = 0
    while True:
        page = await _get(api, "/events", after=cursor, limit=1000)
        cursor = page["lastSeq"]
        if len(page["events"]) < 1000:
            return int(cursor)


async def _wait_for_review_work(api: httpx.AsyncClient) -> dict[str, list[Any]]:
    """Until both a pending question and a pending phase confirmation exist."""
    seen: dict[str, list[Any]] = {"questions": [], "confirmations": []}
    deadline = asyncio.get_running_loop().time() + 30  # generous: CI machines are busy
    while asyncio.get_running_loop().time() < deadline:
        questions = await _get(api, "/questions", status="pending")
        waiting = await _get(api, "/contracts", waiting="true")
        confirmations = [c for c in waiting["contracts"] if c["waitingFor"] == "phase_confirmation"]
        seen["questions"] = seen["questions"] or questions["questions"]
        seen["confirmations"] = seen["confirmations"] or confirmations
        if seen["questions"] and seen["confirmations"]:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"no review work appeared: {seen}")
