"""The dashboard: its rows, counts, resource figures and camelCase wire shape."""

from __future__ import annotations

from datetime import timedelta

from core.actors import SYSTEM
from core.config import ContractTimeoutConfig
from core.dashboard import (
    ResourceUsage,
    StaleContractInfo,
    WaitingContractInfo,
    aggregate_dashboard,
    assemble_dashboard,
    stale_info,
    waiting_info,
)
from core.events import EventType, LoggedEvent
from core.model import QuestionStatus, TaskStatus
from core.status import ContractStatus, WaitingFor
from tests.core.factories import T0, make_contract, make_question, make_task

CFG = ContractTimeoutConfig()
NOW = T0 + timedelta(hours=3)
S = ContractStatus
EVENT = LoggedEvent(7, T0, EventType.STATUS_CHANGED, "c1", SYSTEM, {"old_status": "created"})


def test_stale_info_for_a_stale_contract_only() -> None:
    stale = make_contract(
        id="c1", name="n", phase="plan", last_activity_at=NOW - timedelta(hours=2)
    )

    assert stale_info(stale, NOW, CFG) == StaleContractInfo(
        "c1", "n", "plan", stale.last_activity_at, 7200
    )
    assert stale_info(make_contract(last_activity_at=NOW), NOW, CFG) is None
    assert stale_info(make_contract(status=S.PAUSED), NOW, CFG) is None


def test_waiting_info_names_the_oldest_pending_question() -> None:
    contract = make_contract(
        status=S.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.QUESTION,
        status_changed_at=T0 + timedelta(minutes=1),
    )
    questions = [
        make_question(id="q2", question="newer", asked_at=T0 + timedelta(minutes=2)),
        make_question(id="q1", question="older", asked_at=T0 + timedelta(minutes=1)),
        make_question(id="q0", question="answered", status=QuestionStatus.ANSWERED),
        make_question(id="qx", question="elsewhere", contract_id="other"),
    ]

    info = waiting_info(contract, questions)

    assert info == WaitingContractInfo(
        "c1", "Contract c1", "question", T0 + timedelta(minutes=1), "older", contract.phase
    )


def test_waiting_for_a_confirmation_has_no_question() -> None:
    contract = make_contract(status=S.WAITING_FOR_INPUT, waiting_for=WaitingFor.PHASE_CONFIRMATION)

    info = waiting_info(contract, [])

    assert info is not None
    assert (info.waiting_for, info.question) == ("phase_confirmation", None)


def test_only_waiting_contracts_have_a_waiting_row() -> None:
    assert waiting_info(make_contract(), [make_question()]) is None


def test_resource_usage_derives_daemons_and_worktrees() -> None:
    usage = ResourceUsage.derive(active_supervisors=2, running_tasks=5, pending_tasks=1)

    assert usage.to_wire() == {
        "activeSupervisors": 2,
        "runningTasks": 5,
        "pendingTasks": 1,
        "activeDaemons": 2,
        "totalWorktrees": 5,
    }


def test_assembled_dashboard_fills_every_status_and_orders_rows() -> None:
    short = StaleContractInfo("a", "a", "plan", T0, 100)
    long = StaleContractInfo("b", "b", "plan", T0, 900)
    recent = WaitingContractInfo("c", "c", "question", T0 + timedelta(hours=1), "q?")
    old = WaitingContractInfo("d", "d", "phase_confirmation", T0, None)

    dashboard = assemble_dashboard(
        {"active": 2, "paused": 1},  # type: ignore[dict-item]  # plain strings, as SQL gives them
        {"plan": 3},
        [short, long],
        [recent, old],
        recent_events=[EVENT],
        usage=ResourceUsage.derive(1, 2, 3),
    )

    wire = dashboard.to_wire()
    assert list(wire) == [
        "statusCounts",
        "phaseCounts",
        "staleContracts",
        "waitingForInput",
        "recentEvents",
        "resourceUsage",
    ]
    assert wire["statusCounts"] == {s.value: {"active": 2, "paused": 1}.get(s.value, 0) for s in S}
    assert wire["phaseCounts"] == {"plan": 3}
    assert [row["id"] for row in wire["staleContracts"]] == ["b", "a"]
    assert wire["staleContracts"][0] == {
        "id": "b",
        "name": "b",
        "phase": "plan",
        "lastActivity": "2026-01-01T12:00:00.000Z",
        "staleDurationSecs": 900,
    }
    assert [row["id"] for row in wire["waitingForInput"]] == ["d", "c"]
    assert wire["waitingForInput"][1] == {
        "id": "c",
        "name": "c",
        "waitingFor": "question",
        "waitingSince": "2026-01-01T13:00:00.000Z",
        "question": "q?",
        "phase": "",
    }
    assert wire["recentEvents"] == [EVENT.to_wire()]
    assert wire["resourceUsage"]["totalWorktrees"] == 2


