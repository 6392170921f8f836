"""Fixtures for the store tests: a fresh database per test, on SQLite and on PostgreSQL.

SQLite: a new file under `tmp_path`. PostgreSQL: a uniquely named database created on the
server of CONTRACTS_TEST_PG_URL and dropped after the test; without that variable the
PostgreSQL cases skip. `db_url` is parametrized over both backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.store import ContractRepository, Store, open_store
from tests.pg import fresh_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test (dropped afterwards)."""
    with fresh_database("contract_desk_test") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database URL, once per backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await open_store(db_url, migrate=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config() -> ContractTimeoutConfig:
    return ContractTimeoutConfig()


@pytest.fixture
def repo(store: Store, clock: ManualClock, config: ContractTimeoutConfig) -> ContractRepository:
    return ContractRepository(store, clock, config)
