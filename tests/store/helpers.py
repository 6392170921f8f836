"""Actors and small builders shared by the store tests: moved to tests/support/factories.py
(the one factories module); the names stay importable from here."""

from tests.support.factories import ADMIN, INTRUDER, REVIEWER, SUPERVISOR, started_contract

__all__ = ["ADMIN", "INTRUDER", "REVIEWER", "SUPERVISOR", "started_contract"]
