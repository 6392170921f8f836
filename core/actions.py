"""What a reviewer may do to a contract now, derived from the lifecycle table.

The desktop's buttons and menus, the batch planner and the server's batch candidates all ask
`available` (or `allows`) instead of restating which statuses may be paused, resumed or
archived. The guards of the table (a reason to fail, a supervisor to start) are still checked
when the move is made; this answers which moves are on offer.
"""

from __future__ import annotations

from enum import StrEnum

from core.model import Contract
from core.status import ContractStatus, WaitingFor, can_move


class ReviewerAction(StrEnum):
    PAUSE = "pause"  # → paused, with a reason
    RESUME = "resume"  # paused → active (or waiting again if input is still pending)
    ARCHIVE = "archive"  # a finished contract → archived
    FAIL = "fail"  # end it for good, with a reason
    CONFIRM_PHASE = "confirm_phase"  # confirm the pending guarded advance
    REQUEST_CHANGES = "request_changes"  # refuse it with feedback for the supervisor
    RESTART_SUPERVISOR = "restart_supervisor"  # ask the supervisor's daemon to restart


_S = ContractStatus

# Each status move a reviewer can offer, with the status it leads to.
_MOVES: dict[ReviewerAction, ContractStatus] = {
    ReviewerAction.PAUSE: _S.PAUSED,
    ReviewerAction.ARCHIVE: _S.ARCHIVED,
    ReviewerAction.FAIL: _S.FAILED,
}


def statuses_allowing(action: ReviewerAction) -> frozenset[ContractStatus]:
    """Every status in which `action` can be on offer (for queries that narrow by status)."""
    if action is ReviewerAction.RESUME:
        return frozenset({_S.PAUSED})
    if action in (ReviewerAction.CONFIRM_PHASE, ReviewerAction.REQUEST_CHANGES):
        return frozenset({_S.WAITING_FOR_INPUT})
    if action is ReviewerAction.RESTART_SUPERVISOR:
        return frozenset(s for s in _S if s.is_open)
    target = _MOVES[action]
    return frozenset(s for s in _S if can_move(s, target))


def available(contract: Contract) -> frozenset[ReviewerAction]:
    """The actions a reviewer may take on `contract` in its present state."""
    offered = {action for action in ReviewerAction if contract.status in statuses_allowing(action)}
    if contract.waiting_for is not WaitingFor.PHASE_CONFIRMATION:
        offered -= {ReviewerAction.CONFIRM_PHASE, ReviewerAction.REQUEST_CHANGES}
    if contract.supervisor_task_id is None:
        offered.discard(ReviewerAction.RESTART_SUPERVISOR)
    return frozenset(offered)


def allows(contract: Contract, action: ReviewerAction) -> bool:
    return action in available(contract)
