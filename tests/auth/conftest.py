"""Helpers for sign-in tests: an app wired to a fake outside service, and a fake SMS gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from app.config import Settings
from app.main import create_app
from tests.conftest import _savepoint_sessions

SMS_GATEWAY_URL = "https://sms.example.test/send"

Handler = Callable[[httpx.Request], httpx.Response]


def app_with_outside(settings: Settings, connection: Connection, handler: Handler) -> FastAPI:
    """Like the `app` fixture, but outside calls go to `handler` through httpx.MockTransport."""
    application = create_app(
        settings, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    application.state.sessionmaker = _savepoint_sessions(connection)
    return application


@dataclass
class SmsGateway:
    """Records what the app posts; answers `status`, or refuses the connection when unreachable."""

    status: int = 200
    unreachable: bool = False
    received: list[httpx.Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.received.append(request)
        if self.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(self.status, json={"ok": self.status < 400})

    def payloads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r.content) for r in self.received]

    def last_code(self, phone: str) -> str:
        """The code in the most recent message to `phone` (the normalised 11 digits)."""
        for payload in reversed(self.payloads()):
            if payload["phone"] == phone:
                code = payload["params"]["code"]
                assert isinstance(code, str)
                return code
        raise AssertionError(f"no SMS was sent to {phone}")


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert that `response` is a problem+json with this status and code; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(client: TestClient, token: str) -> dict[str, Any]:
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
