"""The contract detail: stepper, deliverables, tasks, supervisor, questions, history,
export — all from the replica, so readable offline."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.events import EventType, LoggedEvent
from core.status import ContractStatus, WaitingFor
from desktop.bridge import SyncBridge
from desktop.views.contract_detail import ContractDetail, deliverable_lines, write_export
from tests.desktop.conftest import (
    NOW,
    REVIEWER,
    SUPERVISOR,
    LocalBackend,
    Loop,
    make_contract,
    make_event,
)


def _seed(backend: LocalBackend, qloop: Loop) -> str:
    contract = make_contract(
        0,
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.QUESTION,
        phase="execute",
        completed_deliverables={"plan": ("plan-document",)},
        name="Billing export",
        supervisor_task_id="task-sup",
    )
    qloop.run(backend.replica.put_contracts([contract]))
    cid = contract.id
    events = [
        make_event(
            1,
            cid,
            EventType.TASK_CREATED,
            task_id="task-sup",
            task_name="supervisor",
            is_supervisor=True,
        ),
        make_event(
            2,
            cid,
            EventType.TASK_CREATED,
            task_id="task-1",
            task_name="build it",
            is_supervisor=False,
        ),
        make_event(
            3,
            cid,
            EventType.PHASE_CHANGED,
            actor=REVIEWER,
            old_phase="plan",
            new_phase="execute",
            comment="plan is solid",
        ),
        make_event(
            4,
            cid,
            EventType.QUESTION_ASKED,
            question_id="q-1",
            question="Which database?",
            question_type="free_text",
        ),
    ]
    qloop.run(backend.replica.apply_events(events))
    return cid


def _beat(backend: LocalBackend, qloop: Loop, cid: str) -> None:
    beat = LoggedEvent(
        None,
        NOW - timedelta(seconds=30),
        EventType.HEARTBEAT,
        cid,
        SUPERVISOR,
        {"state": "working", "activity": "running the tests", "progress": 40},
    )
    qloop.run(backend.replica.record_heartbeats([beat]))


def test_detail_shows_everything_from_the_replica(
    qtbot: QtBot, bridge: SyncBridge, backend: LocalBackend, qloop: Loop, tmp_path: Path
) -> None:
    cid = _seed(backend, qloop)
    detail = ContractDetail(bridge)
    qtbot.addWidget(detail)
    detail.show_contract(cid)
    qloop.until(lambda: detail.snapshot is not None)
    assert detail.objectName() == "contractDetail"
    assert "Billing export" in detail.title.text()
    assert "Waiting for: question" in detail.summary.text()
    assert [p[1] for p in detail.stepper.phases] == ["done", "current"]
    assert detail.stepper.accessibleDescription().startswith("Plan (done)")
    items = [detail.deliverables.item(i).text() for i in range(detail.deliverables.count())]
    assert items[0].startswith("☑") and "plan-document" in items[0].lower().replace(" ", "-")
    assert items[1].startswith("☐")
    history = detail.history_view
    assert history.objectName() == "historyTimeline"
    texts = [
        detail.history_model.index(r, 2).data() for r in range(detail.history_model.rowCount())
    ]
    assert "moved phase plan → execute" in texts
    row = texts.index("moved phase plan → execute")
    assert detail.history_model.index(row, 1).data() == "alice (reviewer)"
    assert detail.history_model.index(row, 3).data() == "plan is solid"
    assert detail.tasks_model.rowCount() == 2
    assert detail.questions_model.index(0, 2).data() == "Which database?"
    assert detail.supervisor_fields["state"].text() == "no heartbeat yet"
    assert not detail.buttons["confirm"].isEnabled()
    assert detail.buttons["pause"].isEnabled()

    requested: list[object] = []
    detail.pauseRequested.connect(requested.append)
    qtbot.mouseClick(detail.buttons["pause"], Qt.MouseButton.LeftButton)
    assert requested and requested[0].id == cid  # type: ignore[attr-defined]

    assert detail.snapshot is not None
    path = write_export(detail.snapshot, tmp_path / "out.json")
    exported = json.loads(path.read_text())
    assert exported["contract"]["id"] == cid
    assert [e["seq"] for e in exported["events"]] == [1, 2, 3, 4]
    assert {t["name"] for t in exported["tasks"]} == {"supervisor", "build it"}
    assert exported["questions"][0]["question"] == "Which database?"


def test_detail_reloads_when_its_contract_changes(
    qtbot: QtBot, bridge: SyncBridge, backend: LocalBackend, qloop: Loop
) -> None:
    cid = _seed(backend, qloop)
    detail = ContractDetail(bridge)
    qtbot.addWidget(detail)
    loads: list[str] = []
    detail.loaded.connect(loads.append)
    detail.show_contract(cid)
    qloop.until(lambda: len(loads) == 1)
    moved = make_contract(
        0, status=ContractStatus.PAUSED, version=3, phase="execute", supervisor_task_id="task-sup"
    )
    qloop.run(backend.replica.put_contracts([moved]))
    _beat(backend, qloop, cid)
    qloop.until(lambda: len(loads) >= 2 and detail.supervisor_fields["progress"].text() == "40%")
    assert detail.supervisor_fields["state"].text() == "working"
    assert detail.supervisor_fields["activity"].text() == "running the tests"
    assert detail.supervisor_fields["alive"].text() == "yes"
    assert "Status: paused" in detail.summary.text()
    assert detail.buttons["resume"].isEnabled()
    detail.show_contract(None)
    assert detail.title.text() == "Select a contract"


def test_deliverables_of_a_specification_contract() -> None:
    from core.phases import ContractType

    contract = make_contract(0, contract_type=ContractType.SPECIFICATION, phase="research")
    lines = deliverable_lines(contract)
    assert len(lines) == 5 and not any(done for _, done in lines)
