"""`contracts cleanup --worktrees` (§5.2) against a real server, and the simulator as the
daemon that acts on it; the simulator's heartbeat pace from `[contracts]
heartbeat_interval_seconds` (issue 10)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.sync.cli_harness import Api, Terminal, isolate_user_dirs, run_cli
from tests.sync.server_fixture import ServerProcess, serving, simulating

pytestmark = pytest.mark.timeout(240)


def _report(api: Api, contract: dict[str, Any], paths: list[str]) -> None:
    """A heartbeat of the contract's supervisor listing its daemon's worktrees."""
    api.call(
        "POST",
        f"/contracts/{contract['id']}/supervisor/heartbeat",
        "supervisor",
        task_id=contract["task_id"],
        state="working",
        phase=contract["phase"],
        worktrees=paths,
    )


def _cleanable(api: Api) -> list[str]:
    return [w["path"] for w in api.call("GET", "/worktrees?cleanable=true")["worktrees"]]


def _cleanup_events(api: Api, cid: str) -> list[dict[str, Any]]:
    events = api.call("GET", f"/contracts/{cid}/events")["events"]
    return [e for e in events if e["type"] == "worktree_cleanup_requested"]


def test_cleanup_worktrees_lists_asks_and_requests_removal(
    as_reviewer: ServerProcess, api: Api
) -> None:
    done, running = api.active(), api.active()
    _report(api, done, ["/wt/t1/done-a", "/wt/t1/done-b"])
    _report(api, running, ["/wt/t1/running"])
    api.call("POST", f"/contracts/{done['id']}/status", "supervisor",
             targetStatus="failed", reason="build broke")  # fmt: skip
    assert {"/wt/t1/done-a", "/wt/t1/done-b"} <= set(_cleanable(api))
    assert "/wt/t1/running" not in _cleanable(api)

    refused = run_cli("cleanup", "--worktrees")  # no terminal to ask on: nothing happens
    assert refused.code == 3 and "--force" in refused.err
    assert "/wt/t1/done-a" in refused.out and "/wt/t1/running" not in refused.out
    assert run_cli("cleanup", "--worktrees", stdin=Terminal("n\n")).code == 3
    dry = run_cli("cleanup", "--worktrees", "--dry-run")
    assert dry.code == 0 and "/wt/t1/done-b" in dry.out
    assert _cleanup_events(api, done["id"]) == []

    confirmed = run_cli("cleanup", "--worktrees", stdin=Terminal("y\n"))
    assert confirmed.code == 0, confirmed.err
    assert "/wt/t1/done-a" in confirmed.err  # each request is logged
    events = _cleanup_events(api, done["id"])
    assert sorted(e["path"] for e in events) == ["/wt/t1/done-a", "/wt/t1/done-b"]
    assert {e["supervisor_task_id"] for e in events} == {done["task_id"]}
    assert _cleanup_events(api, running["id"]) == []
    shown = run_cli("show", done["id"], "--verbose")
    assert "asked the daemon to remove the worktree /wt/t1/d" in shown.out  # 80 columns

    _report(api, done, [])  # the daemon removed them and says so
    assert not {"/wt/t1/done-a", "/wt/t1/done-b"} & set(_cleanable(api))


def test_cleanup_refuses_open_contracts_unknown_paths_and_supervisors(
    as_reviewer: ServerProcess, api: Api
) -> None:
    running = api.active()
    _report(api, running, ["/wt/t2/x"])
    reviewer, supervisor = api.client("reviewer"), api.client("supervisor")
    path = f"/contracts/{running['id']}/worktrees/cleanup"
    open_one = reviewer.post(path, json={"paths": ["/wt/t2/x"]})
    assert (open_one.status_code, open_one.json()["code"]) == (400, "VALIDATION_FAILED")
    api.call("POST", f"/contracts/{running['id']}/status", "supervisor",
             targetStatus="failed", reason="x")  # fmt: skip
    unknown = reviewer.post(path, json={"paths": ["/wt/t2/never-reported"]})
    assert unknown.status_code == 400 and "never-reported" in unknown.json()["message"]
    assert supervisor.post(path, json={}).status_code == 403
    extra = reviewer.post(path, json={"paths": [], "force": True})
    assert extra.status_code == 400
    bad = supervisor.post(
        f"/contracts/{running['id']}/supervisor/heartbeat",
        json={"task_id": running["task_id"], "state": "working", "phase": "plan", "worktrees": "x"},
    )
    assert bad.status_code == 400 and "worktrees" in bad.json()["message"]


def test_cleanup_all_runs_the_worktree_step_too(
    as_reviewer: ServerProcess, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRACTS_API_KEY", as_reviewer.admin_key)  # batches need an admin
    done = api.active()
    _report(api, done, ["/wt/t3/a"])
    api.call("POST", f"/contracts/{done['id']}/status", "supervisor",
             targetStatus="failed", reason="x")  # fmt: skip
    result = run_cli("cleanup", "--all", "--older-than", "30d", "--force")
    assert result.code == 0, result.err
    assert "/wt/t3/a" in result.out
    assert [e["path"] for e in _cleanup_events(api, done["id"])] == ["/wt/t3/a"]


SIMULATED = """\
[contracts]
heartbeat_interval_seconds = 0.25
stale_detection_interval_seconds = 3600.0
"""


def _beats(api: Api, cid: str) -> int:
    history = api.call("GET", f"/contracts/{cid}/supervisor/heartbeats?limit=1000")
    return len(history["heartbeats"])


def _wait(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_simulator_paces_heartbeats_and_removes_worktrees_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path / "server", SIMULATED) as server:
        api = Api(server)
        try:
            with simulating(server, tmp_path / "sim.log", supervisors=1, tick=3.0, seed=7):
                _paced_and_cleaned(server, api, tmp_path, monkeypatch)
        finally:
            api.close()


def _paced_and_cleaned(
    server: ServerProcess, api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported = _wait("a simulated worktree", lambda: api.call("GET", "/worktrees")["worktrees"])
    worktree = reported[0]
    cid = worktree["contractId"]
    restore = api.call("GET", f"/contracts/{cid}/supervisor/restore", "supervisor")
    assert restore["heartbeat_interval_seconds"] == 0.25
    before = _beats(api, cid)
    time.sleep(3.0)  # one tick: the old simulator sent one heartbeat in it
    assert _beats(api, cid) - before >= 5

    api.call("POST", f"/contracts/{cid}/status", "supervisor",
             targetStatus="failed", reason="given up for the test")  # fmt: skip
    isolate_user_dirs(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("CONTRACTS_API_URL", server.base_url)
    monkeypatch.setenv("CONTRACTS_API_KEY", server.reviewer_key)
    result = run_cli("cleanup", "--worktrees", "--force")
    assert result.code == 0, result.err
    assert worktree["path"] in result.out
    _wait(
        "the simulator to report the worktree gone",
        lambda: worktree["path"] not in _cleanable(api),
        timeout=30,
    )
