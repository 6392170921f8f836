"""The harness itself (tests/support): copies of the template are migrated and each test's
own, keys made in-process are real keys, `asgi_client` is the real app."""

from __future__ import annotations

from pathlib import Path

import httpx

from core.store import open_store
from core.store.migrate import current_revision, head_revision
from server.auth import list_keys
from tests.support.databases import migrated_sqlite
from tests.support.keys import create_keys_async


async def test_template_copies_are_migrated_and_independent(tmp_path: Path) -> None:
    first, second = migrated_sqlite(tmp_path / "a"), migrated_sqlite(tmp_path / "b")
    assert await current_revision(first) == await current_revision(second) == head_revision()
    keys = await create_keys_async(first, {"mine": ("carol", "reviewer")})
    assert keys["mine"].startswith("cdk_")
    for url, owners in ((first, ["carol"]), (second, [])):
        store = await open_store(url)
        try:
            async with store.read() as uow:
                assert [k.owner for k in await list_keys(uow.conn)] == owners
        finally:
            await store.close()


async def test_asgi_client_is_the_real_app_with_keys_that_work(
    asgi_client: httpx.AsyncClient,
) -> None:
    created = await asgi_client.post("/contracts", json={"name": "x", "contractType": "simple"})
    assert created.status_code == 201, created.text
    listed = await asgi_client.get("/contracts")
    assert [c["id"] for c in listed.json()["contracts"]] == [created.json()["id"]]
    refused = await asgi_client.get("/contracts", headers={"Authorization": "Bearer cdk_nope"})
    assert refused.status_code == 401
