"""sync/render.py (tables, lines, JSON) and sync/config.py file handling, without a server."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from core.actors import Actor, Role
from core.api.batch import BatchResult
from core.api.contracts import ReadinessPublic, SupervisorStatusPublic
from core.events import EventType, LoggedEvent
from core.model import QuestionType
from core.status import ContractStatus, WaitingFor
from sync import render
from sync.answers import ContractDetail
from sync.cli_contracts import health_report
from sync.config import (
    ConfigError,
    config_path,
    credentials_path,
    read_config_file,
    store_login,
    write_config_value,
)
from tests.core.factories import T0, make_contract, make_question
from tests.sync.cli_harness import isolate_user_dirs

NOW = T0 + timedelta(hours=3, minutes=5)


def test_fit_truncates_with_an_ellipsis() -> None:
    assert render.fit("short", 10) == "short"
    assert render.fit("exactly10!", 10) == "exactly10!"
    assert render.fit("much too long", 8) == "much to…"
    assert len(render.fit("x" * 100, 20)) == 20
    assert render.fit("two\nlines", 20) == "two lines"
    assert render.fit("anything", 0) == ""


@pytest.mark.parametrize("width", [80, 100, 60])
def test_contracts_table_fits_the_width(width: int) -> None:
    contracts = [
        make_contract(id=f"{n:08d}-rest-of-the-id", name="N" * 200, last_activity_at=T0)
        for n in range(3)
    ]
    text = render.contracts_table(contracts, NOW, width)
    lines = text.splitlines()
    assert len(lines) == 4
    assert all(len(line) <= max(width, 70) for line in lines)
    assert lines[1].startswith("00000000  NNN") and "…" in lines[1]
    assert "active" in lines[1] and "plan" in lines[1] and "3h 5m" in lines[1]


def test_empty_lists_say_so() -> None:
    assert render.contracts_table([], NOW) == "No contracts."
    assert render.questions_table([], NOW) == "No pending questions."


def test_contracts_compact_and_json() -> None:
    contract = make_contract(status=ContractStatus.PAUSED, name="Reports")
    assert render.contracts_compact([contract], NOW) == "c1 paused/plan Reports"
    assert json.loads(render.contracts_json([contract])) == [contract.to_wire()]


def test_questions_table_shows_choices() -> None:
    question = make_question(
        id="q1234567890", question_type=QuestionType.CHOICE, choices=("a", "b")
    )
    text = render.questions_table([question], NOW)
    assert "q1234567" in text and "Which database? [a / b]" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert json.loads(render.questions_json([question]))[0]["choices"] == ["a", "b"]


def test_contract_summary_marks_the_current_phase() -> None:
    text = render.contract_summary(make_contract(phase="execute"), NOW)
    assert "plan → [execute]" in text
    assert "Phase guard:   yes" in text and "Waiting for:   -" in text


def test_deliverables_review() -> None:
    contract = make_contract(completed_deliverables={"plan": ("plan-document",)})
    assert render.deliverables_review(contract, "plan") == (
        "  [x] Plan Document (plan-document, required)"
    )
    assert render.deliverables_review(contract, "execute") == (
        "  [ ] Pull Request (pull-request, required)"
    )


@pytest.mark.parametrize(
    ("kind", "payload", "words"),
    [
        (
            EventType.STATUS_CHANGED,
            {"old_status": "active", "new_status": "paused", "reason": "x"},
            "changed status active → paused (x)",
        ),
        (
            EventType.PHASE_CHANGED,
            {"old_phase": "plan", "new_phase": "execute"},
            "moved phase plan → execute",
        ),
        (
            EventType.QUESTION_ASKED,
            {"question_id": "q", "question": "Why?", "question_type": "free_text"},
            "asked: Why?",
        ),
        (EventType.QUESTION_ANSWERED, {"question_id": "q", "answer": "yes"}, "answered: yes"),
        (
            EventType.STALE_DETECTED,
            {"stale_duration_secs": 1900},
            "flagged stale after 1900 s quiet",
        ),
        (
            EventType.TASK_COMPLETED,
            {"task_id": "t", "task_name": "build", "success": False},
            "failed task build",
        ),
        (
            EventType.DELIVERABLE_COMPLETED,
            {"phase": "plan", "deliverable_id": "doc"},
            "delivered doc (plan)",
        ),
        (
            EventType.PHASE_CONFIRMATION_REQUESTED,
            {"current_phase": "a", "next_phase": "b"},
            "asked to move a → b",
        ),
        (
            EventType.CONTRACT_CREATED,
            {"name": "N", "contract_type": "simple", "phase": "a"},
            "created the contract N (simple)",
        ),
        (EventType.SUPERVISOR_RESTART_REQUESTED, {}, "requested a supervisor restart"),
    ],
)
def test_event_text(kind: EventType, payload: dict[str, object], words: str) -> None:
    event = LoggedEvent(7, T0, kind, "c1234567890", Actor("alice", Role.REVIEWER), payload)
    line = render.event_text(event)
    assert line == f"2026-01-01 12:00:00  c1234567  {words} by alice"
    assert words in line and line.endswith("by alice")
    assert json.loads(render.event_json(event)) == event.to_wire()


def test_batch_lines() -> None:
    result = BatchResult.model_validate(
        {
            "operation": "archive_old",
            "affected_count": 1,
            "affected_ids": ["c1"],
            "errors": [{"contract_id": "c2", "error": "nope"}],
            "dry_run": True,
        }
    )
    assert render.batch_lines(result, {"c1": "First"}) == ["  c1  First", "  error c2: nope"]


# config files ---------------------------------------------------------------------------


def test_credentials_file_is_0600_even_when_it_was_wider(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    path = credentials_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"https://a": "old"}))
    os.chmod(path, 0o644)
    assert store_login("https://b/", "new") == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"https://a": "old", "https://b": "new"}
    assert read_config_file()["api_url"] == "https://b"


def test_write_config_value_replaces_only_its_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    write_config_value("api_url", "https://one")
    write_config_value("api_url", 'https://two"quoted')
    assert config_path().read_text().count("api_url") == 1
    assert read_config_file()["api_url"] == 'https://two"quoted'


def test_a_broken_config_file_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    config_path().parent.mkdir(parents=True)
    config_path().write_text("api_url = \n")
    with pytest.raises(ConfigError, match=r"config\.toml"):
        read_config_file()


# health ---------------------------------------------------------------------------------


def supervisor(alive: bool) -> SupervisorStatusPublic:
    return SupervisorStatusPublic.model_validate(
        {
            "task_id": "t1",
            "state": "working",
            "phase": "plan",
            "current_activity": None,
            "progress": 0,
            "last_heartbeat": "2026-01-01T12:00:00.000Z",
            "pending_task_ids": [],
            "alive": alive,
        }
    )


ALIVE = supervisor(alive=True)
READY = ReadinessPublic(phase="plan", ready=True, missing=[], auto_advance_enabled=True)


def detail(supervisor: SupervisorStatusPublic | None = ALIVE, **contract: object) -> ContractDetail:
    return ContractDetail(make_contract(**contract), [], [], supervisor, READY)


def test_health_report_healthy_and_stale() -> None:
    fresh = health_report(detail(last_activity_at=NOW), NOW, timedelta(minutes=30))
    assert fresh["healthy"] is True and fresh["stale"] is False and fresh["problems"] == []
    idle = health_report(detail(), NOW, timedelta(minutes=30))  # 3 h without activity
    assert idle["stale"] is True and idle["healthy"] is False
    assert health_report(detail(), NOW, timedelta(hours=4))["stale"] is False


def test_health_report_problems() -> None:
    week = timedelta(days=7)
    blocked = health_report(
        detail(status=ContractStatus.BLOCKED, blocked_reason="waiting on legal"), NOW, week
    )
    assert blocked["problems"] == ["blocked: waiting on legal"]
    silent = health_report(detail(supervisor(alive=False)), NOW, week)
    assert silent["problems"] == ["supervisor not alive (no recent heartbeat)"]
    assert health_report(detail(None), NOW, week)["problems"] == ["no supervisor"]
    done = health_report(detail(None, status=ContractStatus.COMPLETED), NOW, week)
    assert done["healthy"] is True
    waiting = detail(waiting_for=WaitingFor.PHASE_CONFIRMATION)
    assert health_report(waiting, NOW, week)["waiting_for"] == ["phase_confirmation"]
