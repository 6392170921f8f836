"""Databases for tests, each test its own: copies of a template migrated once per process.

Migrating is cheap; starting a process that imports the migration machinery is not, and
every `contract-server` command or server start on an empty file used to do it again. So the
template is migrated once per test process (per pytest-xdist worker) and copied:

- SQLite: `migrated_sqlite(folder)` copies the template file into `folder`;
- PostgreSQL: `fresh_pg_database(prefix, migrated=True)` creates the database from a
  template database (`CREATE DATABASE ... TEMPLATE`), dropped afterwards; the template's
  name carries the worker's id, so parallel workers never share one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.store.migrate import upgrade
from tests.pg import PG_ENV, admin_execute, drop_later, finish_drops, plain_dsn, run_outside_loop

_templates: dict[str, str] = {}


def worker_id() -> str:
    """pytest-xdist's worker id ("gw0", …), or "main" when not distributed."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def template_sqlite() -> Path:
    """The migrated template file of this process (made on first use, removed at exit)."""
    if "sqlite" not in _templates:
        folder = Path(tempfile.mkdtemp(prefix="cd-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        path.touch(mode=0o600)
        run_outside_loop(upgrade(sqlite_url(path)))
        _templates["sqlite"] = str(path)
    return Path(_templates["sqlite"])


def migrated_sqlite(folder: Path, name: str = "server.db") -> str:
    """A migrated SQLite database of its own in `folder` (a copy of the template): its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copyfile(template_sqlite(), target)
    target.chmod(0o600)
    return sqlite_url(target)


def pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _pg_template(base: str) -> str:
    """The migrated template database of this process (made on first use, dropped at exit)."""
    if "pg" not in _templates:
        name = f"cd_template_{worker_id()}_{uuid.uuid4().hex[:8]}"
        run_outside_loop(admin_execute(base, f'CREATE DATABASE "{name}"'))
        _templates["pg"] = name  # dropped by drop_templates() at the session's end
        run_outside_loop(upgrade(plain_dsn(base, name)))
    return _templates["pg"]


def drop_templates() -> None:
    """Wait for the background drops, then drop this process's PostgreSQL template
    (tests/conftest.py, at the session's end)."""
    finish_drops()
    name = _templates.pop("pg", None)
    base = pg_admin_url()
    if name is not None and base is not None:
        _drop(base, name)


def _drop(base: str, name: str) -> None:
    run_outside_loop(admin_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def create_pg_database(prefix: str, *, migrated: bool = False) -> tuple[str, str]:
    """A new PostgreSQL database (its URL and name), empty or a copy of the migrated
    template; the caller drops it (`drop_pg_database`). Skips without CONTRACTS_TEST_PG_URL."""
    base = pg_admin_url()
    if base is None:
        pytest.skip(f"{PG_ENV} not set")
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    template = f' TEMPLATE "{_pg_template(base)}"' if migrated else ""
    run_outside_loop(admin_execute(base, f'CREATE DATABASE "{name}"{template}'))
    return plain_dsn(base, name), name


def drop_pg_database(name: str) -> None:
    """Drop it in the background (tests/pg.py: `drop_later`)."""
    base = pg_admin_url()
    assert base is not None
    drop_later(base, name)


@contextmanager
def fresh_pg_database(prefix: str, *, migrated: bool = False) -> Iterator[str]:
    """A new PostgreSQL database of this test's own (its URL), empty or (`migrated`) a copy
    of the migrated template; dropped afterwards. Skips without CONTRACTS_TEST_PG_URL."""
    url, name = create_pg_database(prefix, migrated=migrated)
    try:
        yield url
    finally:
        drop_pg_database(name)
