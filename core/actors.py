"""Who acts: the owner of an API key and its role, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    ADMIN = "admin"  # everything, including batch operations
    REVIEWER = "reviewer"  # what a reviewer does in the GUI
    SUPERVISOR = "supervisor"  # the automation driving a contract
    SYSTEM = "system"  # background services (stale detector, timeouts)


@dataclass(frozen=True, slots=True)
class Actor:
    """`user` is the person behind the key (`keys create --user`); None: the owner itself.

    Two actors of the same owner and role are the same actor whoever holds the key: the
    name is for people to read (events, claims), permissions never look at it.
    """

    owner: str
    role: Role
    user: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """The person a reader sees: the key's user, else its owner."""
        return self.user or self.owner

    @property
    def is_human(self) -> bool:
        return self.role in (Role.ADMIN, Role.REVIEWER)

    @property
    def is_supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"owner": self.owner, "role": str(self.role)}
        if self.user is not None:
            wire["user"] = self.user
        return wire


SYSTEM = Actor("system", Role.SYSTEM)


def system_actor() -> Actor:
    return SYSTEM
