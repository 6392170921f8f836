"""`contracts cleanup` and `contracts batch` against a real server: previews, confirmation,
forced runs and the deletion log."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.config import log_dir
from tests.sync.cli_harness import Api, Terminal, run_cli
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def as_admin(as_reviewer: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> ServerProcess:
    monkeypatch.setenv("CONTRACTS_API_KEY", as_reviewer.admin_key)
    return as_reviewer


def failed_contract(api: Api) -> str:
    made = api.active()
    api.call("POST", f"/contracts/{made['id']}/status", targetStatus="failed", reason="broken")
    return str(made["id"])


def cleanup_log() -> str:
    path = log_dir() / "cleanup.log"
    return path.read_text() if path.exists() else ""


def test_cleanup_needs_an_action(as_admin: ServerProcess) -> None:
    result = run_cli("cleanup")
    assert result.code == 2 and "--archive" in result.err
    assert run_cli("cleanup", "--archive", "--older-than", "soon").code == 2


def test_cleanup_dry_run_lists_and_changes_nothing(as_admin: ServerProcess, api: Api) -> None:
    cid = failed_contract(api)
    result = run_cli("cleanup", "--archive", "--older-than", "0s", "--dry-run")
    assert result.code == 0
    assert "archive_old (dry run): would archive" in result.out and cid in result.out
    assert api.get(cid)["status"] == "failed"
    assert cleanup_log() == ""


def test_cleanup_without_force_or_terminal_refuses(as_admin: ServerProcess, api: Api) -> None:
    cid = failed_contract(api)
    result = run_cli("cleanup", "--all", "--older-than", "0s")
    assert result.code == 3 and "--force" in result.err
    assert api.get(cid)["status"] == "failed"


def test_cleanup_refused_on_a_terminal(as_admin: ServerProcess, api: Api) -> None:
    cid = failed_contract(api)
    result = run_cli("cleanup", "--archive", "--older-than", "0s", stdin=Terminal("no\n"))
    assert result.code == 3 and "[y/N]" in result.err
    assert api.get(cid)["status"] == "failed"


def test_cleanup_forced_archives_deletes_and_logs_every_deletion(
    as_admin: ServerProcess, api: Api
) -> None:
    cid = failed_contract(api)
    young = failed_contract(api)
    archived = run_cli("cleanup", "--archive", "--older-than", "0s", "--force")
    assert archived.code == 0, archived.err
    assert api.get(cid)["status"] == "archived" and api.get(young)["status"] == "archived"
    result = run_cli("cleanup", "--delete-archived", "--older-than", "0s", "--force")
    assert result.code == 0, result.err
    assert "cleanup_archived: " in result.out
    for gone in (cid, young):
        response = api.client("reviewer").get(f"/contracts/{gone}")
        assert response.status_code == 404
        assert f"deleted contract {gone}" in result.err
    log = cleanup_log()
    assert f"archived contract {cid}" in log and f"deleted contract {cid}" in log
    assert f"deleted contract {young}" in log


def test_cleanup_all_on_a_terminal_with_yes(as_admin: ServerProcess, api: Api) -> None:
    cid = failed_contract(api)
    result = run_cli("cleanup", "--all", "--older-than", "0s", stdin=Terminal("y\ny\n"))
    assert result.code == 0, result.err
    assert api.client("reviewer").get(f"/contracts/{cid}").status_code == 404
    assert f"deleted contract {cid}" in cleanup_log()


def test_cleanup_needs_an_admin_key(as_reviewer: ServerProcess, api: Api) -> None:
    result = run_cli("cleanup", "--archive", "--dry-run")
    assert result.code == 1 and "FORBIDDEN" in result.err


@pytest.mark.parametrize(
    "arguments",
    [
        ["archive_old", "--older-than", "7d", "--status", "completed,failed"],
        ["pause_all", "--reason", "maintenance"],
        ["resume_all"],
        ["cleanup_archived", "--older-than", "30d"],
        ["restart_stale", "--stale-threshold", "30m"],
    ],
)
def test_batch_dry_run_of_every_operation(as_admin: ServerProcess, arguments: list[str]) -> None:
    result = run_cli("batch", *arguments, "--dry-run")
    assert result.code == 0, result.err
    assert result.out.startswith(f"{arguments[0]} (dry run): would ")


def test_batch_pause_all_needs_yes_then_runs(as_admin: ServerProcess, api: Api) -> None:
    made = api.active()
    refused = run_cli("batch", "pause_all", "--reason", "maintenance")
    assert refused.code == 3 and "--yes" in refused.err
    assert api.get(made["id"])["status"] == "active"
    done = run_cli("batch", "pause_all", "--reason", "maintenance", "--yes")
    assert done.code == 0 and made["id"] in done.out
    assert api.get(made["id"])["status"] == "paused"
    resumed = run_cli("batch", "resume_all", "--yes")
    assert resumed.code == 0 and api.get(made["id"])["status"] == "active"


def test_batch_archive_old_with_status_filter(as_admin: ServerProcess, api: Api) -> None:
    cid = failed_contract(api)
    result = run_cli("batch", "archive_old", "--older-than", "0s", "--status", "failed", "--yes")
    assert result.code == 0 and cid in result.out
    assert api.get(cid)["status"] == "archived"
    assert f"archived contract {cid}" in cleanup_log()


def test_batch_usage_errors(as_admin: ServerProcess, tmp_path: Path) -> None:
    assert run_cli("batch", "explode").code == 2
    assert run_cli("batch", "archive_old", "--older-than", "a week").code == 2
    bad_status = run_cli("batch", "archive_old", "--status", "sleeping", "--dry-run")
    assert bad_status.code == 2 and "Unknown status" in bad_status.err
    not_archivable = run_cli("batch", "archive_old", "--status", "active", "--dry-run")
    assert not_archivable.code == 1 and "VALIDATION_FAILED" in not_archivable.err


def test_batch_needs_an_admin_key(as_reviewer: ServerProcess) -> None:
    result = run_cli("batch", "resume_all", "--dry-run")
    assert result.code == 1 and "FORBIDDEN" in result.err
