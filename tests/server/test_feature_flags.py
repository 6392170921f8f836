"""The plan's `[feature_flags]` and `[contracts] auto_complete_enabled`, through a real
`contract-server serve` process and the real `contracts` CLI (issue 10, "Configuration the
plan promised")."""

from __future__ import annotations

import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import SERVER_CLI, ServerProcess, clean_env, serving
from tests.sync.cli_harness import Api, isolate_user_dirs, run_cli

pytestmark = pytest.mark.timeout(180)

FLAGS_OFF = """\
[feature_flags]
auto_complete = false
supervisor_heartbeat = false
monitoring_dashboard = false
"""


def _serve(
    *args: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`contract-server serve ARGS`; a server that starts instead of stopping is a failure."""
    try:
        return subprocess.run(
            [*SERVER_CLI, "serve", "--port", "1", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env() | (env or {}),
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("contract-server serve kept running instead of refusing its configuration")


def _error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


def _finish_terminal_task(api: Api, contract: dict[str, Any]) -> dict[str, Any]:
    """An `execute` contract (one phase, no deliverables) whose only worker task is done:
    its terminal gate is satisfied."""
    cid = contract["id"]
    task = api.call("POST", f"/contracts/{cid}/tasks", "supervisor", name="worker")
    api.call("PATCH", f"/contracts/{cid}/tasks/{task['id']}", "supervisor", status="running")
    api.call("PATCH", f"/contracts/{cid}/tasks/{task['id']}", "supervisor", status="done")
    return api.get(cid)


def test_an_unknown_flag_stops_the_server_at_start(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text("[feature_flags]\nauto_completes = false\n")
    done = _serve("--db", f"sqlite:///{tmp_path / 'x.db'}", "--config", str(config))
    assert done.returncode == 2
    assert "auto_completes" in done.stderr and "monitoring_dashboard" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_misspelt_table_stops_the_server_at_start(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text("[feature_flag]\nauto_complete = false\n")
    done = _serve("--db", f"sqlite:///{tmp_path / 'x.db'}", "--config", str(config))
    assert done.returncode == 2 and "feature_flag" in done.stderr and "feature_flags" in done.stderr


def test_print_config_shows_the_effective_settings_and_flags_without_secrets(
    tmp_path: Path,
) -> None:
    config = tmp_path / "server.toml"
    config.write_text(
        "[contracts]\nstale_threshold_minutes = 12.0\n[feature_flags]\nauto_complete = false\n"
    )
    done = _serve(
        "--db", "postgresql://desk:hunter2@db.example/desk", "--config", str(config),
        "--print-config",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "hunter2" not in done.stdout and "db.example" in done.stdout
    effective = tomllib.loads(done.stdout)
    assert effective["contracts"]["stale_threshold_minutes"] == 12.0
    assert effective["contracts"]["heartbeat_interval_seconds"] == 30.0  # a default
    assert effective["server"]["max_connections"] == 4096
    assert effective["feature_flags"] == {
        "enhanced_contract_status": True,
        "auto_complete": False,
        "supervisor_heartbeat": True,
        "monitoring_dashboard": True,
    }


def test_the_environment_overrides_a_flag(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text("[feature_flags]\nmonitoring_dashboard = true\n")
    done = _serve(
        "--config", str(config), "--print-config",
        env={"CONTRACTS_FEATURE_MONITORING_DASHBOARD": "false"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert tomllib.loads(done.stdout)["feature_flags"]["monitoring_dashboard"] is False


def test_flags_off_turn_their_features_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path / "server", FLAGS_OFF) as server:
        api = Api(server)
        try:
            _check_flags_off(server, api, tmp_path, monkeypatch)
        finally:
            api.close()


def _check_flags_off(
    server: ServerProcess, api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.call("GET", "/config")["feature_flags"]["monitoring_dashboard"] is False
    # auto_complete off: a ready terminal phase stays active, waiting for a person.
    made = api.active("execute", phaseGuard=False, autoCompleteEnabled=True)
    after = _finish_terminal_task(api, made)
    time.sleep(0.5)
    assert api.get(made["id"])["status"] == "active", after
    completion = api.call("POST", f"/contracts/{made['id']}/check-completion")
    assert completion["ready"] is True and completion["would_complete"] is False
    # supervisor_heartbeat off: the fast path, the route (idempotent) and the batch refuse.
    cid, beat = made["id"], {"task_id": made["task_id"], "state": "working", "phase": "execute"}
    supervisor = api.client("supervisor")
    for headers in ({}, {"Idempotency-Key": "k-1"}):
        answer = supervisor.post(
            f"/contracts/{cid}/supervisor/heartbeat", json=beat, headers=headers
        )
        assert answer.status_code == 404 and _error(answer)["code"] == "FEATURE_DISABLED"
        assert "supervisor_heartbeat" in _error(answer)["message"]
    batch = supervisor.post(
        "/supervisor/heartbeats", json={"heartbeats": [beat | {"contract_id": cid}]}
    )
    assert (batch.status_code, _error(batch)["code"]) == (404, "FEATURE_DISABLED")
    # monitoring_dashboard off: the dashboard and the monitor (through the CLI) refuse.
    board = api.client("reviewer").get("/contracts/dashboard")
    assert (board.status_code, _error(board)["code"]) == (404, "FEATURE_DISABLED")
    isolate_user_dirs(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("CONTRACTS_API_URL", server.base_url)
    monkeypatch.setenv("CONTRACTS_API_KEY", server.reviewer_key)
    monitor = run_cli("monitor", "--format", "json", "--duration", "20")
    assert monitor.code == 1
    assert "FEATURE_DISABLED" in monitor.err and "monitoring_dashboard" in monitor.err
    dashboard_cli = run_cli("list", "--stale")  # still works: lists are not the dashboard
    assert dashboard_cli.code == 0


def test_enhanced_contract_status_off_refuses_status_moves(tmp_path: Path) -> None:
    with serving(tmp_path / "server", "[feature_flags]\nenhanced_contract_status = false\n") as s:
        api = Api(s)
        try:
            made = api.contract()
            answer = api.client("reviewer").post(
                f"/contracts/{made['id']}/status", json={"targetStatus": "paused"}
            )
            assert (answer.status_code, _error(answer)["code"]) == (404, "FEATURE_DISABLED")
            assert "enhanced_contract_status" in _error(answer)["message"]
            assert api.get(made["id"])["status"] == "created"
        finally:
            api.close()


def test_auto_complete_enabled_is_the_default_for_new_contracts(tmp_path: Path) -> None:
    """`[contracts] auto_complete_enabled = false` is a default (§8.1), not a global switch."""
    with serving(tmp_path / "server", "[contracts]\nauto_complete_enabled = false\n") as server:
        api = Api(server)
        try:
            assert api.contract()["autoCompleteEnabled"] is False
            # A contract that asks for auto-completion still gets it.
            made = api.active("execute", phaseGuard=False, autoCompleteEnabled=True)
            assert made["autoCompleteEnabled"] is True
            after = _finish_terminal_task(api, made)
            assert after["status"] in ("completing", "completed"), after["status"]
        finally:
            api.close()
