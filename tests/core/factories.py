"""Small builders of core value types for tests: moved to tests/support/factories.py (the one
factories module); the names stay importable from here."""

from tests.support.factories import T0, make_contract, make_question, make_task

__all__ = ["T0", "make_contract", "make_question", "make_task"]
