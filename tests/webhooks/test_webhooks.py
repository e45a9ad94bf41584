"""Webhook subscriptions and deliveries through the API and the worker.

Deliveries go through the real sender over an httpx.MockTransport that plays the receiver; host
names resolve through a table, so the address checks run as they do in production.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, col, select

from app.common.clock import utcnow
from app.config import Settings
from app.integrations.webhooks import WebhookSender
from app.main import create_app
from app.notifications.channels import Notifier
from app.notifications.models import OutboxMessage
from app.webhooks import signing
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.worker.tasks import run_once
from tests.conftest import _savepoint_sessions
from tests.factories import Factory, World

HOOK_URL = "https://hooks.example.com/diandan"
PUBLIC_ADDRESS = "93.184.216.34"


@dataclass
class Receiver:
    """The integrator's endpoint: records what arrives and answers from a script."""

    answers: list[int] = field(default_factory=list)  # status codes to give, then 200s
    received: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        status = self.answers.pop(0) if self.answers else 200
        headers = {"location": "https://elsewhere.example.com/"} if status == 302 else {}
        return httpx.Response(status, headers=headers)


@dataclass
class Hooks:
    app: FastAPI
    client: TestClient
    receiver: Receiver
    dns: dict[str, list[str]]
    settings: Settings
    make: Factory
    world: World

    def admin_headers(self) -> dict[str, str]:
        return self.make.headers(self.make.platform_admin())

    def subscribe(self, **overrides: Any) -> dict[str, Any]:
        body = {"url": HOOK_URL, "event_types": ["team.update"], **overrides}
        response = self.client.post("/api/v1/webhooks", json=body, headers=self.admin_headers())
        assert response.status_code == 201, response.text
        return dict(response.json())

    def change_team(self, text: str = "新介绍") -> None:
        response = self.client.patch(
            f"/api/v1/teams/{self.world.team.id}",
            json={"description": text},
            headers=self.make.headers(self.world.station_admin),
        )
        assert response.status_code == 200, response.text

    def work(self, now: datetime | None = None) -> dict[str, int]:
        sender = WebhookSender(
            self.app.state.http, https_only=True, resolve=lambda h, _p: self.dns.get(h, [])
        )
        return run_once(
            self.app.state.sessionmaker,
            self.settings,
            Notifier(codec=self.app.state.codec),
            worker_id="w1",
            now=now or utcnow(),
            webhooks=sender,
        )


@pytest.fixture
def hooks(
    settings: Settings, connection: Connection, make: Factory, db: Session
) -> Iterator[Hooks]:
    receiver = Receiver()
    dns = {"hooks.example.com": [PUBLIC_ADDRESS]}
    http = httpx.Client(transport=httpx.MockTransport(receiver))
    app = create_app(settings, http_client=http, webhook_resolver=lambda h, _p: dns.get(h, []))
    app.state.sessionmaker = _savepoint_sessions(connection)
    app.state.http = http
    yield Hooks(app, TestClient(app), receiver, dns, settings, make, make.world("140802000000"))
    http.close()


def deliveries(db: Session, subscription_id: str) -> list[WebhookDelivery]:
    db.expire_all()
    return list(
        db.exec(
            select(WebhookDelivery)
            .where(col(WebhookDelivery.subscription_id) == uuid.UUID(subscription_id))
            .order_by(col(WebhookDelivery.change_seq))
        ).all()
    )


def subscription(db: Session, subscription_id: str) -> WebhookSubscription:
    db.expire_all()
    found = db.get(WebhookSubscription, uuid.UUID(subscription_id))
    assert found is not None
    return found


def test_a_change_is_delivered_signed_thin_and_to_the_checked_address(hooks: Hooks) -> None:
    sub = hooks.subscribe(event_types=["team.*"])
    hooks.change_team()
    counts = hooks.work()

    assert counts["webhooks_queued"] == 1

    assert counts["webhooks_sent"] == 1
    [request] = hooks.receiver.received
    assert request.url.host == PUBLIC_ADDRESS  # pinned to the address that was checked
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert signing.verify(
        sub["secret"], request.headers, request.content, now=int(utcnow().timestamp())
    )
    payload = json.loads(request.content)
    assert payload["type"] == "team.update"
    assert payload["data"]["id"] == str(hooks.world.team.id)
    assert payload["data"]["fields"] == ["description", "updated_at"]
    assert "新介绍" not in request.content.decode()  # thin: no values, fetch them via the API
    # Nothing is sent twice.
    assert hooks.work()["webhooks_sent"] == 0
    assert len(hooks.receiver.received) == 1


