"""The one exception type for API errors, and its network-failure flavour.

Every failure the client reports is an `ApiError` carrying the API's error body (`code`,
`message`, `details`) and the HTTP status, so callers (the CLI, the outbox, the desktop)
handle errors in one place. `code` is an `ErrorCode` member, compared as such; a code this
version does not know (a newer server's, a proxy's `HTTP_<status>`) is `ErrorCode.UNKNOWN`
and `raw_code` keeps the text as sent. A request that never got an answer (refused
connection, timeout, broken TLS) is a `ConnectionFailed`: status 0, code `CONNECTION_FAILED`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from core.api.errors import ErrorBody, ErrorCode

CONNECTION_FAILED = ErrorCode.CONNECTION_FAILED
BAD_RESPONSE = ErrorCode.BAD_RESPONSE


class ApiError(Exception):
    """The server said no (or answered something that is not the API)."""

    def __init__(
        self,
        status: int,
        code: ErrorCode | str,
        message: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        raw = code.value if isinstance(code, ErrorCode) else str(code)
        super().__init__(f"{raw}: {message}")
        self.status = status
        self.code: ErrorCode = ErrorCode.parse(raw)
        self.raw_code = raw  # the code as sent (differs from `code` only for UNKNOWN)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.raw_code!r}, {self.message!r})"

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Rebuild the error from the API's body `{code, message, details?}`.

        A body that is not the API's (a proxy's HTML page, empty) still gives an ApiError,
        with code `HTTP_<status>` and the start of the text as message.
        """
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            body = None
        if body is not None:
            return cls(response.status_code, body.code, body.message or body.code, body.details)
        text = response.text.strip()[:200] or response.reason_phrase
        return cls(response.status_code, f"HTTP_{response.status_code}", text)


class ConnectionFailed(ApiError):
    """No answer: the server is unreachable, the connection broke, or it timed out."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(0, CONNECTION_FAILED, message, details)

    @classmethod
    def from_exception(cls, url: str, error: Exception) -> ConnectionFailed:
        kind = type(error).__name__
        reason = str(error) or kind
        return cls(f"Cannot reach {url}: {reason}", {"exception": kind})
