"""Errors the server answers with: always a 4xx and a :class:`sync.protocol.ErrorBody`.

Handlers here turn FastAPI's validation errors, HTTP exceptions, oversized bodies and
database races into that shape, so nothing a client sends produces a 5xx.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync.protocol import ErrorBody

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raise to answer ``status`` with ``{"error": error, "detail": detail}``."""

    def __init__(
        self, status: int, error: str, detail: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=error, detail=detail)
    return JSONResponse(status_code=status, content=body.model_dump(), headers=headers)


#: Every error status the API documents, for ``responses=`` on routes.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in [
        (400, "Bad request"),
        (401, "Missing, unknown or revoked token"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Body too large"),
        (422, "A field failed validation"),
        (426, "Protocol version no longer supported"),
        (429, "Too many requests: retry after the Retry-After header's seconds"),
    ]
}


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def describe_validation_errors(errors: Any) -> str:
    """One line per failed field: ``entries.0.seq: Input should be greater than or equal to 1``."""
    lines = []
    for err in list(errors)[:20]:
        lines.append(f"{_field_path(err.get('loc', ()))}: {err.get('msg', 'invalid')}")
    return "; ".join(lines) or "the request is not valid"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", describe_validation_errors(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(
            exc.status_code, names.get(exc.status_code, "http_error"), detail, dict(exc.headers or {})
        )

    @app.exception_handler(IntegrityError)
    async def on_integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique thing; the loser is told to look again.
        log.info("integrity race answered 409: %s", exc.orig)
        return error_response(409, "conflict", "another request changed the same record at once; retry")

    @app.exception_handler(DataError)
    async def on_data_error(_request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value (out of range, a NUL character): the client sent it.
        log.info("database refused a value: %s", exc.orig)
        return error_response(
            422, "invalid_value", "a value is out of range or holds characters that cannot be stored"
        )

    @app.exception_handler(UnicodeError)
    async def on_unicode(_request: Request, _exc: UnicodeError) -> JSONResponse:
        # JSON may carry lone surrogates ("\ud800") that no UTF-8 text can hold.
        return error_response(422, "invalid_text", "a text holds characters that are not valid Unicode")

    @app.exception_handler(OverflowError)
    async def on_overflow(_request: Request, _exc: OverflowError) -> JSONResponse:
        return error_response(422, "invalid_value", "a number is too large")

    @app.exception_handler(PoolTimeout)
    async def on_pool_timeout(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        return error_response(429, "busy", "the server is busy; retry shortly", {"Retry-After": "2"})

    @app.exception_handler(OperationalError)
    async def on_operational(_request: Request, exc: OperationalError) -> JSONResponse:
        text = str(exc.orig).lower()
        if "locked" in text or "deadlock" in text or "could not serialize" in text:
            return error_response(429, "busy", "the database is busy; retry shortly", {"Retry-After": "1"})
        raise exc


class BodyLimit:
    """ASGI middleware: a request whose body is larger than ``max_bytes`` gets 413 unread."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope.get("headers") or []).get(b"content-length")
            too_big = False
            if length is not None:
                try:
                    too_big = int(length) > self.max_bytes
                except ValueError:
                    too_big = True
            if too_big:
                response = error_response(
                    413,
                    "too_large",
                    f"the request body is larger than {self.max_bytes} bytes; send smaller batches",
                )
                await response(scope, receive, send)
                return
            received = 0

            async def counted_receive() -> Any:
                nonlocal received
                message = await receive()
                if message.get("type") == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_bytes:
                        raise _TooLarge
                return message

            try:
                await self.app(scope, counted_receive, send)
            except _TooLarge:
                response = error_response(
                    413, "too_large", f"the request body is larger than {self.max_bytes} bytes"
                )
                await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass
