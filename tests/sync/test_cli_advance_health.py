"""`contracts advance --force` (§5.4: a reviewer's forced advance) and `contracts health` by
the server's stale threshold, through the real CLI and a real server (issue 10)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sync.cli_harness import Api, isolate_user_dirs, run_cli
from tests.sync.server_fixture import ServerProcess, fast_server

pytestmark = pytest.mark.timeout(180)

__all__ = ["fast_server"]


def _phase_events(api: Api, cid: str) -> list[dict[str, Any]]:
    events = api.call("GET", f"/contracts/{cid}/events")["events"]
    return [e for e in events if e["type"] == "phase_changed"]


def test_advance_force_confirms_the_guard_and_is_recorded_as_forced(
    as_reviewer: ServerProcess, api: Api
) -> None:
    made = api.active("specification")  # guarded; research-notes missing
    result = run_cli("advance", made["id"], "--phase", "specify", "--force")  # no --yes
    assert result.code == 0, result.err
    after = api.get(made["id"])
    assert (after["phase"], after["status"]) == ("specify", "active")
    [moved] = _phase_events(api, made["id"])
    assert moved["forced"] is True and moved["actor"]["role"] == "reviewer"
    assert "(forced)" in run_cli("show", made["id"], "--verbose").out


def test_a_confirmed_advance_is_not_recorded_as_forced(
    as_reviewer: ServerProcess, api: Api
) -> None:
    made = api.active("simple")  # guarded: it waits for the reviewer
    api.call("POST", f"/contracts/{made['id']}/deliverables", "supervisor",
             deliverableId="plan-document")  # fmt: skip
    result = run_cli("advance", made["id"], "--phase", "execute", "--yes")
    assert result.code == 0, result.err
    assert [e.get("forced", False) for e in _phase_events(api, made["id"])] == [False]


@pytest.fixture
def on_fast_server(
    fast_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Api]:
    """The CLI pointed at a server whose stale threshold is 3 s."""
    isolate_user_dirs(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("CONTRACTS_API_URL", fast_server.base_url)
    monkeypatch.setenv("CONTRACTS_API_KEY", fast_server.reviewer_key)
    api = Api(fast_server)
    try:
        yield api
    finally:
        api.close()


def test_health_uses_the_servers_stale_threshold(on_fast_server: Api) -> None:
    api = on_fast_server
    made = api.active()
    api.heartbeat(made["id"], made["task_id"])
    time.sleep(4.5)  # quiet for longer than the server's 3 s threshold
    result = run_cli("health", made["id"], "--format", "json")
    report = result.json()
    assert report["stale"] is True and report["stale_threshold"] == "3s"
    assert result.code == 1 and any("stale" in p for p in report["problems"])
    # An explicit --threshold still wins.
    assert (
        run_cli("health", made["id"], "--format", "json", "--threshold", "1h").json()["stale"]
        is False
    )
