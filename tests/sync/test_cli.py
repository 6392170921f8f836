"""`contracts` reading and changing commands against a real server, run in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.sync.cli_harness import Api, Terminal, run_cli
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(180)


# list -----------------------------------------------------------------------------------


def test_list_table_fits_80_columns_and_truncates_names(
    as_reviewer: ServerProcess, api: Api
) -> None:
    long = api.contract(name="A very long contract name " * 5)
    result = run_cli("list", "-n", "1000")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS", "PHASE", "IDLE"]
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.startswith(long["id"][:8]))
    assert "…" in row and "created" in row and "plan" in row


def test_list_json_is_an_array_of_contracts(as_reviewer: ServerProcess, api: Api) -> None:
    active = api.active()
    created = api.contract()
    result = run_cli("list", "--status", "active", "--format", "json", "-n", "1000")
    assert result.code == 0
    body = result.json()
    assert isinstance(body, list)
    ids = {c["id"] for c in body}
    assert active["id"] in ids and created["id"] not in ids
    assert all(c["status"] == "active" for c in body)
    assert {"id", "name", "phase", "status", "version", "contractType"} <= set(body[0])


def test_list_filters_and_limit(as_reviewer: ServerProcess, api: Api) -> None:
    spec = api.contract("specification")
    api.contract()
    by_phase = run_cli("list", "--phase", "research", "--format", "json", "-n", "1000").json()
    assert spec["id"] in {c["id"] for c in by_phase}
    assert all(c["phase"] == "research" for c in by_phase)
    assert len(run_cli("list", "-n", "1", "--format", "json").json()) == 1
    waiting = run_cli("list", "--waiting", "--format", "json", "-n", "1000").json()
    assert all(c["status"] == "waiting_for_input" for c in waiting)
    stale = run_cli("list", "--stale", "--threshold", "1h", "--format", "json").json()
    assert stale == [] or all(c["status"] == "active" for c in stale)


def test_list_compact_is_one_line_per_contract(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.contract()
    result = run_cli("list", "--format", "compact", "-n", "1000")
    line = next(line for line in result.out.splitlines() if line.startswith(made["id"][:8]))
    assert "created/plan" in line and made["name"] in line


def test_list_usage_errors_exit_2(as_reviewer: ServerProcess) -> None:
    assert run_cli("list", "--status", "sleeping").code == 2
    assert run_cli("list", "--stale", "--threshold", "soon").code == 2
    assert run_cli("list", "--threshold", "1h").code == 2  # only with --stale
    assert run_cli("list", "--format", "yaml").code == 2
    assert run_cli("list", "-n", "0").code == 2
    assert run_cli("frobnicate").code == 2


# show, health, export ---------------------------------------------------------------------


def test_show_table_verbose_json_and_prefix(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.active(description="the description")
    plain = run_cli("show", made["id"])
    assert plain.code == 0
    assert made["id"] in plain.out and "the description" in plain.out
    assert "[ ] Plan Document (plan-document, required)" in plain.out
    verbose = run_cli("show", made["id"][:8], "--verbose")
    assert verbose.code == 0
    assert "Tasks:" in verbose.out and "(supervisor)" in verbose.out
    assert "changed status created → active" in verbose.out
    body = run_cli("show", made["id"], "--format", "json", "-v").json()
    assert body["id"] == made["id"] and body["status"] == "active"
    assert {"tasks", "pendingQuestions", "supervisor", "readiness", "events"} <= set(body)


def test_show_unknown_contract_exits_1(as_reviewer: ServerProcess) -> None:
    result = run_cli("show", "00000000-0000-0000-0000-000000000000")
    assert result.code == 1
    assert "CONTRACT_NOT_FOUND" in result.err and result.out == ""
    assert run_cli("show", "zzzz").code == 1


def test_health_alive_supervisor_is_healthy(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.active()
    api.heartbeat(made["id"], made["task_id"])
    result = run_cli("health", made["id"])
    assert result.code == 0, result.out
    assert "Alive:            yes" in result.out and "Healthy:          yes" in result.out
    report = run_cli("health", made["id"], "--format", "json").json()
    assert report["alive"] is True and report["supervisor_state"] == "working"
    assert report["stale"] is False and report["ready"] is False
    assert report["missing"] and report["last_heartbeat"]


def test_health_without_supervisor_or_heartbeat_exits_1(
    as_reviewer: ServerProcess, api: Api
) -> None:
    lonely = api.contract()
    report = run_cli("health", lonely["id"], "--format", "json")
    assert report.code == 1 and "no supervisor" in report.json()["problems"]
    silent = api.active()
    result = run_cli("health", silent["id"])
    assert result.code == 1 and "supervisor not alive" in result.out


def test_health_reports_what_it_waits_for(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.active()
    api.call(
        "POST",
        f"/contracts/{made['id']}/questions",
        "supervisor",
        question="Go?",
        questionType="confirmation",
    )
    report = run_cli("health", made["id"], "--format", "json").json()
    assert "question" in report["waiting_for"] and "question: Go?" in report["waiting_for"]


def test_export_to_a_file(as_reviewer: ServerProcess, api: Api, tmp_path: Path) -> None:
    made = api.active()
    target = tmp_path / "contract.json"
    result = run_cli("export", made["id"], "--format", "json", "--output", str(target))
    assert result.code == 0 and str(target) in result.err
    exported = json.loads(target.read_text())
    assert exported["contract"]["id"] == made["id"]
    assert exported["events"][0]["type"] == "contract_created"
    to_stdout = run_cli("export", made["id"])
    assert to_stdout.json()["contract"]["id"] == made["id"]
    assert run_cli("export", made["id"], "-o", str(tmp_path / "missing" / "x.json")).code == 2


# pause, resume, restart-supervisor --------------------------------------------------------


def test_pause_and_resume(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.active()
    paused = run_cli("pause", made["id"], "--reason", "waiting for review")
    assert paused.code == 0 and "active → paused" in paused.out
    assert api.get(made["id"])["status"] == "paused"
    again = run_cli("pause", made["id"])
    assert again.code == 1 and "INVALID_TRANSITION" in again.err
    resumed = run_cli("resume", made["id"][:8])
    assert resumed.code == 0 and api.get(made["id"])["status"] == "active"


def test_restart_supervisor(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.active()
    assert run_cli("restart-supervisor", made["id"]).code == 0
    events = api.call("GET", f"/contracts/{made['id']}/events")["events"]
    assert events[-1]["type"] == "supervisor_restart_requested"


# advance ------------------------------------------------------------------------------------


def _ready_to_advance(api: Api, **extra: Any) -> dict[str, Any]:
    made = api.active(**extra)
    api.call(
        "POST", f"/contracts/{made['id']}/deliverables", "supervisor", deliverableId="plan-document"
    )
    return api.get(made["id"])


def test_advance_guarded_without_a_terminal_exits_3_and_changes_nothing(
    as_reviewer: ServerProcess, api: Api
) -> None:
    before = _ready_to_advance(api)
    result = run_cli("advance", before["id"], "--phase", "execute")
    assert result.code == 3
    assert "Plan Document" in result.out and "--yes" in result.err
    after = api.get(before["id"])
    assert (after["phase"], after["version"], after["status"]) == (
        before["phase"],
        before["version"],
        before["status"],
    )


def test_advance_guarded_with_yes(as_reviewer: ServerProcess, api: Api) -> None:
    made = _ready_to_advance(api)
    result = run_cli("advance", made["id"], "--phase", "execute", "--yes")
    assert result.code == 0 and "plan → execute" in result.out
    assert api.get(made["id"])["phase"] == "execute"


def test_advance_confirmed_or_refused_on_a_terminal(as_reviewer: ServerProcess, api: Api) -> None:
    made = _ready_to_advance(api)
    refused = run_cli("advance", made["id"], "--phase", "execute", stdin=Terminal("n\n"))
    assert refused.code == 3 and "[y/N]" in refused.err
    assert api.get(made["id"])["phase"] == "plan"
    confirmed = run_cli("advance", made["id"], "--phase", "execute", stdin=Terminal("y\n"))
    assert confirmed.code == 0
    assert api.get(made["id"])["phase"] == "execute"


def test_advance_unguarded_needs_no_confirmation(as_reviewer: ServerProcess, api: Api) -> None:
    # (an unguarded contract with its deliverables done advances on its own: force instead)
    made = api.active("specification", phaseGuard=False)
    result = run_cli("advance", made["id"], "--phase", "specify", "--force")
    assert result.code == 0 and api.get(made["id"])["phase"] == "specify"


def test_advance_missing_deliverables_needs_force(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.active("specification")
    refused = run_cli("advance", made["id"], "--phase", "specify", "--yes")
    assert refused.code == 1 and "VALIDATION_FAILED" in refused.err
    forced = run_cli("advance", made["id"], "--phase", "specify", "--yes", "--force")
    assert forced.code == 0 and api.get(made["id"])["phase"] == "specify"
    assert run_cli("advance", made["id"]).code == 2  # --phase is required


# questions and answers --------------------------------------------------------------------


def test_questions_and_answer(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.active()
    asked = api.call(
        "POST",
        f"/contracts/{made['id']}/questions",
        "supervisor",
        question="Which database?",
        questionType="choice",
        choices=["sqlite", "postgres"],
    )
    table = run_cli("questions")
    assert table.code == 0 and asked["id"][:8] in table.out and "sqlite / postgres" in table.out
    listed = run_cli("questions", "--format", "json", "--contract", made["id"]).json()
    assert [q["id"] for q in listed] == [asked["id"]]
    compact = run_cli("questions", "--format", "compact")
    assert "Which database?" in compact.out
    wrong = run_cli("answer", asked["id"], "mysql")
    assert wrong.code == 1 and "VALIDATION_FAILED" in wrong.err
    answered = run_cli("answer", asked["id"][:8], "postgres")
    assert answered.code == 0 and "postgres" in answered.out
    assert run_cli("questions", "--format", "json", "--contract", made["id"]).json() == []
    all_of_them = run_cli("questions", "--all", "--format", "json", "--contract", made["id"])
    assert all_of_them.json()[0]["answer"] == "postgres"
    again = run_cli("answer", asked["id"], "sqlite")
    assert again.code == 1 and "QUESTION_ALREADY_ANSWERED" in again.err
