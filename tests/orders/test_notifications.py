"""Notifications through the API: outbox rows written in the change's own transaction, delivered
after commit by the worker, retried with backoff and finally given up."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.accounts.service import PHONE_CONTEXT
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.dispatch.models import Offer
from app.integrations.sms import HttpSmsNotifier
from app.notifications.channels import TOPIC_TEXT, Notifier
from app.notifications.models import OutboxMessage
from app.orders import router as orders_router
from app.orders.models import Order
from app.teams.models import Team, TeamMember
from app.volunteers.models import Volunteer
from app.worker.tasks import MAX_ATTEMPTS, run_once
from tests.orders.conftest import OrderWorld

SMS_URL = "https://sms.example.test/notify"


def outbox(db: Session, topic: str | None = None) -> list[OutboxMessage]:
    db.expire_all()
    stmt = select(OutboxMessage).order_by(col(OutboxMessage.created_at))
    if topic is not None:
        stmt = stmt.where(OutboxMessage.topic == topic)
    return list(db.exec(stmt).all())


def leader_of(db: Session, team: Team) -> User:
    volunteer = db.exec(
        select(Volunteer)
        .join(TeamMember, col(TeamMember.volunteer_id) == col(Volunteer.id))
        .where(TeamMember.team_id == team.id, TeamMember.role == "leader")
    ).one()
    user = db.get(User, volunteer.user_id)
    assert user is not None
    return user


def status_payload(
    order: dict[str, Any], status: str, label: str, reason: str | None = None
) -> Any:
    return {
        "order_id": order["id"],
        "title": order["title"],
        "status": status,
        "status_label": label,
        "reason": reason,
    }


# ---- written in the same transaction -------------------------------------------------------------


def test_an_order_that_needs_review_notifies_the_station_admins(
    ow: OrderWorld, db: Session
) -> None:
    w = ow.world
    second_admin = ow.make.site_admin(w.village)
    assert outbox(db) == []

    order = ow.place()

    assert order["status"] == "pending_review"
    messages = outbox(db)
    assert sorted(str(m.recipient_user_id) for m in messages) == sorted(
        [str(w.station_admin.id), str(second_admin.id)]
    )
    for message in messages:
        assert message.topic == "order.review_needed"
        assert message.payload == {"order_id": order["id"], "title": "帮独居老人买药"}
        assert (message.status, message.attempts, message.locked_by) == ("pending", 0, None)


def test_a_refused_order_writes_no_notification(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    response = client.post(
        "/api/v1/orders",
        json={
            "category_code": "no_such_category",
            "title": "帮独居老人买药",
            "region_code": ow.world.village,
            "contact_name": "张大爷",
            "contact_phone": "13912345678",
        },
        headers=ow.as_(ow.world.resident),
    )
    assert (response.status_code, response.json()["code"]) == (422, "unknown_category")
    assert outbox(db) == []


def test_an_order_that_fails_after_its_notification_was_queued_leaves_neither(
    ow: OrderWorld, app: FastAPI, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request fails after `place` queued the admins' notification: both roll back together."""
    queued: list[str] = []

    def fail(session: Session, *_args: object) -> None:
        queued.extend(m.topic for m in session.exec(select(OutboxMessage)).all())
        raise RuntimeError("the answer could not be built")

    monkeypatch.setattr(orders_router, "_one", fail)
    response = TestClient(app, raise_server_exceptions=False).post(
        "/api/v1/orders",
        json={
            "category_code": "care",
            "title": "帮独居老人买药",
            "region_code": ow.world.village,
            "contact_name": "张大爷",
            "contact_phone": "13912345678",
        },
        headers=ow.as_(ow.world.resident),
    )
    assert response.status_code == 500
    assert queued == ["order.review_needed"]  # written, then rolled back with the order
    db.expire_all()
    assert db.exec(select(Order)).all() == []
    assert outbox(db) == []


