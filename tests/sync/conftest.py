"""Shared fixtures of the sync tests: a real server process (see server_fixture.py) and the
CLI harness's fixtures (see cli_harness.py)."""

from tests.sync.cli_harness import api, as_reviewer
from tests.sync.server_fixture import fresh_server, sync_server

__all__ = ["api", "as_reviewer", "fresh_server", "sync_server"]
