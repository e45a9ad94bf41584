"""One error hierarchy, rendered as RFC 9457 problem details with a stable `code`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_CONTENT_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(BaseModel):
    """RFC 9457 problem details. `code` is stable and machine-readable; `detail` is for people."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str = Field(description="Stable machine-readable error code")
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Field errors of an invalid request"
    )
    current_state: str | None = Field(
        default=None, description="The resource's state when an action conflicts with it"
    )


class AppError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Invalid(AppError):
    status = 422
    code = "invalid"
    title = "Invalid request"


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"


class BadGateway(AppError):
    status = 502
    code = "upstream_error"
    title = "An outside service failed"


class Unavailable(AppError):
    status = 503
    code = "unavailable"
    title = "Not available"


def problem_response(
    *, status: int, title: str, code: str, detail: str | None, request: Request, **extra: Any
) -> JSONResponse:
    body = Problem(
        title=title, status=status, code=code, detail=detail, instance=request.url.path, **extra
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429 and "retry_after_seconds" in extra:
        headers = {"Retry-After": str(extra["retry_after_seconds"])}
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def _clean_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    cleaned = []
    for error in exc.errors():
        cleaned.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": error.get("msg", ""),
                "type": error.get("type", ""),
            }
        )
    return cleaned


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(
            status=exc.status,
            title=exc.title,
            code=exc.code,
            detail=exc.detail,
            request=request,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _clean_validation_errors(exc)
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(first["loc"])
        message = str(first["msg"])
        return problem_response(
            status=422,
            title="Invalid request",
            code="validation_error",
            detail=f"{where}: {message}" if where else message,
            request=request,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        return problem_response(
            status=exc.status_code,
            title=str(exc.detail) if exc.status_code != 404 else "Not found",
            code=codes.get(exc.status_code, "http_error"),
            detail=str(exc.detail),
            request=request,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            status=500,
            title="Internal error",
            code="internal_error",
            detail="Something went wrong on our side. It has been logged.",
            request=request,
        )


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_CONTENT_TYPE: {}}, "description": description}
    for status, description in [
        (400, "Bad request"),
        (401, "Not authenticated"),
        (403, "Not allowed"),
        (404, "Not found, or outside the caller's scope"),
        (409, "Conflicts with the current state"),
        (422, "Invalid input"),
    ]
}
