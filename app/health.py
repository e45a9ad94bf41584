"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> dict[str, str]:
    """The database answers."""
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise Unavailable(
            "数据库不可用 / the database is unreachable", code="db_unavailable"
        ) from exc
    return {"status": "ready"}


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _MetricsMiddleware:
    """Counts and times requests by route template. Plain ASGI: no per-request task or copy of
    the body, unlike `BaseHTTPMiddleware`."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry, api_prefix: str) -> None:
        self.app = app
        self.api_prefix = api_prefix
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            # Routes of included routers report their path without the prefix they are mounted at.
            if scope["path"].startswith(self.api_prefix) and not template.startswith(
                self.api_prefix
            ):
                template = self.api_prefix + template
            method = scope["method"]
            self.latency.labels(method, template).observe(time.perf_counter() - started)
            self.requests.labels(method, template, str(status)).inc()


def install_metrics(app: FastAPI, *, api_prefix: str) -> None:
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.add_middleware(_MetricsMiddleware, registry=registry, api_prefix=api_prefix)