def test_dispatch_notifies_the_offered_teams_leader(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w = ow.world
    order = ow.approved()
    before = {m.id for m in outbox(db)}

    response = client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"team_id": str(ow.township_team.id)},
        headers=ow.as_(w.station_admin),
    )

    assert response.status_code == 200, response.text
    new = [m for m in outbox(db) if m.id not in before]
    [message] = new
    offer = db.exec(select(Offer).where(Offer.order_id == uuid.UUID(order["id"]))).one()
    assert message.topic == "offer.created"
    assert message.recipient_user_id == leader_of(db, ow.township_team).id
    assert message.payload == {
        "order_id": order["id"],
        "title": "帮独居老人买药",
        "expires_at": offer.expires_at.isoformat(),
    }


def test_grab_notifies_every_offered_leader_once(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w = ow.world
    order = ow.approved()
    client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"mode": "grab"},
        headers=ow.as_(w.station_admin),
    )
    leaders = [leader_of(db, t) for t in (w.team, ow.township_team, ow.county_team)]
    created = outbox(db, "offer.created")
    assert sorted(str(m.recipient_user_id) for m in created) == sorted(str(u.id) for u in leaders)
    assert {m.payload["order_id"] for m in created} == {order["id"]}

    client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.leader))
    withdrawn = outbox(db, "offer.withdrawn")
    assert sorted(str(m.recipient_user_id) for m in withdrawn) == sorted(
        str(u.id) for u in leaders[1:]
    )
    assert {json.dumps(m.payload, sort_keys=True) for m in withdrawn} == {
        json.dumps({"order_id": order["id"], "title": "帮独居老人买药"}, sort_keys=True)
    }


def test_status_changes_notify_the_requester(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w = ow.world
    order = ow.approved()
    headers = ow.as_(w.station_admin)
    client.post(
        f"/api/v1/orders/{order['id']}/dispatch", json={"team_id": str(w.team.id)}, headers=headers
    )
    accepted = client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.leader))
    assert accepted.status_code == 200, accepted.text
    started = client.post(f"/api/v1/orders/{order['id']}/start", headers=ow.as_(w.leader))
    assert started.status_code == 200, started.text
    cancelled = client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "老人住院了"}, headers=headers
    )
    assert cancelled.status_code == 200, cancelled.text

    told = outbox(db, "order.status_changed")
    assert {m.recipient_user_id for m in told} == {w.resident.id}
    assert [m.payload for m in told] == [
        status_payload(order, "unassigned", "待派单"),
        status_payload(order, "accepted", "已接单"),
        status_payload(order, "in_service", "服务中"),
        status_payload(order, "cancelled", "已取消", "老人住院了"),
    ]


