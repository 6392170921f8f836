"""A use case's typed decision (`core.outcome.Decision`) as its wire answer.

The routes call these; the use cases never build a response body. Every decision's answer
carries the contract's resulting `version`, so a client never has to guess it.
"""

from __future__ import annotations

from core.api.contracts import (
    ChangesRequestedAnswer,
    ContractPublic,
    DeliverableCheck,
    RequiresConfirmation,
    StatusChangeAnswer,
    TaskPublic,
)
from core.model import Contract, Task
from core.outcome import (
    ConfirmationRequested,
    Decision,
    FeedbackRecorded,
    StatusMoved,
)


def contract_public(contract: Contract) -> ContractPublic:
    return ContractPublic.model_validate(contract.to_wire())


def task_public(task: Task) -> TaskPublic:
    return TaskPublic.model_validate(task.to_wire())


def status_answer(decision: Decision | None, contract: Contract) -> StatusChangeAnswer:
    """`POST /contracts/{id}/status`: the move the use case made."""
    if not isinstance(decision, StatusMoved):
        raise TypeError(f"a status change decides a StatusMoved, not {decision!r}")
    return StatusChangeAnswer(
        success=True,
        previous_status=decision.previous,
        new_status=decision.new,
        rejection_reason=None,
        version=contract.version,
    )


def phase_answer(
    decision: Decision | None, contract: Contract
) -> RequiresConfirmation | ChangesRequestedAnswer | None:
    """`POST /contracts/{id}/phase` when the answer is not the moved Contract (None: it is)."""
    if isinstance(decision, ConfirmationRequested):
        return RequiresConfirmation(
            transition_id=decision.transition_id,
            current_phase=decision.current_phase,
            next_phase=decision.next_phase,
            deliverables_summary=decision.summary,
            deliverables=[
                DeliverableCheck(id=d.id, name=d.name, completed=d.completed)
                for d in decision.deliverables
            ],
            phase_tasks=[task_public(t) for t in decision.phase_tasks],
            message=decision.message,
            missing_requirements=list(decision.missing_requirements),
            version=contract.version,
        )
    if isinstance(decision, FeedbackRecorded):
        return ChangesRequestedAnswer(
            feedback=decision.feedback, feedback_id=decision.feedback_id, version=contract.version
        )
    return None
