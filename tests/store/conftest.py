"""Fixtures for the store tests: a fresh database per test, on SQLite and on PostgreSQL.

SQLite: a new file under `tmp_path`. PostgreSQL: a uniquely named database created on the
server of CONTRACTS_TEST_PG_URL and dropped after the test; without that variable the
PostgreSQL cases skip. `db_url` is parametrized over both backends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.store import ContractRepository, Store, open_store
from tests.store.helpers import run_outside_loop

PG_ENV = "CONTRACTS_TEST_PG_URL"


def _plain_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(_plain_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test (dropped afterwards)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    name = f"contract_desk_test_{uuid.uuid4().hex[:16]}"
    run_outside_loop(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield _plain_dsn(base, name)
    finally:
        run_outside_loop(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
