"""The status table: every one of the 81 (from, to) pairs, every guard, the supervisor role."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from core.actors import SYSTEM, Actor, Role
from core.api.errors import http_status
from core.errors import ErrorCode, Forbidden, InvalidTransition, ValidationFailed
from core.status import (
    LEGACY_STATUSES,
    SUPERVISOR_MOVES,
    TRANSITIONS,
    ContractStatus,
    TransitionFacts,
    allowed_targets,
    check_actor_may_move,
    check_transition,
)

S = ContractStatus
ALL_PAIRS = list(itertools.product(ContractStatus, ContractStatus))
IN_TABLE = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
OUT_OF_TABLE = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]
SUPERVISOR = Actor("bot", Role.SUPERVISOR)
REVIEWER = Actor("ann", Role.REVIEWER)
ADMIN = Actor("root", Role.ADMIN)

# The table of API.md, written out independently of core.status so a drift shows up.
EXPECTED_TABLE = {
    S.CREATED: {S.ACTIVE, S.FAILED},
    S.ACTIVE: {S.WAITING_FOR_INPUT, S.PAUSED, S.BLOCKED, S.COMPLETING, S.FAILED},
    S.WAITING_FOR_INPUT: {S.ACTIVE, S.PAUSED, S.FAILED},
    S.PAUSED: {S.ACTIVE, S.FAILED},
    S.BLOCKED: {S.ACTIVE, S.FAILED},
    S.COMPLETING: {S.COMPLETED, S.ACTIVE, S.FAILED},
    S.COMPLETED: {S.ARCHIVED, S.FAILED},
    S.FAILED: {S.ARCHIVED},
    S.ARCHIVED: set(),
}


def satisfied(current: ContractStatus, target: ContractStatus) -> TransitionFacts:
    """Facts under which the move's guard holds (pending input is the one that flips)."""
    return TransitionFacts(
        has_supervisor=True,
        has_pending_input=(current, target) != (S.WAITING_FOR_INPUT, S.ACTIVE),
        reason="disk full",
        blocker="waiting on vendor",
        in_terminal_phase=True,
        terminal_requirements_met=True,
    )


def test_the_pairs_cover_all_81_combinations() -> None:
    assert len(ALL_PAIRS) == 81
    assert len(IN_TABLE) + len(OUT_OF_TABLE) == 81


def test_table_matches_the_api_contract() -> None:
    assert {k: set(v) for k, v in TRANSITIONS.items()} == EXPECTED_TABLE


@pytest.mark.parametrize(("current", "target"), IN_TABLE, ids=str)
def test_move_in_table_passes_when_its_guard_holds(
    current: ContractStatus, target: ContractStatus
) -> None:
    check_transition(current, target, satisfied(current, target))


@pytest.mark.parametrize(("current", "target"), OUT_OF_TABLE, ids=str)
def test_move_outside_table_is_invalid_transition_naming_allowed_moves(
    current: ContractStatus, target: ContractStatus
) -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition(current, target, satisfied(current, target))
    error = caught.value
    assert error.code is ErrorCode.INVALID_TRANSITION
    assert http_status(error.code) == 400
    assert error.details == {
        "from": current.value,
        "to": target.value,
        "allowed": [s.value for s in ContractStatus if s in EXPECTED_TABLE[current]],
    }


def test_allowed_targets_are_in_declaration_order() -> None:
    assert allowed_targets(S.ACTIVE) == [
        "waiting_for_input",
        "paused",
        "blocked",
        "completing",
        "failed",
    ]
    assert allowed_targets(S.ARCHIVED) == []


def test_archived_message_says_none_allowed() -> None:
    with pytest.raises(InvalidTransition, match="allowed from 'archived': none"):
        check_transition(S.ARCHIVED, S.ACTIVE, TransitionFacts())


