"""ContractClient with the network faked by httpx.MockTransport: errors, retries, TLS."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.api.errors import ErrorCode
from core.errors import ValidationFailed
from core.model import Contract
from sync.api_session import backoff_delay
from sync.client import ContractClient
from sync.errors import ApiError, ConnectionFailed
from tests.core.factories import make_contract

URL = "https://desk.example"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler answering from a script and recording every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def count(self) -> int:
        return len(self.requests)


def client(handler: Handler, **kwargs: Any) -> ContractClient:
    kwargs.setdefault("backoff_base", 0.0)
    return ContractClient(URL, "secret", transport=httpx.MockTransport(handler), **kwargs)


def error(status: int, code: str, message: str = "no", **details: Any) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return httpx.Response(status, json=body)


def contract_body() -> dict[str, Any]:
    return make_contract().to_wire()


REFUSED = httpx.ConnectError("[Errno 111] Connection refused")


async def test_requests_carry_the_key_and_the_api_prefix() -> None:
    seen = Recorder(httpx.Response(200, json={"contracts": [contract_body()], "total": 1}))
    async with client(seen) as api:
        page = await api.list_contracts(status=["active", "paused"], stale=True, threshold="5m")
    request = seen.requests[0]
    assert request.headers["Authorization"] == "Bearer secret"
    assert request.url.path == "/api/v1/contracts"
    assert request.url.params["status"] == "active,paused"
    assert request.url.params["stale"] == "true"
    assert request.url.params["threshold"] == "5m"
    assert "waiting" not in request.url.params
    assert isinstance(page.contracts[0], Contract) and page.total == 1


async def test_threshold_is_not_sent_without_stale() -> None:
    seen = Recorder(httpx.Response(200, json={"contracts": [], "total": 0}))
    async with client(seen) as api:
        await api.list_contracts(threshold="5m")
    assert "threshold" not in seen.requests[0].url.params


async def test_bodies_are_camel_case_and_omit_unset_fields() -> None:
    seen = Recorder(httpx.Response(200, json=contract_body()))
    async with client(seen) as api:
        await api.update_contract("c1", name="n", expected_version=3, idempotency_key="k1")
    request = seen.requests[0]
    assert json.loads(request.content) == {"name": "n", "expectedVersion": 3}
    assert request.headers["Idempotency-Key"] == "k1"
    assert request.method == "PATCH"


async def test_error_bodies_map_to_api_error() -> None:
    answer = error(409, "VERSION_CONFLICT", "stale", expected_version=1, actual_version=2)
    async with client(Recorder(answer)) as api:
        with pytest.raises(ApiError) as caught:
            await api.get_contract("c1")
    assert caught.value.status == 409
    assert caught.value.code == "VERSION_CONFLICT"
    assert caught.value.message == "stale"
    assert caught.value.details == {"expected_version": 1, "actual_version": 2}


async def test_a_body_that_is_not_the_apis_still_gives_an_api_error() -> None:
    page = httpx.Response(500, text="<html>Internal Server Error</html>")
    async with client(Recorder(page)) as api:
        with pytest.raises(ApiError) as caught:
            await api.dashboard()
    assert (caught.value.status, caught.value.code) == (500, ErrorCode.UNKNOWN)
    assert caught.value.raw_code == "HTTP_500"
    assert "Internal Server Error" in caught.value.message


async def test_a_code_from_a_newer_server_is_unknown_and_kept_as_sent() -> None:
    newer = httpx.Response(409, json={"code": "EVIDENCE_DRIFTED", "message": "later"})
    async with client(Recorder(newer)) as api:
        with pytest.raises(ApiError) as caught:
            await api.get_contract("c1")
    assert caught.value.code is ErrorCode.UNKNOWN
    assert (caught.value.raw_code, caught.value.message) == ("EVIDENCE_DRIFTED", "later")
    assert str(caught.value) == "EVIDENCE_DRIFTED: later"


async def test_a_2xx_that_is_not_json_is_bad_response() -> None:
    async with client(Recorder(httpx.Response(200, text="hello"))) as api:
        with pytest.raises(ApiError) as caught:
            await api.dashboard()
    assert caught.value.code == "BAD_RESPONSE"


async def test_connection_refused_is_connection_failed() -> None:
    seen = Recorder(REFUSED)
    async with client(seen, retries=2) as api:
        with pytest.raises(ConnectionFailed) as caught:
            await api.get_contract("c1")
    assert caught.value.status == 0 and caught.value.code == "CONNECTION_FAILED"
    assert "Connection refused" in caught.value.message and URL in caught.value.message
    assert isinstance(caught.value, ApiError)
    assert seen.count == 3  # a GET: the first try and two retries


async def test_a_timeout_is_connection_failed() -> None:
    seen = Recorder(httpx.ReadTimeout("timed out"))
    async with client(seen, retries=0) as api:
        with pytest.raises(ConnectionFailed):
            await api.health()
    assert seen.count == 1


async def test_get_is_retried_on_503_until_it_succeeds() -> None:
    seen = Recorder(
        error(503, "UNAVAILABLE"),
        httpx.Response(502),
        httpx.Response(504),
        httpx.Response(200, json=contract_body() | {"tasks": [], "pendingQuestions": []}),
    )
    async with client(seen, retries=3) as api:
        detail = await api.get_contract("c1")
    assert detail.contract.id == "c1"
    assert seen.count == 4


async def test_retries_give_up_after_the_limit() -> None:
    seen = Recorder(httpx.Response(503))
    async with client(seen, retries=3) as api:
        with pytest.raises(ApiError) as caught:
            await api.dashboard()
    assert caught.value.status == 503
    assert seen.count == 4


async def test_write_without_idempotency_key_is_sent_once() -> None:
    for answer in (REFUSED, httpx.Response(503)):
        seen = Recorder(answer)
        async with client(seen, retries=3) as api:
            with pytest.raises(ApiError):
                await api.change_status("c1", "paused")
        assert seen.count == 1


async def test_write_with_idempotency_key_is_retried_with_the_same_key() -> None:
    moved = {"success": True, "previousStatus": "active", "newStatus": "paused", "version": 3}
    ok = httpx.Response(200, json=moved)
    seen = Recorder(REFUSED, httpx.Response(502), ok)
    async with client(seen, retries=3) as api:
        answer = await api.change_status("c1", "paused", idempotency_key="k-1")
    assert (answer.success, answer.new_status, answer.version) == (True, "paused", 3)
    assert seen.count == 3
    assert {r.headers["Idempotency-Key"] for r in seen.requests} == {"k-1"}


async def test_supervisor_dead_is_never_retried() -> None:
    seen = Recorder(error(503, "SUPERVISOR_DEAD", "silent"))
    async with client(seen, retries=3) as api:
        with pytest.raises(ApiError) as caught:
            await api.sync_supervisor("c1")
    assert caught.value.code == "SUPERVISOR_DEAD"
    assert seen.count == 1


async def test_client_errors_are_not_retried() -> None:
    seen = Recorder(error(404, "CONTRACT_NOT_FOUND"))
    async with client(seen, retries=3) as api:
        with pytest.raises(ApiError):
            await api.get_contract("c1")
    assert seen.count == 1


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    for attempt in range(8):
        delays = [backoff_delay(attempt, 0.2) for _ in range(50)]
        assert all(0 <= d <= min(5.0, 0.2 * 2**attempt) for d in delays)
    assert len({backoff_delay(3, 0.2) for _ in range(20)}) > 1  # jittered


async def test_tls_verification_is_on_by_default() -> None:
    api = ContractClient(URL, "secret")
    try:
        assert isinstance(api.verify, ssl.SSLContext)
        assert api.verify.verify_mode is ssl.CERT_REQUIRED
        assert api.verify.check_hostname is True
    finally:
        await api.aclose()
    insecure = ContractClient(URL, "secret", verify=False)
    try:
        assert insecure.verify is False
    finally:
        await insecure.aclose()


async def test_phase_answer_kinds() -> None:
    confirm = {
        "status": "requires_confirmation",
        "transitionId": "t",
        "currentPhase": "plan",
        "nextPhase": "execute",
        "deliverablesSummary": "Phase 'plan' deliverables: 1 of 1 complete, 0 tasks completed.",
        "deliverables": [{"id": "plan-document", "name": "Plan", "completed": True}],
        "phaseTasks": [],
        "requiresConfirmation": True,
        "message": "Phase guard is enabled. User confirmation required.",
        "version": 4,
    }
    seen = Recorder(
        httpx.Response(200, json=confirm),
        httpx.Response(200, json={"status": "changes_requested", "feedback": "more"}),
        httpx.Response(200, json=contract_body()),
    )
    async with client(seen) as api:
        first = await api.change_phase("c1", "execute")
        second = await api.change_phase("c1", "execute", feedback="more")
        third = await api.change_phase("c1", "execute", confirmed=True)
    assert (first.kind, first.body["nextPhase"]) == ("requires_confirmation", "execute")
    assert first.answer is not None and first.version == 4
    assert second.kind == "changes_requested" and second.contract is None
    assert third.kind == "contract" and third.contract is not None
    assert json.loads(seen.requests[1].content)["feedback"] == "more"


async def test_long_poll_stretches_the_read_timeout() -> None:
    seen = Recorder(
        httpx.Response(
            200,
            json={
                "id": "q1",
                "contractId": "c1",
                "phase": "plan",
                "question": "?",
                "questionType": "free_text",
                "choices": [],
                "status": "pending",
                "answer": None,
                "askedAt": "2026-01-01T00:00:00.000Z",
                "answeredAt": None,
                "answeredBy": None,
            },
        )
    )
    async with client(seen, timeout=2.0) as api:
        await api.get_question("q1", wait=30)
    timeouts = seen.requests[0].extensions["timeout"]
    assert timeouts["read"] >= 32
    assert seen.requests[0].url.params["wait"] == "30"


async def test_an_answer_that_is_not_the_apis_schema_names_the_field() -> None:
    odd = httpx.Response(200, json={"previousStatus": "active", "newStatus": "asleep"})
    async with client(Recorder(odd)) as api:
        with pytest.raises(ValidationFailed, match="newStatus"):
            await api.change_status("c1", "paused")
