"""Fixtures of the replica tests that follow the module's `sync_server`: a driver of its
API and a replica with the feed that fills it. Import them into a test module by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sync.client import ContractClient
from sync.replica import Replica
from sync.replica_feed import ReplicaFeed
from tests.sync.replica_support import Driver
from tests.sync.server_fixture import ServerProcess


@pytest.fixture
def driver(sync_server: ServerProcess) -> Iterator[Driver]:
    d = Driver(sync_server)
    yield d
    d.close()


@pytest.fixture
async def feed(
    sync_server: ServerProcess, tmp_path: Path
) -> AsyncIterator[tuple[Replica, ReplicaFeed]]:
    replica = await Replica.open(tmp_path / "replica.db")
    client = ContractClient(sync_server.base_url, sync_server.reviewer_key, retries=0)
    try:
        yield replica, ReplicaFeed(replica, client, server_url=sync_server.base_url)
    finally:
        await client.aclose()
        await replica.close()