def test_only_subscribed_types_and_regions_are_delivered(hooks: Hooks, db: Session) -> None:
    hooks.make.region("140803000000")
    wants_orders = hooks.subscribe(event_types=["order.*"])
    other_county = hooks.subscribe(event_types=["*"], region_code="140803000000")
    hooks.change_team()
    hooks.work()
    assert hooks.receiver.received == []
    assert deliveries(db, wants_orders["id"]) == deliveries(db, other_county["id"]) == []


def test_a_failing_receiver_is_retried_on_the_schedule(hooks: Hooks, db: Session) -> None:
    sub = hooks.subscribe()
    hooks.receiver.answers = [500, 302]
    hooks.change_team()
    start = utcnow()
    hooks.work(start)
    [delivery] = deliveries(db, sub["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert timedelta(seconds=4) <= delivery.next_attempt_at - start <= timedelta(seconds=6)

    hooks.work(start + timedelta(seconds=1))  # not due yet
    assert len(hooks.receiver.received) == 1
    hooks.work(start + timedelta(seconds=7))  # a redirect is a failure, and is not followed
    [delivery] = deliveries(db, sub["id"])
    assert (delivery.attempts, delivery.last_status_code) == (2, 302)
    assert [r.url.host for r in hooks.receiver.received] == [PUBLIC_ADDRESS] * 2
    hooks.work(start + timedelta(minutes=10))
    [delivery] = deliveries(db, sub["id"])
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert subscription(db, sub["id"]).failing_since is None


def test_410_disables_the_subscription_at_once_and_reports_it(hooks: Hooks, db: Session) -> None:
    sub = hooks.subscribe()
    hooks.receiver.answers = [410]
    hooks.change_team("一")
    hooks.work()
    hooks.change_team("二")
    hooks.work()
    found = subscription(db, sub["id"])
    assert found.status == "disabled"
    assert "410" in (found.disabled_reason or "")
    assert len(hooks.receiver.received) == 1  # the second change is not delivered
    reported = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "webhook.disabled"))
    assert [m.payload["subscription_id"] for m in reported] == [sub["id"]]


def test_a_subscription_failing_for_too_long_is_disabled(hooks: Hooks, db: Session) -> None:
    sub = hooks.subscribe()
    hooks.receiver.answers = [503] * 100
    moment = utcnow()
    for n in range(12):  # a change every 11 hours, every delivery failing: 121 hours in all
        hooks.change_team(f"第{n}次")
        hooks.work(moment)
        moment += timedelta(hours=11)
        assert subscription(db, sub["id"]).status == ("active" if n < 11 else "disabled")
    found = subscription(db, sub["id"])
    assert found.disabled_reason
    assert "120" in found.disabled_reason
    statuses = {d.status for d in deliveries(db, sub["id"])}
    assert "pending" not in statuses
    assert "cancelled" in statuses


def test_every_attempt_failing_leaves_a_dead_letter_that_can_be_replayed(
    hooks: Hooks, db: Session
) -> None:
    hooks.settings.webhook_disable_after_hours = 1000
    sub = hooks.subscribe()
    hooks.receiver.answers = [500] * 8
    hooks.change_team()
    moment = utcnow()
    for _ in range(9):
        hooks.work(moment)
        moment += timedelta(hours=13)  # past the longest delay with its jitter (10 h × 1.2)
    [delivery] = deliveries(db, sub["id"])
    assert (delivery.status, delivery.attempts) == ("failed", 8)
    listed = hooks.client.get(
        f"/api/v1/webhooks/{sub['id']}/deliveries?status=failed", headers=hooks.admin_headers()
    ).json()["items"]
    assert [d["id"] for d in listed] == [str(delivery.id)]

    replayed = hooks.client.post(
        f"/api/v1/webhooks/{sub['id']}/deliveries/{delivery.id}/replay",
        headers=hooks.admin_headers(),
    )
    assert replayed.status_code == 200
    assert replayed.json()["status"] == "pending"
    hooks.work(moment)
    assert deliveries(db, sub["id"])[0].status == "delivered"
    again = hooks.client.post(
        f"/api/v1/webhooks/{sub['id']}/deliveries/{delivery.id}/replay",
        headers=hooks.admin_headers(),
    )
    assert again.status_code == 409
    assert again.json()["code"] == "not_replayable"


