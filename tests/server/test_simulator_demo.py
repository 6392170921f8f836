"""The demo keeps moving when nobody answers (issue 8 item 14) and shows a real stale
contract (issue 13): a `contract-server serve` process, `contract-server simulate` as a second
process with a 0.1 s tick (the demo's 2 s shrunk twenty times), and no reviewer at all.

Watched over consecutive windows: every window has new events, some active contracts and at
most `max_waiting` contracts waiting on the reviewer; new contracts keep arriving; some
finish and are archived; and one supervisor goes silent, so an ACTIVE contract is detected
stale by the server.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sync.server_fixture import ServerProcess, fast_server, simulating

__all__ = ["fast_server"]

pytestmark = pytest.mark.timeout(180)

SUPERVISORS = 3
MAX_WAITING = 2 * SUPERVISORS  # the simulator's default cap
TICK = 0.1


@pytest.fixture
def simulator(fast_server: ServerProcess, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = tmp_path / "simulator.log"
    with simulating(fast_server, log, supervisors=SUPERVISORS, tick=TICK, seed=11) as process:
        yield process


def _events_after(api: httpx.Client, cursor: int) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    while True:
        page = api.get("/events", params={"after": cursor, "limit": 1000}).json()
        found += page["events"]
        cursor = page["lastSeq"] or cursor
        if len(page["events"]) < 1000:
            return found, cursor


def _statuses(api: httpx.Client) -> Counter[str]:
    listed = api.get("/contracts", params={"limit": 1000}).json()["contracts"]
    return Counter(c["status"] for c in listed)


def test_the_demo_keeps_moving_for_ever_when_nobody_answers(
    fast_server: ServerProcess, simulator: subprocess.Popen[bytes]
) -> None:
    headers = {"Authorization": f"Bearer {fast_server.reviewer_key}"}
    with httpx.Client(
        base_url=fast_server.base_url + "/api/v1", headers=headers, timeout=30
    ) as api:
        time.sleep(6)  # the old simulator had frozen by now: every contract waited on us
        _, cursor = _events_after(api, 0)
        windows = []
        for _ in range(4):
            time.sleep(4)
            events, cursor = _events_after(api, cursor)
            statuses = _statuses(api)
            windows.append((Counter(e["type"] for e in events), statuses))
            assert simulator.poll() is None, "the simulator stopped"
        for kinds, statuses in windows:
            assert sum(kinds.values()) > 0, "no new events: the demo froze"
            assert statuses["active"] > 0, statuses
            # The cap is the simulator's bookkeeping: a supervisor that leaves a contract on
            # server errors can free a place early, so allow one extra per supervisor.
            assert statuses["waiting_for_input"] <= MAX_WAITING + SUPERVISORS, statuses
        assert all(kinds["contract_created"] > 0 for kinds, _ in windows[-2:]), windows
        finished = windows[-1][1]
        assert finished["archived"] > 0, finished  # completed ones are archived after a while
        stale = _stale(api)
        assert stale and all(c["status"] == "active" for c in stale)
        # The detector runs on its interval: a contract quiet for 3 s just now is reported at
        # its next pass. Every contract still stale a few passes later has been reported.
        deadline = time.monotonic() + 10
        while True:
            detected = {
                e["contract_id"] for e in _events_after(api, 0)[0] if e["type"] == "stale_detected"
            }
            still = {c["id"] for c in stale} & {c["id"] for c in _stale(api)}
            if still <= detected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert still <= detected


def _stale(api: httpx.Client) -> list[dict[str, Any]]:
    """The contracts stale by a 3 s threshold, as the API lists them."""
    found: list[dict[str, Any]] = api.get(
        "/contracts", params={"stale": "true", "threshold": "3s"}
    ).json()["contracts"]
    return found
