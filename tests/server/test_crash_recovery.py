"""kill -9 a real server mid-stream: every change answered 2xx survives, the log has no gap.

A `contract-server serve` process takes heartbeats, status changes and phase advances from
concurrent clients; it is killed with SIGKILL while requests are in flight and restarted on
the same database. A 2xx must have meant committed: every acknowledged heartbeat is in the
history, every acknowledged status change and deliverable is reflected in the contract
(a change in flight at the kill may or may not have landed, never half), and the event log
is seq 1..N without a hole.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.actors import Role
from core.clock import SystemClock
from core.store.engine import open_store
from server.auth import create_key
from tests.server.harness import eventually, free_port

SPEC_PHASES = ["research", "specify", "plan", "execute", "review"]
SPEC_DELIVERABLES = {
    "research": "research-notes",
    "specify": "requirements-document",
    "plan": "plan-document",
    "execute": "pull-request",
    "review": "release-notes",
}


_SERVE = (sys.executable, "-m", "server.cli", "serve")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}


async def _admin_key(db_url: str) -> str:
    """A key made in-process (the CLI would cost a second interpreter start)."""
    store = await open_store(db_url, migrate=True)
    try:
        async with store.write() as uow:
            return await create_key(uow.conn, "alice", Role.ADMIN, SystemClock().now())
    finally:
        await store.close()


@dataclass
class ServerProcess:
    db_url: str
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*_SERVE, "--db", self.db_url, "--port", str(self.port), "--log-level", "warning"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(),
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not start:\n{self.log.read_text()}")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    srv = ServerProcess(db_url, tmp_path / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


@dataclass
class Acked:
    """What the server acknowledged (2xx), and what was in flight when it died."""

    heartbeats: dict[str, set[str]] = field(default_factory=dict)  # contract → activities
    status_changes: dict[str, int] = field(default_factory=dict)
    last_status: dict[str, str] = field(default_factory=dict)
    in_flight_status: dict[str, str] = field(default_factory=dict)
    deliverables: dict[str, list[str]] = field(default_factory=dict)
    in_flight_deliverable: dict[str, str] = field(default_factory=dict)


async def _setup(api: httpx.AsyncClient, kind: str) -> dict[str, Any]:
    created = await api.post(
        "/contracts", json={"name": "c", "contractType": kind, "phaseGuard": False}
    )
    contract = created.raise_for_status().json()
    cid = contract["id"]
    task = await api.post(f"/contracts/{cid}/tasks", json={"name": "sup", "isSupervisor": True})
    (await api.post(f"/contracts/{cid}/status", json={"targetStatus": "active"})).raise_for_status()
    return {"id": cid, "task": task.raise_for_status().json()["id"]}


async def _heartbeats(api: httpx.AsyncClient, c: dict[str, Any], acked: Acked) -> None:
    mine = acked.heartbeats.setdefault(c["id"], set())
    for i in range(100_000):
        activity = f"beat {i}"
        body = {
            "task_id": c["task"],
            "state": "working",
            "phase": "research",
            "current_activity": activity,
        }
        response = await api.post(f"/contracts/{c['id']}/supervisor/heartbeat", json=body)
        if response.status_code == 202:
            mine.add(activity)


async def _status_flips(api: httpx.AsyncClient, c: dict[str, Any], acked: Acked) -> None:
    cid = c["id"]
    acked.status_changes[cid] = 0
    for i in range(100_000):
        target = "paused" if i % 2 == 0 else "active"
        acked.in_flight_status[cid] = target
        response = await api.post(f"/contracts/{cid}/status", json={"targetStatus": target})
        if response.is_success:
            assert response.json()["success"] is True
            acked.status_changes[cid] += 1
            acked.last_status[cid] = target
        del acked.in_flight_status[cid]


async def _phases(api: httpx.AsyncClient, c: dict[str, Any], acked: Acked) -> None:
    cid = c["id"]
    done = acked.deliverables.setdefault(cid, [])
    for phase in SPEC_PHASES:
        deliverable = SPEC_DELIVERABLES[phase]
        acked.in_flight_deliverable[cid] = deliverable
        body = {"deliverableId": deliverable, "phase": phase}
        response = await api.post(f"/contracts/{cid}/deliverables", json=body)
        if response.is_success:
            done.append(deliverable)
        del acked.in_flight_deliverable[cid]
        await asyncio.sleep(0.05)


async def _until_dead(work: Any) -> None:
    with contextlib.suppress(httpx.HTTPError, OSError):  # the server was killed under it
        await work


async def test_kill_minus_9_loses_nothing_that_was_acknowledged(server: ServerProcess) -> None:
    key = await _admin_key(server.db_url)
    server.start()
    headers = {"Authorization": f"Bearer {key}"}
    acked = Acked()
    async with httpx.AsyncClient(
        base_url=server.url + "/api/v1", headers=headers, timeout=10
    ) as api:
        beating = [await _setup(api, "execute") for _ in range(4)]
        flipping = [await _setup(api, "execute") for _ in range(3)]
        advancing = [await _setup(api, "specification") for _ in range(3)]
        clients = [
            *(asyncio.create_task(_until_dead(_heartbeats(api, c, acked))) for c in beating),
            *(asyncio.create_task(_until_dead(_status_flips(api, c, acked))) for c in flipping),
            *(asyncio.create_task(_until_dead(_phases(api, c, acked))) for c in advancing),
        ]
        await eventually(lambda: _enough(acked), within=30, step=0.05)
        server.kill9()  # mid-stream: every client has a request in flight
        async with asyncio.timeout(20):
            await asyncio.gather(*clients)

    print(
        f"acknowledged: {sum(len(v) for v in acked.heartbeats.values())} heartbeats, "
        f"{sum(acked.status_changes.values())} status changes, "
        f"{sum(len(v) for v in acked.deliverables.values())} deliverables"
    )
    server.start()  # same database, new process
    with httpx.Client(base_url=server.url + "/api/v1", headers=headers, timeout=10) as api:
        for c in beating:
            history = api.get(f"/contracts/{c['id']}/supervisor/heartbeats", params={"limit": 1000})
            stored = {h["activity"] for h in history.json()["heartbeats"]}
            missing = acked.heartbeats[c["id"]] - stored
            assert not missing, f"acknowledged heartbeats lost: {sorted(missing)[:5]}"
        for c in flipping:
            _check_status(api.get(f"/contracts/{c['id']}").json(), c["id"], acked)
        for c in advancing:
            _check_phase(api.get(f"/contracts/{c['id']}").json(), c["id"], acked)
        seqs = _all_seqs(api)
    assert seqs == list(range(1, len(seqs) + 1)), "the event log has a gap or a repeat"


def _enough(acked: Acked) -> bool:
    """Enough acknowledged of each kind that the kill is a real test (whatever the load)."""
    return (
        sum(len(v) for v in acked.heartbeats.values()) >= 20
        and sum(acked.status_changes.values()) >= 6
        and any(len(v) >= 2 for v in acked.deliverables.values())
    )


def _check_status(contract: dict[str, Any], cid: str, acked: Acked) -> None:
    changes = acked.status_changes[cid]
    base = 3  # created, supervisor task, active
    in_flight = acked.in_flight_status.get(cid)
    if contract["version"] == base + changes:
        assert contract["status"] == acked.last_status.get(cid, "active")
    else:  # the change in flight at the kill was committed, its answer lost
        assert in_flight is not None and contract["version"] == base + changes + 1
        assert contract["status"] == in_flight


def _check_phase(contract: dict[str, Any], cid: str, acked: Acked) -> None:
    recorded = {d for ds in contract["completedDeliverables"].values() for d in ds}
    expected = set(acked.deliverables[cid])
    in_flight = acked.in_flight_deliverable.get(cid)
    assert expected <= recorded, f"acknowledged deliverables lost: {expected - recorded}"
    assert recorded - expected <= ({in_flight} if in_flight else set())
    done = len(recorded)
    assert contract["phase"] == SPEC_PHASES[min(done, len(SPEC_PHASES) - 1)]


def _all_seqs(api: httpx.Client) -> list[int]:
    seqs: list[int] = []
    after = 0
    while True:
        page = api.get("/events", params={"after": after, "limit": 1000}).json()
        seqs += [e["seq"] for e in page["events"]]
        if len(page["events"]) < 1000:
            return seqs
        after = page["lastSeq"]
