"""The one test harness: databases, keys, server processes, an in-process ASGI client and
factories, shared by every test package.

- `databases`: a migrated template (SQLite file, PostgreSQL template database), migrated once
  per test process and copied per test: every test gets a database of its own, none is
  shared between tests.
- `keys`: API keys created in-process, by the same `server.auth.create_key` the
  `contract-server keys create` command calls (tests/server/test_cli.py runs the command).
- `server`: a real `contract-server serve` process on a copy of the template.
- `asgi`: the `asgi_client` fixture, httpx over the real FastAPI app in-process.
- `factories`: small builders of domain values and API objects.

Fixtures are offered to every test by tests/conftest.py.
"""
