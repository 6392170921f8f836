"""SyncService started offline and connected later (the desktop opens its replica before
its embedded server answers), and a stop that never logs an error for late heartbeats."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.status import ContractStatus
from sync.monitor import Backoff
from sync.service import ConnectionState, SyncService
from tests.sync.replica_support import Driver
from tests.sync.server_fixture import ServerProcess


@pytest.fixture
def server(sync_server: ServerProcess) -> ServerProcess:
    return sync_server


@pytest.fixture
async def offline_service(tmp_path: Path) -> AsyncIterator[SyncService]:
    service = SyncService(tmp_path / "replica.db", backoff=Backoff(base=0.05, cap=0.5))
    yield service
    await service.stop()


async def test_an_offline_start_connects_when_told(
    server: ServerProcess, offline_service: SyncService
) -> None:
    driver = Driver(server)
    try:
        cid = driver.start("connected later")["id"]
        await offline_service.start()
        assert offline_service.state is ConnectionState.OFFLINE
        offline_service.connect(server.base_url, server.reviewer_key)
        async with asyncio.timeout(30):
            await offline_service.wait_live()
        found = await offline_service.replica.contracts_by_id([cid])
        assert found[cid] is not None and found[cid].status is ContractStatus.ACTIVE
        with pytest.raises(RuntimeError):
            offline_service.connect(server.base_url, server.reviewer_key)  # once only
    finally:
        driver.close()


async def test_a_heartbeat_during_stop_logs_nothing(
    server: ServerProcess, offline_service: SyncService, caplog: pytest.LogCaptureFixture
) -> None:
    """The monitor may hand over a heartbeat as the service stops: it is dropped (the next
    connect fetches liveness again), not written to a replica that is closed."""
    await offline_service.start()
    offline_service.connect(server.base_url, server.reviewer_key)
    async with asyncio.timeout(30):
        await offline_service.wait_live()
    beat = {
        "seq": None,
        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "type": "heartbeat",
        "contract_id": "c-late",
        "actor": {"owner": "alice", "role": "supervisor"},
        "state": "working",
    }
    with caplog.at_level(logging.WARNING):
        await offline_service.stop()
        # A beat the monitor was handing over as it stopped (the callback is the one the
        # service gives its monitor).
        await offline_service._on_heartbeat(beat)
        await asyncio.sleep(0.5)  # past the moment the beat would have been written
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