def test_a_rejection_tells_the_requester_why(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    order = ow.place()
    rejected = client.post(
        f"/api/v1/orders/{order['id']}/reject",
        json={"reason": "不属于志愿服务范围", "referral": "请联系镇司法所"},
        headers=ow.as_(ow.world.station_admin),
    )
    assert rejected.status_code == 200, rejected.text
    [message] = outbox(db, "order.status_changed")
    assert message.recipient_user_id == ow.world.resident.id
    assert message.payload == status_payload(order, "rejected", "已驳回", "不属于志愿服务范围")


# ---- delivered by the worker ---------------------------------------------------------------------


@dataclass
class SmsRelay:
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(json.loads(request.content))
        return httpx.Response(self.status, json={"ok": self.status < 400})

    def notifier(self, settings: Settings) -> Notifier:
        client = httpx.Client(transport=httpx.MockTransport(self))
        return Notifier(
            SensitiveCodec(settings.data_key_value), sms=HttpSmsNotifier(client, SMS_URL, None)
        )


def phone_of(ow: OrderWorld, user: User) -> str:
    assert user.phone_cipher is not None
    return ow.make.codec.decrypt(user.phone_cipher, context=PHONE_CONTEXT)


def test_run_once_delivers_the_pending_notifications(
    ow: OrderWorld, app: FastAPI, settings: Settings, db: Session
) -> None:
    w = ow.world
    order = ow.approved()  # review_needed to the station admin, status_changed to the resident
    relay = SmsRelay()
    now = utcnow()

    counts = run_once(
        app.state.sessionmaker, settings, relay.notifier(settings), worker_id="w", now=now
    )

    assert counts["delivered"] == 2
    messages = outbox(db)
    assert [(m.topic, m.status, m.attempts, m.sent_at, m.locked_until) for m in messages] == [
        ("order.review_needed", "sent", 1, now, None),
        ("order.status_changed", "sent", 1, now, None),
    ]
    assert sorted(relay.received, key=lambda r: str(r["template"])) == [
        {
            "phone": phone_of(ow, w.station_admin),
            "template": "order.review_needed",
            "params": {
                "text": TOPIC_TEXT["order.review_needed"],
                "order_id": order["id"],
                "title": "帮独居老人买药",
            },
        },
        {
            "phone": phone_of(ow, w.resident),
            "template": "order.status_changed",
            "params": {
                "text": TOPIC_TEXT["order.status_changed"],
                **{k: v for k, v in status_payload(order, "unassigned", "待派单").items() if v},
            },
        },
    ]
    again = run_once(
        app.state.sessionmaker, settings, relay.notifier(settings), worker_id="w", now=now
    )
    assert again["delivered"] == 0
    assert len(relay.received) == 2


def backoff_bounds(attempts: int) -> tuple[timedelta, timedelta]:
    base = min(3600.0, 10.0 * 2 ** (attempts - 1))
    return timedelta(seconds=base * 0.8), timedelta(seconds=base * 1.2)


def test_a_failing_channel_backs_off_then_gives_up(
    ow: OrderWorld, app: FastAPI, settings: Settings, db: Session
) -> None:
    ow.place()  # one message: review_needed to the station admin
    relay = SmsRelay(status=500)
    notifier = relay.notifier(settings)
    now = utcnow()

    counts = run_once(app.state.sessionmaker, settings, notifier, worker_id="w", now=now)

    assert counts["delivered"] == 0
    [message] = outbox(db)
    assert (message.status, message.attempts, message.locked_until) == ("pending", 1, None)
    assert message.last_error is not None
    assert message.last_error.startswith(
        f"Server error '500 Internal Server Error' for url '{SMS_URL}'"
    )
    low, high = backoff_bounds(1)
    assert now + low <= message.available_at <= now + high
    # Not due yet: nothing is tried before the backoff has passed.
    run_once(
        app.state.sessionmaker,
        settings,
        notifier,
        worker_id="w",
        now=message.available_at - timedelta(seconds=1),
    )
    assert len(relay.received) == 1

    tried_at: datetime = message.available_at
    for attempt in range(2, MAX_ATTEMPTS + 1):
        tried_at = message.available_at
        run_once(app.state.sessionmaker, settings, notifier, worker_id="w", now=tried_at)
        [message] = outbox(db)
        assert message.attempts == attempt
        assert len(relay.received) == attempt
        if attempt < MAX_ATTEMPTS:
            low, high = backoff_bounds(attempt)
            assert message.status == "pending"
            assert tried_at + low <= message.available_at <= tried_at + high

    assert (message.status, message.attempts, message.sent_at) == ("failed", MAX_ATTEMPTS, None)
    # Given up: never tried again.
    run_once(
        app.state.sessionmaker, settings, notifier, worker_id="w", now=tried_at + timedelta(hours=1)
    )
    [message] = outbox(db, "order.review_needed")
    assert (message.status, message.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(relay.received) == MAX_ATTEMPTS


def test_a_recovered_channel_delivers_the_retried_message(
    ow: OrderWorld, app: FastAPI, settings: Settings, db: Session
) -> None:
    ow.place()
    relay = SmsRelay(status=503)
    notifier = relay.notifier(settings)
    run_once(app.state.sessionmaker, settings, notifier, worker_id="w", now=utcnow())
    [message] = outbox(db)
    due = message.available_at
    relay.status = 200

    run_once(app.state.sessionmaker, settings, notifier, worker_id="w", now=due)

    [message] = outbox(db)
    assert (message.status, message.attempts, message.sent_at) == ("sent", 2, due)
    assert len(relay.received) == 2
