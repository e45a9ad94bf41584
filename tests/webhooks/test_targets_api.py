"""The target checks as the subscription API applies them: https only in production."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Environment, Settings
from app.webhooks.models import WebhookSubscription
from tests.factories import Factory

PUBLIC_ADDRESS = "93.184.216.34"


def _subscribe(client: TestClient, make: Factory, url: str) -> tuple[int, str | None]:
    response = client.post(
        "/api/v1/webhooks",
        json={"url": url, "event_types": ["team.update"]},
        headers=make.headers(make.platform_admin()),
    )
    return response.status_code, response.json().get("code")


def test_production_refuses_plain_http_targets_at_subscription(
    app: FastAPI, client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    app.state.webhook_resolver = lambda host, _port: {"hooks.example.com": [PUBLIC_ADDRESS]}.get(
        host, []
    )
    settings.webhook_https_only = None  # the default: decided by the environment
    assert _subscribe(client, make, "http://hooks.example.com/a") == (201, None)  # test env

    settings.env = Environment.PRODUCTION
    assert _subscribe(client, make, "http://hooks.example.com/b") == (422, "webhook_url_refused")
    assert _subscribe(client, make, "https://hooks.example.com/c") == (201, None)
    db.expire_all()
    urls = set(db.exec(select(WebhookSubscription.url)).all())
    assert urls == {"http://hooks.example.com/a", "https://hooks.example.com/c"}
