"""Who acts: the owner of an API key and its role, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    ADMIN = "admin"  # everything, including batch operations
    REVIEWER = "reviewer"  # what a reviewer does in the GUI
    SUPERVISOR = "supervisor"  # the automation driving a contract
    SYSTEM = "system"  # background services (stale detector, timeouts)


@dataclass(frozen=True, slots=True)
class Actor:
    owner: str
    role: Role

    @property
    def is_human(self) -> bool:
        return self.role in (Role.ADMIN, Role.REVIEWER)

    @property
    def is_supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR

    def to_wire(self) -> dict[str, Any]:
        return {"owner": self.owner, "role": str(self.role)}


SYSTEM = Actor("system", Role.SYSTEM)


def system_actor() -> Actor:
    return SYSTEM
