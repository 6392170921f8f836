"""Who a contract waits on: the one rule every list of "needs attention" asks.

Two lists, never overlapping, shown the same by the server's dashboard, the replica's
dashboard, the desktop's table filters, its dashboard lists and its tray alerts:

- *waiting on the reviewer*: a question or a phase confirmation (status `waiting_for_input`),
  a completion confirmation (status `completing`), or a ready phase a human advances
  (`active` with `waitingFor: phase_ready`) — `waiting_on_reviewer`;
- *stale*: `active` and quiet for longer than the threshold (`core.timing.stale_duration`,
  API.md's timing rules). An active contract waits on nobody but its supervisor, so a stale
  one is held up by the automation.

A contract with an open question is never `active` (asking moves it to `waiting_for_input`;
resuming a paused one with input pending moves it back there, see `core.lifecycle`), so a
contract waiting on the reviewer is never blamed on the automation.
"""

from __future__ import annotations

from core.model import Contract
from core.status import ContractStatus, WaitingFor

# The statuses in which a contract waits on the reviewer (SQL filters use this set).
REVIEWER_STATUSES = frozenset({ContractStatus.WAITING_FOR_INPUT, ContractStatus.COMPLETING})


def waiting_on_reviewer(contract: Contract) -> WaitingFor | None:
    """What the contract waits on the reviewer for (None: nothing)."""
    if contract.status is ContractStatus.WAITING_FOR_INPUT:
        # A waiting row should always say what it waits for; a question if it does not.
        return contract.waiting_for or WaitingFor.QUESTION
    if contract.status is ContractStatus.COMPLETING:
        return WaitingFor.COMPLETION_CONFIRMATION
    if contract.status is ContractStatus.ACTIVE and contract.waiting_for is WaitingFor.PHASE_READY:
        return WaitingFor.PHASE_READY  # its gate is met; a human advances it (§2.2.3 step 3)
    return None
