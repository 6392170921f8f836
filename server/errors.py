"""Every failure answers with the API's error body `{code, message, details}`, mapped here once."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.api.errors import CODE_OF_STATUS, ErrorBody, ErrorCode, http_status
from core.errors import DomainError
from server.responses import OrjsonResponse

log = logging.getLogger(__name__)

# Declared on every route (FastAPI(responses=...)): every 4xx/5xx answer is an ErrorBody.
# Errors are JSON even on a route whose answer is not (`/metrics`): named explicitly.
# What an unknown body key most likely meant: said in the 400 that refuses it.
UNKNOWN_KEY_HINTS = {
    "status": "the status moves through POST /contracts/{id}/status (targetStatus)",
    "targetStatus": "the status moves through POST /contracts/{id}/status",
    "older_than": "use older_than_hours (a number of hours)",
    "olderThan": "use olderThanHours (a number of hours)",
}
_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ErrorBody,
        "description": "Refused: the API's error body",
        "content": _ERROR_JSON,
    },
    "5XX": {
        "model": ErrorBody,
        "description": "Failed or unavailable: the API's error body",
        "content": _ERROR_JSON,
    },
}


def domain_error_answer(error: DomainError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the wire body of a domain error (one mapping for every layer)."""
    return http_status(error.code), ErrorBody.of(error.code, error.message, error.details).to_wire()


def error_response(
    status: int, code: ErrorCode, message: str, details: dict[str, Any] | None = None
) -> OrjsonResponse:
    return OrjsonResponse(ErrorBody.of(code, message, details).to_wire(), status_code=status)


async def _domain_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, DomainError)
    status, body = domain_error_answer(exc)
    return OrjsonResponse(body, status_code=status)


async def _validation_error(_: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(err) for err in exc.errors()]
    details: dict[str, Any] = {"errors": problems}
    unknown = [_location(err) for err in exc.errors() if err.get("type") == "extra_forbidden"]
    if unknown:
        details["field"] = unknown[0]
        details["unknown_keys"] = unknown
    return error_response(
        400, ErrorCode.VALIDATION_FAILED, "; ".join(problems) or "Invalid request", details
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
    code = CODE_OF_STATUS.get(exc.status_code, ErrorCode.HTTP_ERROR)
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(_: Request, exc: Exception) -> OrjsonResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(
        500, ErrorCode.INTERNAL_ERROR, "The server failed; the change was not applied"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
