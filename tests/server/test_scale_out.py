"""Issue 14, scale-out: on PostgreSQL with `--workers 2`, transient heartbeat events reach
monitor subscribers on every worker process (relayed through NOTIFY, coalesced), not only
those on the worker that took the heartbeat."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.pg import run_outside_loop  # not asyncio.run: see tests/pg.py
from tests.server.conftest import start_contract
from tests.server.hardened import running_server

SUBSCRIBERS = 8
HEARTBEATS = 40


async def _count_heartbeats(ws: Any, seconds: float) -> int:
    seen = 0
    try:
        async with asyncio.timeout(seconds):
            async for frame in ws:
                if orjson.loads(frame).get("type") == "heartbeat":
                    seen += 1
    except TimeoutError:
        pass
    return seen


async def _run(base_url: str, key: str, supervisor_key: str, contract: dict[str, Any]) -> list[int]:
    url = base_url.replace("http", "ws", 1) + "/api/v1/contracts/monitor"
    sockets = []
    for _ in range(SUBSCRIBERS):
        # A new TCP connection each: the kernel spreads them over both workers' accepts.
        ws = await websockets.connect(url, additional_headers={"x-makima-api-key": key})
        await ws.send(orjson.dumps({"include_heartbeats": True}).decode())
        assert orjson.loads(await ws.recv())["type"] == "subscribed"
        sockets.append(ws)
    counting = [asyncio.ensure_future(_count_heartbeats(ws, 5.0)) for ws in sockets]
    beat = {"taskId": contract["supervisorTaskId"], "state": "working", "phase": contract["phase"]}
    async with httpx.AsyncClient(
        base_url=base_url + "/api/v1", headers={"Authorization": f"Bearer {supervisor_key}"}
    ) as client:
        for n in range(HEARTBEATS):
            answer = await client.post(
                f"/contracts/{contract['id']}/supervisor/heartbeat",
                json={**beat, "progress": n},
                headers={"connection": "close"},  # each on whichever worker accepts it
            )
            assert answer.status_code == 202, answer.text
            await asyncio.sleep(0.03)
    counts = await asyncio.gather(*counting)
    for ws in sockets:
        await ws.close()
    return list(counts)


@pytest.mark.pg
def test_heartbeats_reach_subscribers_on_every_worker(tmp_path: Path) -> None:
    with running_server("postgresql", tmp_path, workers=2) as server:
        contract = start_contract(server.client("reviewer"), server.client("supervisor"))
        counts = run_outside_loop(
            _run(server.base_url, server.keys["reviewer"], server.keys["supervisor"], contract)
        )
    assert all(count > 0 for count in counts), counts
    # Coalesced per 50 ms window, never more than one per heartbeat sent.
    assert all(count <= HEARTBEATS for count in counts), counts
