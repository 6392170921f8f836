"""The HTTP session under the API client: auth, TLS, timeouts, error mapping, retries.

Retries are only ever made for *safe* requests, where sending twice cannot apply a change
twice: GETs (and read-only POSTs marked so), and writes that carry an `Idempotency-Key`
(the server answers a repeat with the first response). They are retried on connection
errors and timeouts, and on 502, 503 and 504 — except `503 SUPERVISOR_DEAD`, which is an
answer about the supervisor, not an unavailable server. The wait before retry n is an
exponential backoff with full jitter: uniform(0, min(cap, base * 2**n)).
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from core.api.errors import ErrorCode
from sync.errors import ApiError, ConnectionFailed

API_PREFIX = "/api/v1"
RETRY_STATUSES = frozenset({502, 503, 504})
NOT_RETRIED_CODES = frozenset({ErrorCode.SUPERVISOR_DEAD})
BACKOFF_CAP = 5.0

B = TypeVar("B", bound=BaseModel)

Params = Mapping[str, str | int | float | bool | None]


def ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """TLS verification: True (the default) checks certificates against the system store,
    a string is a CA bundle file to check them against, False turns checking off."""
    if verify is False:
        return False
    if verify is True:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=verify)


def backoff_delay(attempt: int, base: float, cap: float = BACKOFF_CAP) -> float:
    """Full jitter: a uniform wait in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0.0, min(cap, base * (2**attempt)))


class ApiSession:
    """One httpx.AsyncClient speaking to one server with one key. Use `async with`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str = True,
        retries: int = 3,
        backoff_base: float = 0.2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff_base = backoff_base
        self.verify = ssl_context(verify)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=self.verify,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | Mapping[str, Any] | None = None,
        params: Params | None = None,
        idempotency_key: str | None = None,
        safe: bool | None = None,
        read_timeout: float | None = None,
        api: bool = True,
    ) -> httpx.Response:
        """Send one request (retrying when safe) and return its 2xx response.

        Any other answer raises ApiError; no answer at all raises ConnectionFailed.
        `safe` defaults to: a GET, or a write with an idempotency key.
        """
        if safe is None:
            safe = method == "GET" or idempotency_key is not None
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        request = self._http.build_request(
            method,
            (API_PREFIX if api else "") + path,
            json=_json_body(body),
            params=_query(params),
            headers=headers,
            timeout=(
                httpx.Timeout(read_timeout)
                if read_timeout is not None
                else httpx.USE_CLIENT_DEFAULT
            ),
        )
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            except httpx.TransportError as error:
                if not safe or attempt >= self.retries:
                    raise ConnectionFailed.from_exception(self.base_url, error) from None
            else:
                if response.is_success:
                    return response
                failure = ApiError.from_response(response)
                if not (safe and _retryable(failure)) or attempt >= self.retries:
                    raise failure
            await asyncio.sleep(backoff_delay(attempt, self.backoff_base))
            attempt += 1

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, ErrorCode.BAD_RESPONSE, "the server's answer is not JSON"
            ) from None

    async def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON object answer (anything else is a BAD_RESPONSE ApiError)."""
        value = await self._json(method, path, **kwargs)
        if not isinstance(value, dict):
            raise ApiError(
                200, ErrorCode.BAD_RESPONSE, f"expected a JSON object from {method} {path}"
            )
        return value


def _retryable(error: ApiError) -> bool:
    return error.status in RETRY_STATUSES and error.code not in NOT_RETRIED_CODES


def _json_body(body: BaseModel | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The JSON of a body; unset optional fields are omitted, so the server's defaults apply."""
    if body is None:
        return None
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_none=True)
    return {k: v for k, v in body.items() if v is not None}


def request_body(model: type[B], **fields: Any) -> B:
    """A request body built with its wire model (the keys and their spelling are the
    model's). Input the model refuses never leaves the client: it is the 400
    VALIDATION_FAILED the server would have answered, naming the field."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise ApiError(
            400, ErrorCode.VALIDATION_FAILED, f"{where}: {first['msg']}", {"field": where}
        ) from None


def _query(params: Params | None) -> dict[str, str | int | float] | None:
    if params is None:
        return None
    query: dict[str, str | int | float] = {}
    for key, value in params.items():
        if value is None or value is False:
            continue
        query[key] = "true" if value is True else value
    return query
