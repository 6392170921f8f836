"""Property-based fuzzing from /openapi.json (schemathesis): no operation ever answers 5xx.

Every operation gets valid (positive) and invalid (negative) generated requests, sent with
a key of a random role; path ids are sometimes swapped for a real contract's id so the
requests reach the use cases, not only the 404 branch. Bounded to stay well under a minute.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from tests.server.conftest import Server, start_contract

EXAMPLES = 10
BUDGET_SECONDS = 15.0  # per backend and mode: four runs stay within a minute


def _operations(server: Server) -> list[Any]:
    schema = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def _is_server_error(response: Any) -> bool:
    """A 5xx other than API.md's one documented 503 (SUPERVISOR_DEAD from supervisor/sync)."""
    if response.status_code < 500:
        return False
    documented = response.status_code == 503 and "SUPERVISOR_DEAD" in response.text
    return not documented


def _seed_contract(server: Server) -> dict[str, Any]:
    return start_contract(server.client("reviewer"), server.client("supervisor"))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(server: Server, mode: GenerationMode) -> None:
    contract = _seed_contract(server)
    real_ids = {"contract_id": contract["id"], "task_id": contract["supervisorTaskId"]}
    keys = [server.keys[r] for r in ("admin", "reviewer", "supervisor")]
    deadline = time.monotonic() + BUDGET_SECONDS
    failures: list[str] = []
    for operation in _operations(server):
        if time.monotonic() > deadline:
            break
        strategy = operation.as_strategy(generation_mode=mode)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, key=st.sampled_from(keys), use_real=st.booleans())
        def check(case: Any, key: str, use_real: bool) -> None:
            if use_real and case.path_parameters:
                for name in case.path_parameters:
                    if name in real_ids:
                        case.path_parameters[name] = real_ids[name]
            response = case.call(
                base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
            )
            if _is_server_error(response):
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]} (body={case.body!r:.300})"
                )
            assert not _is_server_error(response)

        try:
            check()
        except AssertionError:
            pass  # collected above, with the request that caused it
        except Unsatisfiable:
            pass  # nothing to make invalid (e.g. GET /health in negative mode)
    assert not failures, "\n".join(failures[:10])
    assert httpx.get(server.base_url + "/health").status_code == 200
