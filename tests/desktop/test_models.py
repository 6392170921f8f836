"""Every item model of the desktop through qtmodeltester, and the contracts model's
change adaptation (dataChanged / inserts / removes, never a reset)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from pytestqt.modeltest import ModelTester

from core.dashboard import StaleContractInfo, WaitingContractInfo
from core.events import EventType
from core.model import Question, QuestionType, Task, TaskStatus
from core.status import ContractStatus, WaitingFor
from core.store.queries import SupervisorStatus
from core.supervisor import SupervisorState
from desktop.models.contracts import ACTIVITY, NAME, ContractsFilter, ContractsModel
from desktop.models.dashboard import (
    AUTOMATION,
    EventRow,
    RecentEventsModel,
    StaleModel,
    StaleRow,
    WaitingModel,
    WaitingRow,
    stale_rows,
)
from desktop.models.detail import HistoryModel, QuestionsModel, TasksModel, event_summary
from desktop.models.outbox import OutboxModel
from desktop.models.rows import ROW_ROLE
from tests.desktop.conftest import NOW, REVIEWER, make_contract, make_event


class Recorder:
    def __init__(self, model: Any) -> None:
        self.seen: list[str] = []
        model.dataChanged.connect(lambda a, b, *_: self.seen.append(f"changed {a.row()}-{b.row()}"))
        model.rowsInserted.connect(lambda _, a, b: self.seen.append(f"inserted {a}-{b}"))
        model.rowsRemoved.connect(lambda _, a, b: self.seen.append(f"removed {a}-{b}"))
        model.modelReset.connect(lambda: self.seen.append("reset"))
        model.rowsMoved.connect(lambda _, a, b, __, to: self.seen.append(f"moved {a}-{b} to {to}"))


def test_contracts_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = ContractsModel()
    model.apply([make_contract(i) for i in range(20)])
    qtmodeltester.check(model, force_py=True)
    model.apply([make_contract(3, version=2), make_contract(99)], removed=[make_contract(5).id])
    qtmodeltester.check(model, force_py=True)


def test_contracts_filter_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = ContractsModel()
    proxy = ContractsFilter()
    proxy.setSourceModel(model)
    model.apply([make_contract(i, phase="plan" if i % 2 else "execute") for i in range(30)])
    proxy.set_phase("plan")
    proxy.sort(NAME)
    qtmodeltester.check(proxy, force_py=True)


def test_changes_are_data_changed_runs_inserts_and_removes_never_a_reset() -> None:
    model = ContractsModel()
    model.sort(NAME, Qt.SortOrder.AscendingOrder)
    model.apply([make_contract(i) for i in range(10)])
    seen = Recorder(model)
    model.apply(
        [*(make_contract(i, version=2) for i in (2, 3, 7)), make_contract(10), make_contract(11)],
        removed=[make_contract(0).id],
    )
    assert seen.seen == [
        "changed 2-3",
        "changed 7-7",
        "removed 0-0",
        "inserted 9-9",
        "inserted 10-10",
    ]
    assert model.rowCount() == 11
    assert model.row_of(make_contract(11).id) == 10
    model.apply([make_contract(4)])  # unchanged: nothing at all
    assert len(seen.seen) == 5
    model.apply([make_contract(5, name="AAA first")])  # its place changed: one row move
    assert seen.seen[5:] == ["moved 4-4 to 0", "changed 0-0"]
    assert model.contract_at(0).name == "AAA first"
    kept = QPersistentModelIndex(model.index(0, 0))  # a selection travels with its row
    model.apply([make_contract(5, name="ZZZ last")])
    assert seen.seen[7:] == ["moved 0-0 to 11", "changed 10-10"]
    assert kept.row() == 10 and model.contract_at(10).name == "ZZZ last"


def test_descending_order_reads_from_the_end_and_keeps_persistent_indexes() -> None:
    model = ContractsModel()
    model.apply([make_contract(i, quiet=timedelta(minutes=i)) for i in range(5)])
    assert model.sort_column == ACTIVITY
    assert [model.contract_at(r).name for r in range(5)] == [f"Contract {i:05d}" for i in range(5)]
    kept = QPersistentModelIndex(model.index(model.row_of(make_contract(3).id), 0))
    model.sort(NAME, Qt.SortOrder.DescendingOrder)
    assert model.contract_at(0).name == "Contract 00004"
    assert kept.row() == model.row_of(make_contract(3).id) == 1
    model.apply([make_contract(i) for i in range(5, 700)])  # a bulk arrival: one relayout
    assert model.rowCount() == 700 and model.contract_at(0).name == "Contract 00699"


def test_filter_by_status_phase_text_waiting_and_stale() -> None:
    model = ContractsModel()
    proxy = ContractsFilter()
    proxy.setSourceModel(model)
    model.apply(
        [
            make_contract(0, name="Billing export", quiet=timedelta(hours=2)),
            make_contract(
                1,
                name="Search",
                status=ContractStatus.WAITING_FOR_INPUT,
                waiting_for=WaitingFor.QUESTION,
            ),
            make_contract(2, name="Audit", phase="execute", status=ContractStatus.PAUSED),
        ]
    )
    proxy.set_text("billing")
    assert [proxy.contract_at(r).name for r in range(proxy.rowCount())] == ["Billing export"]
    proxy.set_text("")
    proxy.set_waiting_only(True)
    assert proxy.rowCount() == 1 and proxy.contract_at(0).name == "Search"
    proxy.set_waiting_only(False)
    proxy.set_stale_only(NOW, timedelta(minutes=30))
    assert proxy.rowCount() == 1 and proxy.contract_at(0).name == "Billing export"
    proxy.set_stale_only(None, timedelta(minutes=30))
    proxy.set_statuses([ContractStatus.PAUSED])
    proxy.set_phase("execute")
    assert proxy.rowCount() == 1 and proxy.contract_at(0).name == "Audit"
    assert proxy.active


def test_sorting_by_activity_uses_times_not_text() -> None:
    model = ContractsModel()
    proxy = ContractsFilter()
    proxy.setSourceModel(model)
    model.apply([make_contract(i, quiet=timedelta(minutes=i * 7)) for i in range(5)])
    proxy.sort(ACTIVITY, Qt.SortOrder.DescendingOrder)
    assert [proxy.contract_at(r).name for r in range(5)] == [f"Contract {i:05d}" for i in range(5)]


def _history() -> list[Any]:
    cid = make_contract(0).id
    return [
        make_event(1, cid, EventType.CONTRACT_CREATED, actor=REVIEWER),
        make_event(
            2,
            cid,
            EventType.PHASE_CHANGED,
            actor=REVIEWER,
            old_phase="plan",
            new_phase="execute",
            comment="looks good",
        ),
        make_event(
            3,
            cid,
            EventType.QUESTION_ASKED,
            question="Which DB?",
            question_id="q",
            question_type="free_text",
        ),
    ]


def test_history_model_says_who_did_what_when_with_comments(qtmodeltester: ModelTester) -> None:
    model = HistoryModel()
    model.set_rows(_history()[:2])
    seen = Recorder(model)
    model.set_rows(_history())
    assert seen.seen == ["inserted 2-2"]  # appended events are inserts
    qtmodeltester.check(model, force_py=True)
    assert model.index(1, 1).data() == "alice (reviewer)"
    assert model.index(1, 2).data() == "moved phase plan → execute"
    assert model.index(1, 3).data() == "looks good"
    assert event_summary(_history()[2]) == "asked: Which DB?"


def test_tasks_questions_and_outbox_models(qtmodeltester: ModelTester) -> None:
    cid = make_contract(0).id
    tasks = TasksModel()
    tasks.set_rows([Task("t1", cid, "build", TaskStatus.RUNNING, NOW, NOW, is_supervisor=False)])
    qtmodeltester.check(tasks, force_py=True)
    questions = QuestionsModel()
    questions.set_rows(
        [Question("q1", cid, "plan", "Which DB?", QuestionType.CHOICE, NOW, ("pg", "sqlite"))]
    )
    qtmodeltester.check(questions, force_py=True)
    assert questions.index(0, 4).data() == "pg, sqlite"
    outbox = OutboxModel()
    qtmodeltester.check(outbox, force_py=True)


def test_dashboard_models_and_who_blocks_a_stale_contract(qtmodeltester: ModelTester) -> None:
    stale = [
        StaleContractInfo("a", "Dead one", "plan", NOW - timedelta(hours=1), 3600),
        StaleContractInfo("b", "Slow one", "execute", NOW - timedelta(minutes=40), 2400),
    ]
    waiting = [
        WaitingContractInfo(
            "c", "Asks", "question", NOW - timedelta(hours=2), "Which DB?", "specify"
        )
    ]
    beat = NOW - timedelta(minutes=40)
    liveness = {
        "a": SupervisorStatus("t", SupervisorState.WORKING, "plan", None, 10, beat, (), False),
        "b": SupervisorStatus(
            "t", SupervisorState.WORKING, "execute", "compiling", 50, NOW, (), True
        ),
    }
    rows = stale_rows(stale, liveness, now=NOW)
    assert [(r.name, r.phase, r.blocker) for r in rows] == [
        ("Dead one", "plan", AUTOMATION),
        ("Slow one", "execute", AUTOMATION),
    ]
    assert "dead" in rows[0].why and "compiling" in rows[1].why
    stale_model = StaleModel()
    stale_model.set_rows(rows)
    qtmodeltester.check(stale_model, force_py=True)
    assert stale_model.index(0, 2).data() == "1 h 0 min"
    waiting_model = WaitingModel()
    waiting_model.set_rows([WaitingRow(w, NOW) for w in waiting])
    qtmodeltester.check(waiting_model, force_py=True)
    assert waiting_model.index(0, 3).data() == "Which DB?"
    events = RecentEventsModel()
    events.set_rows([EventRow(e, "Contract 0") for e in _history()])
    qtmodeltester.check(events, force_py=True)
    assert isinstance(stale_model.index(0, 0).data(ROW_ROLE), StaleRow)
    assert stale_model.rowCount(stale_model.index(0, 0)) == 0
    assert stale_model.headerData(0, Qt.Orientation.Horizontal) == "Contract"
    assert stale_model.data(QModelIndex()) is None


def test_many_moves_are_one_relayout_unless_a_filter_wants_row_moves() -> None:
    model = ContractsModel()
    model.sort(NAME, Qt.SortOrder.AscendingOrder)
    model.apply([make_contract(i) for i in range(30)])
    seen = Recorder(model)
    layouts: list[bool] = []
    model.layoutChanged.connect(lambda *_: layouts.append(True))
    renamed = [make_contract(i, name=f"A{i:02d}") for i in range(20, 30)]
    model.apply(renamed)
    assert layouts == [True] and seen.seen == []
    assert model.contract_at(0).name == "A20"
    model.row_moves = True
    model.apply([make_contract(i, name=f"Z{i:02d}") for i in range(10)])  # to the end
    assert len(layouts) == 1
    assert seen.seen.count("inserted 29-29") == 10  # each moved row: a removal and an insert
    assert model.contract_at(29).name == "Z09"
