"""Server benchmarks (issue: contract server). Prints figures; not part of the test run.

    .venv/bin/python -m bench.bench_server [--contracts 10000] [--events 100000] [--only NAME,...]

Targets on this 2-core machine, load generator on the same machine:
- heartbeats: >= 5,000/s as single POSTs with p99 <= 50 ms; >= 50,000/s through the batch
  endpoint; no accepted heartbeat lost;
- transitions: >= 1,500 status changes/s from 16 concurrent clients on SQLite, p99 <= 100 ms,
  never a 5xx or "database is locked";
- dashboard: p95 <= 20 ms with 10,000 contracts and 100,000 events while 1,000 heartbeats/s
  arrive;
- monitor: 1,000 WebSocket connections on one process, delivery p99 <= 100 ms at 100 events/s.
Needs `wrk` (Debian package) for the HTTP load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench import wrk_scripts
from bench.harness import ServerProcess, percentile, running_server, seed
from bench.monitor_load import measure_monitor
from core.store.engine import open_store
from core.store.schema import supervisor_heartbeats


def _wrk(
    server: ServerProcess,
    script: str,
    ids_file: Path,
    *,
    connections: int,
    seconds: int,
    env: dict[str, str],
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    full_env = dict(os.environ, BENCH_IDS=str(ids_file), BENCH_KEY=server.keys["supervisor"], **env)
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        lua.name,
        server.base_url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=full_env, check=True).stdout
    for line in out.splitlines():
        if line.startswith(("NON2XX", "FIRST_BAD")):
            print("  " + line[:300], flush=True)
    match = re.search(r"RESULT (.*)", out)
    if match is None:
        raise RuntimeError(out)
    fields = dict(pair.split("=") for pair in match.group(1).split())
    return {k: float(v) for k, v in fields.items()}


def _report(name: str, result: dict[str, float], per_request: int = 1) -> float:
    rate = result["requests"] * per_request / (result["duration_us"] / 1e6)
    print(
        f"{name}: {rate:,.0f}/s  p50 {result['p50_us'] / 1000:.1f} ms  "
        f"p99 {result['p99_us'] / 1000:.1f} ms  max {result['max_us'] / 1000:.1f} ms  "
        f"non-2xx {int(result['non2xx'])}  socket errors {int(result['socket_errors'])}",
        flush=True,
    )
    return rate


async def _stored_heartbeats(db_url: str) -> int:
    store = await open_store(db_url)
    count = await store.run_read(
        lambda uow: int(
            uow.conn.execute(select(func.count()).select_from(supervisor_heartbeats)).scalar_one()
        )
    )
    await store.close()
    return count


def bench_heartbeats(server: ServerProcess, ids_file: Path, seconds: int) -> None:
    before = asyncio.run(_stored_heartbeats(server.db_url))
    single = _wrk(
        server, wrk_scripts.HEARTBEAT_SINGLE, ids_file, connections=64, seconds=seconds, env={}
    )
    _report("heartbeats, single POSTs (64 connections)", single)
    batch = _wrk(
        server,
        wrk_scripts.HEARTBEAT_BATCH,
        ids_file,
        connections=8,
        seconds=seconds,
        env={"BENCH_BATCH": "500"},
    )
    _report("heartbeats, POST /supervisor/heartbeats x500 (8 connections)", batch, per_request=500)
    time.sleep(0.5)
    stored = asyncio.run(_stored_heartbeats(server.db_url)) - before
    answered = (
        int(single["requests"] - single["non2xx"]) + int(batch["requests"] - batch["non2xx"]) * 500
    )
    print(
        f"heartbeats answered 2xx: {answered:,}  stored: {stored:,}  "
        f"lost: {max(0, answered - stored):,}",
        flush=True,
    )


def bench_transitions(server: ServerProcess, ids_file: Path, seconds: int) -> None:
    server.keys["supervisor"], saved = server.keys["admin"], server.keys["supervisor"]
    try:
        result = _wrk(
            server, wrk_scripts.TRANSITIONS, ids_file, connections=16, seconds=seconds, env={}
        )
    finally:
        server.keys["supervisor"] = saved
    _report("status transitions (16 concurrent clients)", result)


async def _dashboard_under_heartbeats(
    server: ServerProcess, pairs: list[tuple[str, str]], samples: int
) -> list[float]:
    stop = asyncio.Event()
    headers_s = {"Authorization": f"Bearer {server.keys['supervisor']}"}
    headers_a = {"Authorization": f"Bearer {server.keys['admin']}"}

    async def heartbeats(client: httpx.AsyncClient) -> None:
        i = 0
        while not stop.is_set():  # 1,000/s: ten batches of 100 per second
            tick = time.monotonic()
            body = {
                "heartbeats": [
                    {
                        "contract_id": c,
                        "task_id": t,
                        "state": "working",
                        "phase": "plan",
                        "current_activity": "bench",
                        "progress": 1,
                    }
                    for c, t in pairs[i : i + 100]
                ]
            }
            i = (i + 100) % max(1, len(pairs) - 100)
            await client.post("/api/v1/supervisor/heartbeats", json=body, headers=headers_s)
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))

    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        feeder = asyncio.create_task(heartbeats(client))
        await asyncio.sleep(1.0)
        timings = []
        for _ in range(samples):
            start = time.perf_counter()
            response = await client.get("/api/v1/contracts/dashboard", headers=headers_a)
            timings.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
            await asyncio.sleep(0.02)
        stop.set()
        await feeder
    return timings


def bench_dashboard(server: ServerProcess, pairs: list[tuple[str, str]], samples: int) -> None:
    timings = asyncio.run(_dashboard_under_heartbeats(server, pairs, samples))
    print(
        f"dashboard under 1,000 heartbeats/s ({samples} samples): "
        f"p50 {percentile(timings, 50):.1f} ms  "
        f"p95 {percentile(timings, 95):.1f} ms  p99 {percentile(timings, 99):.1f} ms",
        flush=True,
    )


def _pairs(server: ServerProcess) -> list[tuple[str, str]]:
    headers = {"Authorization": f"Bearer {server.keys['admin']}"}
    pairs: list[tuple[str, str]] = []
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        offset = 0
        while True:
            page = client.get(
                "/api/v1/contracts", params={"limit": 1000, "offset": offset}, headers=headers
            ).json()
            pairs += [
                (c["id"], c["supervisorTaskId"]) for c in page["contracts"] if c["supervisorTaskId"]
            ]
            offset += 1000
            if offset >= page["total"]:
                return pairs


SECTIONS: dict[str, Callable[..., None]] = {}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", default="heartbeats,transitions,dashboard,monitor")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_server needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db or f"sqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        asyncio.run(seed(db_url, args.contracts, args.events))
        print(
            f"seeded {args.contracts:,} contracts and {args.events:,} events "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        config = Path(tmp) / "bench.toml"
        # A long stale threshold keeps the sweeper's own writes out of the measurements.
        config.write_text("[contracts]\nstale_threshold_minutes = 600\n")
        with running_server(db_url, config, workers=args.workers) as server:
            pairs = _pairs(server)
            ids_file = Path(tmp) / "ids.txt"
            ids_file.write_text("".join(f"{c} {t}\n" for c, t in pairs))
            if "dashboard" in only:
                bench_dashboard(server, pairs, samples=300)
            if "heartbeats" in only:
                bench_heartbeats(server, ids_file, args.seconds)
            if "transitions" in only:
                bench_transitions(server, ids_file, args.seconds)
            if "monitor" in only:
                asyncio.run(
                    measure_monitor(server, pairs, connections=1000, rate=100, seconds=args.seconds)
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
