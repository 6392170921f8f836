"""What a reviewer may do now comes from the lifecycle table, and the batch planner asks it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.actions import ReviewerAction, allows, available, statuses_allowing
from core.batch import ARCHIVABLE
from core.status import TRANSITIONS, ContractStatus, WaitingFor, can_move
from tests.core.factories import make_contract

A = ReviewerAction
S = ContractStatus
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("status", list(S))
def test_status_moves_on_offer_are_exactly_the_tables(status: ContractStatus) -> None:
    offered = available(make_contract(status=status))
    assert (A.PAUSE in offered) == (S.PAUSED in TRANSITIONS[status])
    assert (A.ARCHIVE in offered) == (S.ARCHIVED in TRANSITIONS[status])
    assert (A.FAIL in offered) == (S.FAILED in TRANSITIONS[status])
    assert (A.RESUME in offered) == (status is S.PAUSED)


def test_pause_and_archive_statuses() -> None:
    assert statuses_allowing(A.PAUSE) == {S.ACTIVE, S.WAITING_FOR_INPUT}
    assert ARCHIVABLE == (S.COMPLETED, S.FAILED)
    assert can_move(S.PAUSED, S.ACTIVE) and not can_move(S.ARCHIVED, S.ACTIVE)


def test_a_phase_decision_is_on_offer_only_while_one_is_pending() -> None:
    waiting = make_contract(status=S.WAITING_FOR_INPUT, waiting_for=WaitingFor.PHASE_CONFIRMATION)
    assert {A.CONFIRM_PHASE, A.REQUEST_CHANGES} <= available(waiting)
    question = make_contract(status=S.WAITING_FOR_INPUT, waiting_for=WaitingFor.QUESTION)
    assert not allows(question, A.CONFIRM_PHASE)
    assert not allows(make_contract(status=S.ACTIVE), A.REQUEST_CHANGES)


def test_a_restart_needs_a_supervisor_and_open_work() -> None:
    assert not allows(make_contract(), A.RESTART_SUPERVISOR)
    assert allows(make_contract(supervisor_task_id="t1"), A.RESTART_SUPERVISOR)
    assert not allows(
        make_contract(status=S.COMPLETED, supervisor_task_id="t1"), A.RESTART_SUPERVISOR
    )


def _status_aliases(tree: ast.Module) -> set[str]:
    """`ContractStatus` and the names a module binds to it (`_S = ContractStatus`)."""
    names = {"ContractStatus"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and ast.unparse(node.value) == "ContractStatus":
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _status_sets_outside_core() -> list[str]:
    """Tuples, sets or lists of two or more ContractStatus members built outside core."""
    found = []
    for package in ("server", "sync", "desktop"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            aliases = _status_aliases(tree)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Tuple | ast.Set | ast.List):
                    continue
                members = [
                    e
                    for e in node.elts
                    if isinstance(e, ast.Attribute) and ast.unparse(e.value) in aliases
                ]
                if len(members) >= 2:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_module_outside_core_builds_its_own_set_of_statuses() -> None:
    assert _status_sets_outside_core() == []