def test_aggregated_dashboard_counts_in_memory() -> None:
    contracts = [
        make_contract(id="c1", phase="plan", last_activity_at=NOW - timedelta(hours=1)),  # stale
        make_contract(id="c2", phase="plan", last_activity_at=NOW),
        make_contract(
            id="c3", phase="execute", status=S.WAITING_FOR_INPUT, waiting_for=WaitingFor.QUESTION
        ),
        make_contract(id="c4", phase="execute", status=S.COMPLETED),  # terminal: not in phases
        make_contract(id="c5", phase="plan", status=S.ARCHIVED),
    ]
    tasks = [
        make_task(id="s1", contract_id="c1", is_supervisor=True),
        make_task(id="s2", contract_id="c2", is_supervisor=True),  # not alive
        make_task(id="s3", contract_id="c3", is_supervisor=True),
        make_task(id="w1", contract_id="c1", status=TaskStatus.RUNNING),
        make_task(id="w2", contract_id="c2", status=TaskStatus.RUNNING),
        make_task(id="w3", contract_id="c3", status=TaskStatus.PENDING),
        make_task(id="w4", contract_id="c3", status=TaskStatus.DONE),
        make_task(id="w5", contract_id="c4", status=TaskStatus.RUNNING),  # finished contract
    ]
    questions = [make_question(id="q1", contract_id="c3", question="Which port?")]

    dashboard = aggregate_dashboard(
        contracts,
        tasks,
        questions,
        [EVENT],
        alive_supervisor_task_ids={"s1", "s3", "unknown"},
        now=NOW,
        cfg=CFG,
    )

    wire = dashboard.to_wire()
    assert wire["statusCounts"] == {
        "created": 0,
        "active": 2,
        "waiting_for_input": 1,
        "paused": 0,
        "blocked": 0,
        "completing": 0,
        "completed": 1,
        "failed": 0,
        "archived": 1,
    }
    assert wire["phaseCounts"] == {"plan": 2}  # active contracts only (§4.4)
    assert [row["id"] for row in wire["staleContracts"]] == ["c1"]
    assert wire["staleContracts"][0]["staleDurationSecs"] == 3600
    assert [(row["id"], row["question"]) for row in wire["waitingForInput"]] == [
        ("c3", "Which port?")
    ]
    assert wire["recentEvents"] == [EVENT.to_wire()]
    assert wire["resourceUsage"] == {
        "activeSupervisors": 2,
        "runningTasks": 2,
        "pendingTasks": 1,
        "activeDaemons": 2,
        "totalWorktrees": 2,
    }


def test_an_empty_system_has_an_all_zero_dashboard() -> None:
    wire = aggregate_dashboard(
        [], [], [], [], alive_supervisor_task_ids=(), now=NOW, cfg=CFG
    ).to_wire()

    assert wire["statusCounts"] == dict.fromkeys((s.value for s in S), 0)
    assert (wire["phaseCounts"], wire["staleContracts"], wire["waitingForInput"]) == ({}, [], [])
    assert set(wire["resourceUsage"].values()) == {0}
