"""The SQL form of core's rules, written once: the queries narrow with these, core decides.

Each clause selects exactly the rows a core predicate accepts, so a list, a count and a
service agree with what `core` says about one contract. `tests/store/test_predicates.py`
checks each against its core rule on a real database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_

from core.attention import REVIEWER_STATUSES
from core.status import ContractStatus, WaitingFor
from core.store.schema import contracts

_REVIEWER = sorted(s.value for s in REVIEWER_STATUSES)


def stale(now: datetime, threshold: timedelta) -> ColumnElement[bool]:
    """`core.timing.stale_duration` is not None: `active`, not marked ready (a ready phase
    waits on a person), and quiet for longer than `threshold` (strictly: the
    specification's `last_activity_at < now - threshold`)."""
    c = contracts.c
    return and_(
        c.status == ContractStatus.ACTIVE.value,
        c.waiting_for.is_(None),
        c.last_activity_at < now - threshold,
    )


def waiting_on_reviewer() -> ColumnElement[bool]:
    """`core.attention.waiting_on_reviewer`: a reviewer status, or an `active` contract
    marked `phase_ready` (its gate is met; a human advances it)."""
    c = contracts.c
    ready = and_(
        c.status == ContractStatus.ACTIVE.value, c.waiting_for == WaitingFor.PHASE_READY.value
    )
    return or_(c.status.in_(_REVIEWER), ready)
