"""Issue 14, resource limits, against a real server with shrunken `[server]` limits:
the open-file limit, head and body deadlines, the connection cap with its /health reserve,
monitor subscriber caps, unauthenticated sockets, the bounded key cache, and
`metrics_require_key`. Only 127.0.0.1; every wait bounded."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.pg import run_outside_loop  # not asyncio.run: see tests/pg.py
from tests.server.conftest import Server, assert_error
from tests.server.hardened import backends, running_server
from tests.support.keys import create_key_now

LIMITS = {
    "header_timeout_seconds": 2.0,
    "body_timeout_seconds": 1.0,
    "max_connections": 30,
    "health_reserve": 5,
    "ws_max_per_key": 2,
    "ws_max_total": 3,
    "metrics_require_key": True,
    "key_cache_entries": 50,
}
LOW_SOFT_LIMIT = 200


@pytest.fixture(scope="module", params=backends())
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"limited-{request.param}")
    with running_server(request.param, tmp, settings=LIMITS, soft_file_limit=LOW_SOFT_LIMIT) as srv:
        yield srv


def _address(server: Server) -> tuple[str, int]:
    port = int(server.base_url.rsplit(":", 1)[1])
    return "127.0.0.1", port


def _closed_after(sock: socket.socket, within: float) -> float | None:
    """Seconds until the server closes `sock` (reading and dropping what it sends)."""
    start = time.monotonic()
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_soft_file_limit_is_raised_to_the_hard_one(limited: Server) -> None:
    limits = Path(f"/proc/{limited.process.pid}/limits").read_text()
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert int(soft) == int(hard) > LOW_SOFT_LIMIT, line


def test_a_silent_connection_is_closed(limited: Server) -> None:
    with socket.create_connection(_address(limited)) as sock:
        waited = _closed_after(sock, within=6.0)
    assert waited is not None and waited < 4.0, waited


def test_a_slow_request_head_is_closed(limited: Server) -> None:
    """Bytes keep coming, but the head is not complete by the deadline: closed."""
    start = time.monotonic()
    with socket.create_connection(_address(limited)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for _ in range(40):  # one header byte every 0.2 s, up to 8 s
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.2)
            try:
                if sock.recv(4096) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
    assert closed and time.monotonic() - start < 5.0


def test_a_stalled_body_is_closed(limited: Server) -> None:
    head = (
        "POST /api/v1/contracts HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        f"Authorization: Bearer {limited.keys['reviewer']}\r\ncontent-length: 100\r\n\r\n"
    )
    with socket.create_connection(_address(limited)) as sock:
        sock.sendall(head.encode() + b'{"name": "')
        waited = _closed_after(sock, within=6.0)
    assert waited is not None and waited < 3.0, waited


def test_the_connection_cap_answers_503_but_health_still_answers(limited: Server) -> None:
    address = _address(limited)
    idle = [socket.create_connection(address) for _ in range(LIMITS["max_connections"])]
    try:
        with httpx.Client(base_url=limited.base_url, timeout=5) as client:
            busy = client.get("/api/v1/contracts", headers={"x-makima-api-key": "k"})
            assert_error(busy, 503, "SERVICE_UNAVAILABLE")
        with httpx.Client(base_url=limited.base_url, timeout=5) as client:
            assert client.get("/health").status_code == 200
        idle += [socket.create_connection(address) for _ in range(LIMITS["health_reserve"])]
        with socket.create_connection(address) as beyond:
            beyond.settimeout(3)
            answer = beyond.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b'"code":"SERVICE_UNAVAILABLE"' in answer
    finally:
        for sock in idle:
            sock.close()


def _ws_url(server: Server) -> str:
    return server.base_url.replace("http", "ws", 1) + "/api/v1/contracts/monitor"


async def _subscribe(server: Server, key: str) -> tuple[Any, dict[str, Any]]:
    ws = await websockets.connect(
        _ws_url(server), additional_headers={"Authorization": f"Bearer {key}"}
    )
    await ws.send("{}")
    try:
        async with asyncio.timeout(5):
            return ws, orjson.loads(await ws.recv())
    except websockets.ConnectionClosed:
        return ws, {"closed": ws.close_code, "reason": ws.close_reason}


async def _ws_caps(server: Server, keys: list[str]) -> list[dict[str, Any]]:
    opened = []
    try:
        for key in keys:
            opened.append(await _subscribe(server, key))
        return [frame for _, frame in opened]
    finally:
        for ws, _ in opened:
            await ws.close()


def test_monitor_subscribers_are_capped_per_key_and_in_total(limited: Server) -> None:
    a, b, c = (create_key_now(limited.db_url, "alice", "reviewer") for _ in range(3))
    frames = run_outside_loop(_ws_caps(limited, [a, a, a, b, c]))
    kinds = [f.get("type") or f.get("closed") for f in frames]
    assert kinds == ["subscribed", "subscribed", 4429, "subscribed", 4429], frames
    assert "this key" in frames[2]["reason"] and "server" in frames[4]["reason"]


async def _unauthenticated(server: Server, headers: dict[str, str]) -> tuple[float, int | None]:
    start = time.monotonic()
    async with websockets.connect(_ws_url(server), additional_headers=headers) as ws:
        try:
            async with asyncio.timeout(5):
                await ws.recv()
        except websockets.ConnectionClosed:
            pass
        return time.monotonic() - start, ws.close_code


@pytest.mark.parametrize("headers", [{}, {"x-makima-api-key": "cdk_wrong"}], ids=["none", "bad"])
def test_unauthenticated_sockets_close_within_3_seconds(
    limited: Server, headers: dict[str, str]
) -> None:
    waited, code = run_outside_loop(_unauthenticated(limited, headers))
    assert code == 4401 and waited < 3.0


def test_unknown_keys_do_not_grow_the_key_cache(limited: Server) -> None:
    with httpx.Client(base_url=limited.base_url) as client:
        for _ in range(200):
            key = "cdk_" + uuid.uuid4().hex
            assert (
                client.get("/api/v1/contracts", headers={"x-makima-api-key": key}).status_code
                == 401
            )
        metrics = client.get("/metrics", headers={"x-makima-api-key": limited.keys["reviewer"]})
    line = next(x for x in metrics.text.splitlines() if x.startswith("api_key_cache_entries "))
    assert int(line.split()[1]) <= LIMITS["key_cache_entries"], line


def test_metrics_can_require_a_key(limited: Server) -> None:
    with httpx.Client(base_url=limited.base_url) as client:
        assert_error(client.get("/metrics"), 401, "UNAUTHORIZED")
        keyed = client.get("/metrics", headers={"Authorization": f"Bearer {limited.keys['admin']}"})
        assert keyed.status_code == 200 and "contracts_by_status" in keyed.text
        assert client.get("/health").json() == {"status": "ok", "db": "ok"}
        assert client.get("/openapi.json").status_code == 200
