"""The SQL form of core's rules, written once: the queries narrow with these, core decides.

Each clause selects exactly the rows a core predicate accepts, so a list, a count and a
service agree with what `core` says about one contract. `tests/store/test_predicates.py`
checks each against its core rule on a real database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_

from core.attention import REVIEWER_STATUSES
from core.status import ContractStatus
from core.store.schema import contracts

_REVIEWER = sorted(s.value for s in REVIEWER_STATUSES)


def stale(now: datetime, threshold: timedelta) -> ColumnElement[bool]:
    """`core.timing.stale_duration` is not None: `active` and quiet for longer than
    `threshold` (strictly: the specification's `last_activity_at < now - threshold`)."""
    c = contracts.c
    return and_(
        c.status == ContractStatus.ACTIVE.value,
        c.last_activity_at < now - threshold,
    )


def waiting_on_reviewer() -> ColumnElement[bool]:
    """`core.attention.waiting_on_reviewer`'s statuses: the contract waits on a person."""
    return contracts.c.status.in_(_REVIEWER)
