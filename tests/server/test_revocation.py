"""Issue 14, revocation and roles: `keys revoke` refuses the key on the next request and
closes its monitor sockets with 4401, on SQLite and PostgreSQL, across worker processes;
a supervisor key may take no action of core's reviewer-only table (403 FORBIDDEN)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from core.permissions import ReviewerOnly
from tests.pg import run_outside_loop  # not asyncio.run: see tests/pg.py
from tests.server.conftest import Server, assert_error, cli, start_contract
from tests.server.hardened import new_key, running_server

CLOSE_UNAUTHORIZED = 4401


def _monitor_url(server: Server) -> str:
    return server.base_url.replace("http", "ws", 1) + "/api/v1/contracts/monitor"


async def _subscribed(server: Server, key: str) -> Any:
    ws = await websockets.connect(
        _monitor_url(server), additional_headers={"Authorization": f"Bearer {key}"}
    )
    await ws.send(orjson.dumps({"include_heartbeats": True}).decode())
    assert orjson.loads(await ws.recv())["type"] == "subscribed"
    return ws


async def _closed_code(ws: Any, within: float) -> int | None:
    try:
        async with asyncio.timeout(within):
            async for _ in ws:
                pass
    except TimeoutError:
        return None
    except websockets.ConnectionClosed:
        pass
    return int(ws.close_code) if ws.close_code is not None else None


async def _revoke_and_watch(server: Server, sockets: int) -> None:
    key = new_key(server)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        for _ in range(4):  # warm every cache there is (several workers may answer)
            assert (await client.get("/api/v1/contracts")).status_code == 200
        open_ws = [await _subscribed(server, key) for _ in range(sockets)]
        done = await asyncio.to_thread(cli, "keys", "revoke", key[4:12], "--db", server.db_url)
        assert done.returncode == 0, done.stderr
        for _ in range(4):  # the very next requests, on whichever process
            assert_error(await client.get("/api/v1/contracts"), 401, "UNAUTHORIZED")
        codes = await asyncio.gather(*(_closed_code(ws, within=3.0) for ws in open_ws))
    assert codes == [CLOSE_UNAUTHORIZED] * sockets
    reason = open_ws[0].close_reason
    assert "revoked" in reason, reason


def test_revoked_key_is_refused_at_once_and_its_sockets_close(server: Server) -> None:
    run_outside_loop(_revoke_and_watch(server, sockets=2))


@pytest.mark.pg
def test_revocation_reaches_every_worker(tmp_path: Path) -> None:
    """Two worker processes on PostgreSQL: sockets on both close, requests on both fail."""
    with running_server("postgresql", tmp_path, workers=2) as server:
        run_outside_loop(_revoke_and_watch(server, sockets=8))


# roles ----------------------------------------------------------------------------------

Request = Callable[[], httpx.Response]  # each row: prepare, then the refused request


def _create(s: Server, _: dict[str, Any]) -> Request:
    return lambda: s.client("supervisor").post(
        "/contracts", json={"name": "x", "contractType": "simple"}
    )


def _update(s: Server, c: dict[str, Any]) -> Request:
    return lambda: s.client("supervisor").patch(f"/contracts/{c['id']}", json={"name": "renamed"})


def _delete(s: Server, c: dict[str, Any]) -> Request:
    return lambda: s.client("supervisor").delete(f"/contracts/{c['id']}")


def _auto_complete(s: Server, c: dict[str, Any]) -> Request:
    return lambda: s.client("supervisor").put(
        f"/contracts/{c['id']}/auto-complete", json={"enabled": False}
    )


def _restart(s: Server, c: dict[str, Any]) -> Request:
    return lambda: s.client("supervisor").post(f"/contracts/{c['id']}/supervisor/restart")


def _answer(s: Server, c: dict[str, Any]) -> Request:
    asked = s.client("supervisor").post(
        f"/contracts/{c['id']}/questions", json={"question": "ok?", "questionType": "confirmation"}
    )
    assert asked.status_code == 201, asked.text
    qid = asked.json()["id"]
    return lambda: s.client("supervisor").post(f"/questions/{qid}/answer", json={"answer": "yes"})


def _feedback(s: Server, c: dict[str, Any]) -> Request:
    """The request a reviewer makes to ask for changes (test_api_phase shows it succeed)."""
    return lambda: s.client("supervisor").post(
        f"/contracts/{c['id']}/phase", json={"phase": "execute", "feedback": "redo it"}
    )


def _asked_item(s: Server, c: dict[str, Any]) -> str:
    asked = s.client("supervisor").post(
        f"/contracts/{c['id']}/questions", json={"question": "ok?", "questionType": "confirmation"}
    )
    assert asked.status_code == 201, asked.text
    return f"question:{asked.json()['id']}"


def _snooze(s: Server, c: dict[str, Any]) -> Request:
    item = _asked_item(s, c)
    body = {"until": "2999-01-01T00:00:00Z"}
    return lambda: s.client("supervisor").post(f"/inbox/{item}/snooze", json=body)


def _claim(s: Server, c: dict[str, Any]) -> Request:
    item = _asked_item(s, c)
    return lambda: s.client("supervisor").post(f"/inbox/{item}/claim")


ROWS: dict[ReviewerOnly, Callable[[Server, dict[str, Any]], Request]] = {
    ReviewerOnly.CREATE_CONTRACT: _create,
    ReviewerOnly.UPDATE_CONTRACT: _update,
    ReviewerOnly.DELETE_CONTRACT: _delete,
    ReviewerOnly.SET_AUTO_COMPLETE: _auto_complete,
    ReviewerOnly.RESTART_SUPERVISOR: _restart,
    ReviewerOnly.ANSWER_QUESTION: _answer,
    ReviewerOnly.REQUEST_CHANGES: _feedback,
    ReviewerOnly.SNOOZE_ITEM: _snooze,
    ReviewerOnly.CLAIM_ITEM: _claim,
}


def test_every_row_of_the_table_has_a_test() -> None:
    assert set(ROWS) == set(ReviewerOnly)


@pytest.mark.parametrize("action", list(ReviewerOnly), ids=lambda a: a.name.lower())
def test_supervisor_key_may_not(server: Server, action: ReviewerOnly) -> None:
    contract = start_contract(
        server.client("reviewer"), server.client("supervisor"), phaseGuard=True
    )
    refused = ROWS[action](server, contract)
    before = server.client("reviewer").get(f"/contracts/{contract['id']}").json()
    body = assert_error(refused(), 403, "FORBIDDEN")
    assert str(action) in body["message"]
    after = server.client("reviewer").get(f"/contracts/{contract['id']}")
    assert after.status_code == 200 and after.json() == before
