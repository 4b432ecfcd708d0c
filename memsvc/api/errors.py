"""The one table from memsvc errors to HTTP statuses, and the handlers that use it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from memsvc import errors

__all__ = [
    "ERROR_RESPONSES",
    "STATUS",
    "ErrorBody",
    "error_response",
    "install_error_handlers",
    "status_for",
]

log = logging.getLogger(__name__)

STATUS: dict[type[errors.MemsvcError], int] = {
    errors.PayloadTooLarge: 413,
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.RateLimited: 429,
    errors.StorageFull: 507,
    errors.Unavailable: 503,
}

_HTTP_NAMES = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "PermissionDenied",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


class ErrorBody(BaseModel):
    """The body of every REST error: a stable code and a sentence saying what to do next."""

    error: str = Field(description="The error's class, e.g. `NotFound`, `InvalidInput`.")
    detail: str = Field(description="What went wrong and what to do next; never a trace.")


_DOCUMENTED = {
    400: "The body could not be parsed at all.",
    401: "No token, or an unknown one (`Authorization: Bearer <token>`).",
    403: "The role does not allow this, or the Host or Origin is not served here.",
    404: "No such project or memory (or not one the caller can read).",
    409: "A conflict: the project exists, a stale `expected_version`, a refused transition.",
    413: "The request body, a content field or a batch is over its limit.",
    415: "The body is not `application/json`.",
    422: "A field is malformed, missing or out of range; `detail` names it.",
    429: "Too many requests; retry later.",
    500: "An internal error; `detail` carries the request id, the server log the rest.",
    503: "The database, the model or this project's index cannot serve right now "
    "(`IndexRebuilding`: the project's index is being rebuilt; other projects serve); "
    "retry later.",
    507: "`StorageFull`: the disk under the database or the index is full; nothing was "
    "stored or acknowledged. Free space and retry.",
}

# Every route's error statuses, with the one body model. The guards in front of FastAPI
# (Host, Origin, body size, media type), authentication and the service's error tree can
# end any request with one of these, so each route documents them all; FastAPI's own 422
# (HTTPValidationError) is replaced because our handler never returns that shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DOCUMENTED.items()
}


def status_for(exc: errors.MemsvcError) -> int:
    """The HTTP status of a memsvc error: its nearest class in :data:`STATUS`, else 500."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error body of the REST door, ``{"error", "detail"}``; also an ASGI app, so
    the guards in front of FastAPI reply with it too. A 401 says which scheme to use."""
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return JSONResponse(
        {"error": error, "detail": detail}, status_code=status, headers=extra | (headers or {})
    )


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            return "the body is not valid JSON"
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Map memsvc errors, invalid requests, HTTP errors and crashes to error bodies; a crash
    is logged with its traceback and the client gets only the request id."""

    @app.exception_handler(errors.MemsvcError)
    async def _memsvc(_: Request, exc: errors.MemsvcError) -> JSONResponse:
        return error_response(status_for(exc), exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "InvalidInput", _validation_detail(exc))

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(x) for x in e.get('loc', ())) or 'value'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()[:5]
        ]
        return error_response(422, "InvalidInput", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = _HTTP_NAMES.get(exc.status_code, "HTTPError")
        detail = exc.detail if isinstance(exc.detail, str) else name
        return error_response(exc.status_code, name, detail)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        rid = request.headers.get("x-request-id") or getattr(request.state, "request_id", "-")
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(
            500, "InternalError", f"internal error (request {rid}); the server log has details"
        )
