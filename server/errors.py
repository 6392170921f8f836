"""Every failure answers with the API's error body `{code, message, details}`, mapped here once."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DomainError

log = logging.getLogger(__name__)


class ErrorResponse(JSONResponse):
    """An error body rendered with orjson (FastAPI's ErrorResponse is deprecated)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_HTTP_CODES = {
    400: "VALIDATION_FAILED",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> ErrorResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return ErrorResponse(body, status_code=status)


async def _domain_error(_: Request, exc: Exception) -> ErrorResponse:
    assert isinstance(exc, DomainError)
    return ErrorResponse(exc.to_body(), status_code=exc.http_status)


async def _validation_error(_: Request, exc: Exception) -> ErrorResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(err) for err in exc.errors()]
    return error_response(
        400, "VALIDATION_FAILED", "; ".join(problems) or "Invalid request", {"errors": problems}
    )


def _describe(err: Any) -> str:
    location = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
    return f"{location or 'body'}: {err.get('msg', 'invalid')}"


async def _http_error(_: Request, exc: Exception) -> ErrorResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(_: Request, exc: Exception) -> ErrorResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "The server failed; the change was not applied")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
