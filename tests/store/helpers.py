"""Actors and small builders shared by the store tests."""

from __future__ import annotations

from typing import Any

from core.actors import Actor, Role
from core.store import ContractRepository

REVIEWER = Actor("alice", Role.REVIEWER)
SUPERVISOR = Actor("alice", Role.SUPERVISOR)
ADMIN = Actor("alice", Role.ADMIN)
INTRUDER = Actor("mallory", Role.ADMIN)


async def started_contract(
    repo: ContractRepository, contract_type: str = "simple", **options: Any
) -> str:
    """A contract of alice's with a supervisor task, moved to `active`; returns its id."""
    created = await repo.create_contract(REVIEWER, "Contract", contract_type, **options)
    contract_id = created.contract.id
    await repo.create_task(contract_id, SUPERVISOR, "supervisor", is_supervisor=True)
    await repo.change_status(contract_id, SUPERVISOR, "active")
    return contract_id
