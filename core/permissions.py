"""Reviewer-only actions: the one table of what a supervisor key may not do.

A supervisor is the automation driving a contract; the decisions about the contract are a
human's. Every edge (routes, core use cases) asks `check_reviewer_action` with the action's
row here, so the rule and its wording live in one place, and a test covers each row.
"""

from __future__ import annotations

from enum import StrEnum

from core.actors import Actor, Role
from core.errors import Forbidden


class ReviewerOnly(StrEnum):
    """Each value completes "A supervisor key may not …"."""

    CREATE_CONTRACT = "create contracts"
    UPDATE_CONTRACT = "change a contract's name, description or settings"
    DELETE_CONTRACT = "delete contracts"
    SET_AUTO_COMPLETE = "turn auto-complete on or off"
    RESTART_SUPERVISOR = "request a supervisor restart"
    ANSWER_QUESTION = "answer questions"
    REQUEST_CHANGES = "request changes (feedback on a phase change)"
    SNOOZE_ITEM = "snooze inbox items"
    CLAIM_ITEM = "claim inbox items"


# Roles that may take every reviewer-only action (admin: everything a reviewer may).
REVIEWER_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.REVIEWER})


def check_reviewer_action(actor: Actor, action: ReviewerOnly) -> None:
    """Raise 403 FORBIDDEN unless `actor` is a reviewer or admin (the system acts freely)."""
    if actor.role in REVIEWER_ROLES or actor.role is Role.SYSTEM:
        return
    raise Forbidden(f"A supervisor key may not {action}; that is a reviewer's decision")


# Roles that may acknowledge feedback: the supervisor it was sent to (admin: anything).
ACKNOWLEDGING_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.SYSTEM})


def check_acknowledge_feedback(actor: Actor) -> None:
    """Raise 403 FORBIDDEN unless `actor` may say the supervisor picked feedback up."""
    if actor.role not in ACKNOWLEDGING_ROLES:
        raise Forbidden(
            "A reviewer key may not acknowledge feedback; the contract's supervisor does"
        )
