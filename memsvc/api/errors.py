"""The one table from memsvc errors to HTTP statuses, and the handlers that use it."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from memsvc import errors

__all__ = ["STATUS", "error_response", "install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

STATUS: dict[type[errors.MemsvcError], int] = {
    errors.PayloadTooLarge: 413,
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.RateLimited: 429,
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
