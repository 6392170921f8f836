"""Issue 14 figures: keys in logs, revocation latency, /health under idle and slow connections.

    .venv/bin/python bench/bench_hardening.py [--pg postgresql://…/db] [--idle 2000] [--slow 200]

1. Keys found in logs: a server at `--log-level trace` and `contract-sync run --log-level
   debug` see every way of presenting a key (Bearer, x-makima-api-key, ?api_key= on HTTP
   and on the monitor WebSocket, a refused key); their logs are searched for every key.
2. Revocation: the time from the commit of a revocation to the first refused request and to
   the close (4401) of the key's open monitor socket, over several rounds.
3. /health latency (p50/p99, a fresh connection per request) alone, then while `--idle`
   connections that never send a byte and `--slow` connections that dribble a request
   head are held open (re-opened as the server's head deadline closes them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, cli, free_port, percentile
from core.clock import SystemClock
from core.store.engine import open_store
from server.auth import revoke_key


@dataclass
class Served:
    base_url: str
    db_url: str
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/api/v1/contracts/monitor"


@contextlib.contextmanager
def serve(db_url: str, log: Path, level: str) -> Iterator[Served]:
    port = free_port()
    command = [sys.executable, "-m", "server.cli", "serve", "--db", db_url, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", level]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    served = Served(f"http://127.0.0.1:{port}", db_url, log, process)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(served.base_url + "/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def new_key(db_url: str, role: str = "reviewer") -> str:
    return cli("keys", "create", "--owner", "bench", "--role", role, "--db", db_url)


# 1. keys in logs ---------------------------------------------------------------------------


async def present_keys(served: Served, key: str, wrong: str) -> None:
    async with httpx.AsyncClient(base_url=served.base_url) as client:
        await client.get("/api/v1/contracts", headers={"Authorization": f"Bearer {key}"})
        await client.get("/api/v1/contracts", headers={"x-makima-api-key": key})
        await client.get(f"/api/v1/contracts?api_key={key}")
        await client.get("/api/v1/contracts", headers={"x-makima-api-key": wrong})
    for connect in (
        {"uri": f"{served.ws_url}?api_key={key}"},
        {"uri": served.ws_url, "additional_headers": {"Authorization": f"Bearer {key}"}},
    ):
        async with websockets.connect(**connect) as ws:  # type: ignore[arg-type]
            await ws.send("{}")
            await ws.recv()


def sync_log(served: Served, key: str, replica: Path) -> str:
    command = [sys.executable, "-m", "sync.service_cli", "run", "--api-url", served.base_url]
    command += ["--api-key-stdin", "--replica", str(replica), "--log-level", "debug"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    process = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write(key + "\n")
    process.stdin.close()
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until it is live (a busy machine starts slowly)
        line = process.stderr.readline()
        lines.append(line)
        if not line or "state: live" in line:
            break
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    process.wait(30)
    text = "".join(lines) + process.stderr.read()
    process.stderr.close()
    return text


def keys_in_logs(db_url: str, tmp: Path) -> None:
    key, admin = new_key(db_url), new_key(db_url, "admin")
    wrong = "cdk_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
    with serve(db_url, tmp / "server-trace.log", "trace") as served:
        asyncio.run(present_keys(served, key, wrong))
        client_log = sync_log(served, key, tmp / "replica" / "replica.db")
    server_log = served.log.read_text(errors="replace")
    found = sum(log.count(k) for log in (server_log, client_log) for k in (key, admin, wrong))
    assert "state: live" in client_log, client_log[-2000:]  # the sync service did connect
    print(
        f"keys found in logs: {found}  (server log {len(server_log.splitlines())} lines at "
        f"trace, sync log {len(client_log.splitlines())} lines at debug; "
        f"'[REDACTED]' marks: {server_log.count('[REDACTED]') + client_log.count('[REDACTED]')})"
    )


# 2. revocation -----------------------------------------------------------------------------


async def revoke_round(served: Served) -> tuple[float, float, int]:
    key = await asyncio.to_thread(new_key, served.db_url)
    headers = {"Authorization": f"Bearer {key}"}
    ws = await websockets.connect(served.ws_url, additional_headers=headers)
    await ws.send(orjson.dumps({"include_heartbeats": True}).decode())
    await ws.recv()
    closed = asyncio.get_running_loop().create_future()

    async def watch() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass
        closed.set_result((time.perf_counter(), ws.close_code))

    watcher = asyncio.ensure_future(watch())
    store = await open_store(served.db_url)
    async with httpx.AsyncClient(base_url=served.base_url, headers=headers) as client:
        assert (await client.get("/api/v1/contracts?limit=1")).status_code == 200
        async with store.write() as uow:
            await revoke_key(uow.conn, key[4:12], SystemClock().now())
        committed = time.perf_counter()
        accepted = 0
        while (await client.get("/api/v1/contracts?limit=1")).status_code != 401:
            accepted += 1
        refused = time.perf_counter()
    await store.close()
    at, code = await asyncio.wait_for(closed, 10)
    await watcher
    assert code == 4401, code
    return refused - committed, at - committed, accepted


def revocation(db_url: str, tmp: Path, rounds: int) -> None:
    with serve(db_url, tmp / "server-revoke.log", "warning") as served:
        results = [asyncio.run(revoke_round(served)) for _ in range(rounds)]
    refuse = [r[0] * 1000 for r in results]
    close = [r[1] * 1000 for r in results]
    late = sum(r[2] for r in results)
    print(
        f"revoke -> refused request: median {percentile(refuse, 50):.1f} ms, "
        f"max {max(refuse):.1f} ms  ({rounds} rounds; requests still accepted after the "
        f"revocation committed: {late})"
    )
    print(
        f"revoke -> WebSocket closed (4401): median {percentile(close, 50):.1f} ms, "
        f"max {max(close):.1f} ms"
    )


# 3. /health under idle and slow connections ------------------------------------------------


Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


async def hold(
    address: tuple[str, int], count: int, stop: asyncio.Event, held: list[int], behave: Behaviour
) -> None:
    """Keep `count` connections open until `stop`, each doing `behave`; one the server
    closes is opened again. `held[0]` counts those open now."""

    async def one() -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(*address)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            held[0] += 1
            with contextlib.suppress(ConnectionError, OSError):
                await behave(reader, writer, stop)
            held[0] -= 1
            writer.close()

    await asyncio.gather(*(one() for _ in range(count)))


async def silent(
    reader: asyncio.StreamReader, _: asyncio.StreamWriter, stop: asyncio.Event
) -> None:
    """Send nothing; wait for the server to close (or the end)."""
    closed = asyncio.ensure_future(reader.read())
    ended = asyncio.ensure_future(stop.wait())
    await asyncio.wait([closed, ended], return_when=asyncio.FIRST_COMPLETED)
    closed.cancel()
    ended.cancel()


async def dribble(
    _: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
) -> None:
    """A request head that never ends: one byte a second."""
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    while not stop.is_set() and not writer.is_closing():
        writer.write(b"X")
        await writer.drain()
        await asyncio.sleep(1.0)


HEALTH_REQUEST = b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


async def health_latency(base_url: str, samples: int) -> tuple[list[float], int]:
    """Milliseconds per /health on a fresh connection (connect to last byte), and failures."""
    host, port = "127.0.0.1", int(base_url.rsplit(":", 1)[1])
    out: list[float] = []
    failed = 0
    for _ in range(samples):
        start = time.perf_counter()
        try:
            async with asyncio.timeout(30):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(HEALTH_REQUEST)
                answer = await reader.read()
                writer.close()
        except (OSError, TimeoutError):
            answer = b""
        if answer.startswith(b"HTTP/1.1 200"):
            out.append((time.perf_counter() - start) * 1000)
        else:
            failed += 1
        await asyncio.sleep(0.02)
    return out, failed


async def loaded_health(served: Served, idle: int, slow: int, samples: int) -> None:
    host, port = "127.0.0.1", int(served.base_url.rsplit(":", 1)[1])
    quiet, _ = await health_latency(served.base_url, samples)
    stop = asyncio.Event()
    idle_held, slow_held = [0], [0]
    holders = [
        asyncio.ensure_future(hold((host, port), idle, stop, idle_held, silent)),
        asyncio.ensure_future(hold((host, port), slow, stop, slow_held, dribble)),
    ]
    for _ in range(100):
        if idle_held[0] >= idle * 0.95 and slow_held[0] >= slow * 0.95:
            break
        await asyncio.sleep(0.1)
    seen = (idle_held[0], slow_held[0])
    loaded, failed = await health_latency(served.base_url, samples)
    seen_after = (idle_held[0], slow_held[0])
    stop.set()
    await asyncio.gather(*holders, return_exceptions=True)
    print(f"/health alone: p50 {percentile(quiet, 50):.1f} ms, p99 {percentile(quiet, 99):.1f} ms")
    print(
        f"/health with {seen[0]}..{seen_after[0]} idle and {seen[1]}..{seen_after[1]} slow "
        f"connections open: p50 {percentile(loaded, 50):.1f} ms, "
        f"p99 {percentile(loaded, 99):.1f} ms, max {max(loaded):.1f} ms "
        f"({samples} requests, {failed} failed)"
    )


def health_under_load(db_url: str, tmp: Path, idle: int, slow: int, samples: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with serve(db_url, tmp / "server-load.log", "warning") as served:
        asyncio.run(loaded_health(served, idle, slow, samples))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="a PostgreSQL URL to use instead of a SQLite file")
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db_url = args.pg or f"sqlite:///{tmp / 'bench.db'}"
        print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}")
        keys_in_logs(db_url, tmp)
        revocation(db_url, tmp, args.rounds)
        health_under_load(db_url, tmp, args.idle, args.slow, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
