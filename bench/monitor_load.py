"""Monitor load: many WebSocket subscribers on one server process, a steady event rate.

Delivery latency is the subscriber's receive time minus the event's `at` (stamped by the
server inside the writing transaction), so it includes commit, publish and fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.harness import ServerProcess, percentile


async def _subscriber(
    url: str,
    subscription: dict[str, object],
    latencies: list[float],
    ready: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    async with connect(url, max_queue=None, ping_interval=None) as ws:
        await ws.send(orjson.dumps(subscription).decode())
        await ws.recv()  # {"type": "subscribed"}
        ready.set()
        await _collect(ws, latencies, stop)


DROPPED: list[str] = []  # close reasons of subscribers the server dropped


async def _collect(ws: ClientConnection, latencies: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            frame = await asyncio.wait_for(ws.recv(), timeout=0.5)
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            DROPPED.append(f"{closed.rcvd.code if closed.rcvd else '?'}")
            return
        event = orjson.loads(frame)
        if event.get("seq") is not None:
            sent = datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()
            latencies.append((time.time() - sent) * 1000)


async def _writer(
    server: ServerProcess, ids: list[str], rate: int, seconds: int, paused: set[str]
) -> int:
    """Toggle contracts between paused and active at `rate`; `paused` is kept across runs."""
    headers = {"Authorization": f"Bearer {server.keys['admin']}"}
    sent = 0
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        deadline = time.monotonic() + seconds
        tick = time.monotonic()
        while time.monotonic() < deadline:
            cid = ids[sent % len(ids)]
            target = "active" if cid in paused else "paused"
            paused.symmetric_difference_update({cid})
            answer = await client.post(
                f"/api/v1/contracts/{cid}/status", json={"targetStatus": target}, headers=headers
            )
            answer.raise_for_status()  # every request must make exactly one event
            sent += 1
            tick += 1 / rate
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
    return sent


async def _paused_now(server: ServerProcess) -> set[str]:
    headers = {"Authorization": f"Bearer {server.keys['admin']}"}
    paused: set[str] = set()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        while True:
            params: dict[str, str | int] = {
                "status": "paused",
                "limit": 1000,
                "offset": len(paused),
            }
            page = (await client.get("/api/v1/contracts", params=params, headers=headers)).json()
            paused |= {c["id"] for c in page["contracts"]}
            if len(paused) >= page["total"] or not page["contracts"]:
                return paused


async def measure_monitor(
    server: ServerProcess,
    pairs: list[tuple[str, str]],
    *,
    connections: int,
    rate: int,
    seconds: int,
) -> None:
    ids = [c for c, _ in pairs[:1000]]
    ws_url = (
        server.base_url.replace("http", "ws")
        + f"/api/v1/contracts/monitor?api_key={server.keys['admin']}"
    )
    paused = await _paused_now(server)  # earlier benchmarks may have paused some
    for fanout in ("own", "all"):
        DROPPED.clear()
        latencies: list[float] = []
        stop = asyncio.Event()
        readies = [asyncio.Event() for _ in range(connections)]
        subs = []
        for n in range(connections):
            subscription: dict[str, object] = {"include_stale": False, "include_heartbeats": False}
            if fanout == "own":  # each subscriber watches its own slice of the contracts
                subscription["contract_ids"] = ids[n % len(ids) :: connections] or ids[:1]
            subs.append(
                asyncio.create_task(_subscriber(ws_url, subscription, latencies, readies[n], stop))
            )
            if n % 100 == 99:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=60)
        written = await _writer(server, ids, rate, seconds, paused)
        await asyncio.sleep(1.0)
        stop.set()
        for task in subs:
            with contextlib.suppress(Exception):
                await task
        label = (
            "every event to every subscriber"
            if fanout == "all"
            else "each subscriber its own contracts"
        )
        print(
            f"monitor, {connections} connections, {rate} events/s ({label}): "
            f"{written} events written, "
            f"{len(latencies):,} deliveries, p50 {percentile(latencies, 50):.1f} ms  "
            f"p99 {percentile(latencies, 99):.1f} ms  "
            f"max {max(latencies, default=float('nan')):.1f} ms  "
            f"subscribers dropped as slow: {len(DROPPED)}",
            flush=True,
        )