GUARD_FAILURES = [
    (S.CREATED, S.ACTIVE, TransitionFacts(has_supervisor=False), "no supervisor task"),
    (S.ACTIVE, S.WAITING_FOR_INPUT, TransitionFacts(has_pending_input=False), "no pending"),
    (S.ACTIVE, S.BLOCKED, TransitionFacts(blocker=None), "blocker text"),
    (S.ACTIVE, S.BLOCKED, TransitionFacts(blocker="   "), "blocker text"),
    (S.WAITING_FOR_INPUT, S.ACTIVE, TransitionFacts(has_pending_input=True), "still pending"),
    (
        S.ACTIVE,
        S.COMPLETING,
        TransitionFacts(in_terminal_phase=False, terminal_requirements_met=True),
        "not in its terminal phase",
    ),
    (
        S.ACTIVE,
        S.COMPLETING,
        TransitionFacts(in_terminal_phase=True, terminal_requirements_met=False),
        "required deliverables",
    ),
]


@pytest.mark.parametrize(("current", "target", "facts", "text"), GUARD_FAILURES)
def test_guard_rejection_is_validation_failed(
    current: ContractStatus, target: ContractStatus, facts: TransitionFacts, text: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_transition(current, target, facts)
    assert caught.value.code is ErrorCode.VALIDATION_FAILED
    missing = caught.value.details["missing_requirements"]
    assert len(missing) == 1
    assert text in missing[0]


@pytest.mark.parametrize("current", [s for s in ContractStatus if S.FAILED in TRANSITIONS[s]])
@pytest.mark.parametrize("reason", [None, "", "  "])
def test_failing_needs_a_reason_from_every_status(
    current: ContractStatus, reason: str | None
) -> None:
    bare = replace(satisfied(current, S.FAILED), reason=reason)
    with pytest.raises(ValidationFailed, match="reason is required"):
        check_transition(current, S.FAILED, bare)


def test_every_status_but_archived_may_fail() -> None:
    assert [s for s in ContractStatus if S.FAILED not in TRANSITIONS[s]] == [S.FAILED, S.ARCHIVED]


@pytest.mark.parametrize(("current", "target"), IN_TABLE, ids=str)
def test_supervisor_may_only_start_block_unblock_and_fail(
    current: ContractStatus, target: ContractStatus
) -> None:
    may = target is S.FAILED or (current, target) in {
        (S.CREATED, S.ACTIVE),
        (S.ACTIVE, S.BLOCKED),
        (S.BLOCKED, S.ACTIVE),
    }
    if may:
        check_actor_may_move(SUPERVISOR, current, target)
        return
    with pytest.raises(Forbidden) as caught:
        check_actor_may_move(SUPERVISOR, current, target)
    assert http_status(caught.value.code) == 403


@pytest.mark.parametrize("actor", [REVIEWER, ADMIN, SYSTEM])
def test_humans_and_system_are_never_refused_by_role(actor: Actor) -> None:
    for current, target in ALL_PAIRS:
        check_actor_may_move(actor, current, target)


def test_supervisor_moves_are_all_in_the_table() -> None:
    assert all(target in TRANSITIONS[current] for current, target in SUPERVISOR_MOVES)


@pytest.mark.parametrize("text", ["active", "ACTIVE", " Completed ", "archived"])
def test_legacy_statuses_parse(text: str) -> None:
    assert ContractStatus.parse(text) in LEGACY_STATUSES


def test_legacy_statuses_keep_their_old_values() -> None:
    assert {s.value for s in LEGACY_STATUSES} == {"active", "completed", "archived"}


def test_every_status_parses_from_its_value() -> None:
    for status in ContractStatus:
        assert ContractStatus.parse(status.value) is status


def test_unknown_status_is_validation_failed() -> None:
    with pytest.raises(ValidationFailed, match="Unknown status 'done'"):
        ContractStatus.parse("done")


def test_terminal_statuses() -> None:
    assert {s for s in ContractStatus if s.is_terminal} == {S.COMPLETED, S.FAILED, S.ARCHIVED}
    assert all(s.is_open != s.is_terminal for s in ContractStatus)
