"""The real FastAPI app in-process, over httpx's ASGI transport: HTTP contract tests without a
server process.

`asgi_app` (per test, once per backend) builds the app as `contract-server serve` does
(`server.app.create_app` with a context factory), on a database of the test's own (a copy
of the migrated template: SQLite file, or PostgreSQL database when CONTRACTS_TEST_PG_URL is
set), with the standard keys (tests/support/keys.py), its lifespan (hub, heartbeat writer,
background services) running on the test's event loop. `asgi_client` is a reviewer's
`httpx.AsyncClient` on it (base URL `/api/v1`).

Crash, restart, WebSocket and end-to-end tests keep a real process (tests/support/server.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from core.config import ContractTimeoutConfig
from server.app import build_context, create_app
from tests.support.databases import fresh_pg_database, migrated_sqlite
from tests.support.keys import STANDARD_KEYS, create_keys_async

BASE_URL = "http://contract-server.test"


@dataclass
class AsgiApp:
    """The app of one test: its backend, database, keys and clients."""

    backend: str
    db_url: str
    app: FastAPI
    keys: dict[str, str]
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, role: str = "reviewer", header: str = "bearer") -> httpx.AsyncClient:
        """A client on `/api/v1` sending the role's key (Bearer, or x-makima-api-key with
        header="x"); closed after the test."""
        key = self.keys[role]
        headers = (
            {"Authorization": f"Bearer {key}"} if header == "bearer" else {"x-makima-api-key": key}
        )
        return self._client(BASE_URL + "/api/v1", headers)

    def anonymous(self) -> httpx.AsyncClient:
        """A client without a key, at the root (`/health`, `/openapi.json`, …)."""
        return self._client(BASE_URL, {})

    def _client(self, base_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        made = httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)
        self.clients.append(made)
        return made


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def asgi_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own, once per backend."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path)
        return
    with fresh_pg_database("cd_asgi", migrated=True) as url:
        yield url


@pytest.fixture
def asgi_config() -> ContractTimeoutConfig:
    """The `[contracts]` settings of `asgi_app` (override the fixture to change them)."""
    return ContractTimeoutConfig(stale_detection_interval_seconds=3600.0)


@pytest.fixture
async def asgi_app(asgi_db_url: str, asgi_config: ContractTimeoutConfig) -> AsyncIterator[AsgiApp]:
    """The real app on this test's database, its lifespan running, with the standard keys."""
    backend = "sqlite" if asgi_db_url.startswith("sqlite") else "postgresql"
    keys = await create_keys_async(asgi_db_url, STANDARD_KEYS)
    app = create_app(context_factory=lambda: build_context(asgi_db_url, asgi_config))
    served = AsgiApp(backend, asgi_db_url, app, keys)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        try:
            yield served
        finally:
            for client in served.clients:
                await client.aclose()


@pytest.fixture
def asgi_client(asgi_app: AsgiApp) -> httpx.AsyncClient:
    """A reviewer's client (owner "alice") on the in-process app, base URL `/api/v1`."""
    return asgi_app.client("reviewer")
