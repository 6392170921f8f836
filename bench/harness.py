"""What the benchmarks share: seeding a database, a real server process, keys, percentiles.

Benchmarks print figures; they are never part of the pass/fail test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from core.actors import Actor, Role
from core.clock import SystemClock
from core.config import ContractTimeoutConfig
from core.status import ContractStatus
from core.store.engine import open_store
from core.store.event_log import last_seq
from core.store.repository import ContractRepository
from core.store.schema import events

ROOT = Path(__file__).resolve().parent.parent
OWNER = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(samples: Sequence[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))
    return ordered[index]


async def seed(db_url: str, contracts: int, total_events: int) -> list[str]:
    """`contracts` active contracts with supervisors (through the repository, so they are
    real), then filler `contract_updated` events until the log holds `total_events`."""
    store = await open_store(db_url, migrate=True)
    repo = ContractRepository(store, SystemClock(), ContractTimeoutConfig())
    actor = Actor(OWNER, Role.ADMIN)
    ids = [str(uuid.uuid4()) for _ in range(contracts)]

    async def one(cid: str, index: int) -> None:
        kind = ("simple", "specification", "execute")[index % 3]
        await repo.create_contract(actor, f"bench contract {index}", kind, contract_id=cid)
        await repo.create_task(cid, actor, "supervisor", is_supervisor=True)
        await repo.change_status(cid, actor, ContractStatus.ACTIVE)

    for start in range(0, contracts, 200):
        await asyncio.gather(
            *(one(cid, start + i) for i, cid in enumerate(ids[start : start + 200]))
        )
    await store.run_write(lambda uow: _fill_events(uow.conn, ids, total_events))
    await store.close()
    return ids


def _fill_events(conn: object, ids: list[str], total: int) -> None:
    from sqlalchemy import Connection

    assert isinstance(conn, Connection)
    head = last_seq(conn)
    now = SystemClock().now()
    rows = [
        {
            "seq": head + n + 1,
            "at": now - timedelta(seconds=total - n),
            "type": "contract_updated",
            "contract_id": ids[n % len(ids)],
            "owner": OWNER,
            "actor_owner": OWNER,
            "actor_role": "admin",
            "payload": {"changes": {"description": f"filler {n}"}},
        }
        for n in range(max(0, total - head))
    ]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(events), rows[start : start + 5000])


@dataclass
class ServerProcess:
    base_url: str
    db_url: str
    process: subprocess.Popen[bytes]
    keys: dict[str, str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@contextlib.contextmanager
def running_server(
    db_url: str, config: Path | None = None, workers: int = 1
) -> Iterator[ServerProcess]:
    keys = {
        role: cli("keys", "create", "--owner", OWNER, "--role", role, "--db", db_url)
        for role in ("admin", "supervisor")
    }
    port = free_port()
    args = [
        "serve",
        "--db",
        db_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    if config is not None:
        args += ["--config", str(config)]
    if workers > 1:
        args += ["--workers", str(workers)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=env)
    server = ServerProcess(f"http://127.0.0.1:{port}", db_url, process, keys)
    try:
        _wait_healthy(server.base_url)
        yield server
    finally:
        server.stop()


def _wait_healthy(base_url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server at {base_url} did not become healthy")
