"""Every failure answers with the API's error body `{code, message, details}`, mapped here once."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DomainError
from server.responses import OrjsonResponse
from server.schemas import UNKNOWN_KEY_HINTS

log = logging.getLogger(__name__)


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
) -> OrjsonResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return OrjsonResponse(body, status_code=status)


async def _domain_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, DomainError)
    return OrjsonResponse(exc.to_body(), status_code=exc.http_status)


async def _validation_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(err) for err in exc.errors()]
    details: dict[str, Any] = {"errors": problems}
    unknown = [_location(err) for err in exc.errors() if err.get("type") == "extra_forbidden"]
    if unknown:
        details["field"] = unknown[0]
        details["unknown_keys"] = unknown
    return error_response(
        400, "VALIDATION_FAILED", "; ".join(problems) or "Invalid request", details
    )


def _location(err: Any) -> str:
    return ".".join(str(part) for part in err.get("loc", ()) if part != "body")


def _describe(err: Any) -> str:
    location = _location(err)
    if err.get("type") == "extra_forbidden":
        hint = UNKNOWN_KEY_HINTS.get(location.rsplit(".", 1)[-1])
        return f"unknown key '{location}'" + (f": {hint}" if hint else "")
    return f"{location or 'body'}: {err.get('msg', 'invalid')}"


async def _http_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(_: Request, exc: Exception) -> OrjsonResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "The server failed; the change was not applied")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