def test_a_name_that_turns_private_is_not_called(hooks: Hooks, db: Session) -> None:
    sub = hooks.subscribe()
    hooks.dns["hooks.example.com"] = ["10.0.0.7"]  # DNS rebinding after the subscription
    hooks.change_team()
    hooks.work()
    assert hooks.receiver.received == []
    [delivery] = deliveries(db, sub["id"])
    assert delivery.attempts == 1
    assert "refused" in (delivery.last_error or "")


def test_a_rotated_secret_signs_beside_the_new_one(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    rotated = hooks.client.post(
        f"/api/v1/webhooks/{sub['id']}/rotate-secret", headers=hooks.admin_headers()
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != sub["secret"]
    hooks.change_team()
    hooks.work()
    [request] = hooks.receiver.received
    now = int(utcnow().timestamp())
    assert len(request.headers["webhook-signature"].split()) == 2
    assert signing.verify(new_secret, request.headers, request.content, now=now)
    assert signing.verify(sub["secret"], request.headers, request.content, now=now)


def test_secrets_are_shown_once(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    listed = hooks.client.get("/api/v1/webhooks", headers=hooks.admin_headers()).json()
    one = hooks.client.get(f"/api/v1/webhooks/{sub['id']}", headers=hooks.admin_headers()).json()
    assert sub["secret"] not in json.dumps(listed) + json.dumps(one)
    assert "secret" not in one


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "https://intranet.example.com/x"}, "webhook_url_refused"),
        ({"url": "https://nowhere.example.com/x"}, "webhook_url_refused"),
        ({"url": "http://127.0.0.1:8080/x"}, "webhook_url_refused"),
        ({"event_types": ["order.explode"]}, "bad_event_type"),
        ({"event_types": ["people.*"]}, "bad_event_type"),
        ({"event_types": []}, "validation_error"),
        ({"region_code": "999999999999"}, "region_not_found"),
    ],
)
def test_bad_subscriptions_are_refused(
    hooks: Hooks, db: Session, body: dict[str, Any], code: str
) -> None:
    hooks.dns["intranet.example.com"] = ["192.168.0.10"]
    payload = {"url": HOOK_URL, "event_types": ["team.update"], **body}
    response = hooks.client.post("/api/v1/webhooks", json=payload, headers=hooks.admin_headers())
    assert response.status_code in (404, 422), response.text
    assert response.json()["code"] == code
    assert db.exec(select(WebhookSubscription)).all() == []


def test_deleting_a_subscription_stops_its_deliveries(hooks: Hooks, db: Session) -> None:
    sub = hooks.subscribe()
    hooks.receiver.answers = [500]
    hooks.change_team()
    hooks.work()
    gone = hooks.client.delete(f"/api/v1/webhooks/{sub['id']}", headers=hooks.admin_headers())
    assert gone.status_code == 204
    hooks.work(utcnow() + timedelta(minutes=1))
    assert len(hooks.receiver.received) == 1
    assert deliveries(db, sub["id"]) == []
    missing = hooks.client.get(f"/api/v1/webhooks/{sub['id']}", headers=hooks.admin_headers())
    assert missing.status_code == 404
    assert missing.json()["code"] == "webhook_not_found"


CALLS: list[tuple[str, Callable[[str], str]]] = [
    ("POST", lambda _s: "/api/v1/webhooks"),
    ("GET", lambda _s: "/api/v1/webhooks"),
    ("GET", lambda s: f"/api/v1/webhooks/{s}"),
    ("DELETE", lambda s: f"/api/v1/webhooks/{s}"),
    ("POST", lambda s: f"/api/v1/webhooks/{s}/rotate-secret"),
    ("POST", lambda s: f"/api/v1/webhooks/{s}/enable"),
    ("GET", lambda s: f"/api/v1/webhooks/{s}/deliveries"),
]


@pytest.mark.parametrize(("method", "path"), CALLS)
@pytest.mark.parametrize(
    "who", ["center_admin", "station_admin", "leader", "member", "resident", None]
)
def test_only_platform_admins_manage_webhooks(
    hooks: Hooks, db: Session, method: str, path: Callable[[str], str], who: str | None
) -> None:
    sub = hooks.subscribe()
    headers = hooks.make.headers(getattr(hooks.world, who)) if who else {}
    body = {"url": HOOK_URL, "event_types": ["*"]} if method == "POST" else None
    response = hooks.client.request(method, path(sub["id"]), json=body, headers=headers)
    assert response.status_code == (403 if who else 401)
    assert response.json()["code"] == ("platform_admin_required" if who else "not_authenticated")
    assert sub["secret"] not in response.text
    assert len(db.exec(select(WebhookSubscription)).all()) == 1
