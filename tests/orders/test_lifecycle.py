"""点单 validation, review, cancel, rating, complaints, contact, deadlines and auto-close."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.notifications.channels import Notifier
from app.notifications.models import OutboxMessage
from app.orders.models import Order
from app.worker.tasks import run_once
from tests.orders.conftest import OrderWorld


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"category_code": "nope"}, 422, "unknown_category"),
        ({"region_code": "650102001001"}, 404, "region_not_found"),
        ({"region_code": "12345"}, 422, "validation_error"),
        ({"title": "x" * 101}, 422, "validation_error"),
        ({"location": {"lat": 95, "lng": 110}}, 422, "validation_error"),
        ({"location": {"lat": 35, "lng": 110, "coord_system": "mars"}}, 422, "validation_error"),
        (
            {
                "window_start": "2030-01-02T10:00:00+08:00",
                "window_end": "2030-01-02T09:00:00+08:00",
            },
            422,
            "validation_error",
        ),
        (
            {
                "window_start": "2020-01-02T09:00:00+08:00",
                "window_end": "2020-01-02T10:00:00+08:00",
            },
            422,
            "window_in_past",
        ),
        ({"window_end": "2030-01-02T10:00:00"}, 422, "validation_error"),
        ({"contact_phone": "12345"}, 422, "invalid_phone"),
        ({"people_needed": 0}, 422, "validation_error"),
    ],
    ids=[
        "category",
        "region-unknown",
        "region-format",
        "title-long",
        "lat-range",
        "coord-system",
        "window-reversed",
        "window-past",
        "window-naive",
        "phone",
        "people",
    ],
)
def test_bad_orders_are_refused(
    ow: OrderWorld, client: TestClient, overrides: dict[str, Any], status: int, code: str
) -> None:
    body = {
        "category_code": "care",
        "title": "帮老人买药",
        "region_code": ow.world.village,
        "contact_name": "张大爷",
        "contact_phone": "13912345678",
        **overrides,
    }
    response = client.post("/api/v1/orders", json=body, headers=ow.as_(ow.world.resident))
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


def test_region_without_any_site_is_refused(ow: OrderWorld, client: TestClient) -> None:
    ow.make.region("140805100200")
    response = client.post(
        "/api/v1/orders",
        headers=ow.as_(ow.world.resident),
        json={
            "category_code": "care",
            "title": "帮老人买药",
            "region_code": "140805100200",
            "contact_name": "张大爷",
            "contact_phone": "13912345678",
        },
    )
    assert (response.status_code, response.json()["code"]) == (422, "region_without_site")


def test_gcj02_location_is_kept_as_given_and_ranked_in_wgs84(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    order = ow.place(location={"lat": 35.0526, "lng": 110.9181, "coord_system": "gcj02"})
    assert order["location"] == {"lat": 35.0526, "lng": 110.9181, "coord_system": "gcj02"}
    row = db.get(Order, uuid.UUID(order["id"]))
    assert row is not None
    assert row.wgs_lat is not None
    assert abs(row.wgs_lat - 35.0526) > 0.0005 or abs((row.wgs_lng or 0) - 110.9181) > 0.0005


def test_rejection_carries_reason_and_referral_and_hides_the_order(
    ow: OrderWorld, client: TestClient
) -> None:
    w = ow.world
    order = ow.place()
    rejected = client.post(
        f"/api/v1/orders/{order['id']}/reject",
        headers=ow.as_(w.station_admin),
        json={"reason": "不属于志愿服务范围", "referral": "请联系镇司法所"},
    )
    assert rejected.status_code == 200
    mine = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(w.resident)).json()
    assert (mine["status"], mine["status_reason"], mine["referral"]) == (
        "rejected",
        "不属于志愿服务范围",
        "请联系镇司法所",
    )
    for other in (w.station_admin, w.center_admin, w.leader):
        assert client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(other)).status_code == 404
    listing = client.get("/api/v1/orders", headers=ow.as_(w.station_admin)).json()["items"]
    assert order["id"] not in [o["id"] for o in listing]
    again = client.post(f"/api/v1/orders/{order['id']}/approve", headers=ow.as_(w.resident))
    assert again.status_code == 404


def test_reject_needs_a_reason(ow: OrderWorld, client: TestClient) -> None:
    order = ow.place()
    response = client.post(
        f"/api/v1/orders/{order['id']}/reject",
        json={"reason": ""},
        headers=ow.as_(ow.world.station_admin),
    )
    assert response.status_code == 422


def test_illegal_moves_answer_409_with_the_current_state(
    ow: OrderWorld, client: TestClient
) -> None:
    w = ow.world
    order = ow.place()
    start = client.post(f"/api/v1/orders/{order['id']}/approve", headers=ow.as_(w.station_admin))
    assert start.status_code == 200
    twice = client.post(f"/api/v1/orders/{order['id']}/approve", headers=ow.as_(w.station_admin))
    assert twice.status_code == 409
    assert twice.json()["current_state"] == "unassigned"
    early_rating = client.post(
        f"/api/v1/orders/{order['id']}/rating", json={"stars": 5}, headers=ow.as_(w.resident)
    )
    assert (early_rating.status_code, early_rating.json()["current_state"]) == (409, "unassigned")


def test_only_the_requester_rates_and_cancel_rules(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    order = ow.in_service()
    requester_cancel = client.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "不需要了"},
        headers=ow.as_(w.resident),
    )
    assert (requester_cancel.status_code, requester_cancel.json()["current_state"]) == (
        409,
        "in_service",
    )
    leader_cancel = client.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "不需要了"},
        headers=ow.as_(w.leader),
    )
    assert (leader_cancel.status_code, leader_cancel.json()["code"]) == (403, "cannot_cancel")
    client.post(
        f"/api/v1/orders/{order['id']}/complete",
        headers=ow.as_(w.leader),
        json={
            "report": "完成",
            "hours": [{"volunteer_id": str(w.member_volunteer.id), "hours": 1}],
        },
    )
    by_leader = client.post(
        f"/api/v1/orders/{order['id']}/rating", json={"stars": 5}, headers=ow.as_(w.leader)
    )
    assert (by_leader.status_code, by_leader.json()["code"]) == (403, "not_requester")
    bad = client.post(
        f"/api/v1/orders/{order['id']}/rating", json={"stars": 6}, headers=ow.as_(w.resident)
    )
    assert bad.status_code == 422
    ok = client.post(
        f"/api/v1/orders/{order['id']}/rating",
        headers=ow.as_(w.resident),
        json={"stars": 4, "timeliness": 5, "attitude": 5, "result": 4, "comment": "很好"},
    )
    assert ok.status_code == 201


def test_completion_hours_must_be_team_members_and_sane(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    stranger = ow.make.volunteer(w.village, name="外人")
    order = ow.accepted()
    early = client.post(
        f"/api/v1/orders/{order['id']}/complete",
        headers=ow.as_(w.leader),
        json={
            "report": "完成",
            "hours": [{"volunteer_id": str(w.member_volunteer.id), "hours": 1}],
        },
    )
    assert (early.status_code, early.json()["current_state"]) == (409, "accepted")
    client.post(f"/api/v1/orders/{order['id']}/start", headers=ow.as_(w.leader))
    outsider = client.post(
        f"/api/v1/orders/{order['id']}/complete",
        headers=ow.as_(w.leader),
        json={"report": "完成", "hours": [{"volunteer_id": str(stranger.id), "hours": 1}]},
    )
    assert (outsider.status_code, outsider.json()["code"]) == (422, "not_team_members")
    for hours in (0, -1, 25):
        bad = client.post(
            f"/api/v1/orders/{order['id']}/complete",
            headers=ow.as_(w.leader),
            json={
                "report": "完成",
                "hours": [{"volunteer_id": str(w.member_volunteer.id), "hours": hours}],
            },
        )
        assert bad.status_code == 422
    twice = client.post(
        f"/api/v1/orders/{order['id']}/complete",
        headers=ow.as_(w.leader),
        json={
            "report": "完成",
            "hours": [
                {"volunteer_id": str(w.member_volunteer.id), "hours": 1},
                {"volunteer_id": str(w.member_volunteer.id), "hours": 2},
            ],
        },
    )
    assert twice.status_code == 422


def test_contact_is_unmasked_only_for_the_serving_leader_and_audited(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w = ow.world
    order = ow.approved()
    other_leader_user = ow.make.session.get(type(w.leader), _leader_of(db, ow.township_team.id))
    client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"team_id": str(w.team.id)},
        headers=ow.as_(w.station_admin),
    )
    client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.leader))
    contact = client.get(f"/api/v1/orders/{order['id']}/contact", headers=ow.as_(w.leader))
    assert contact.json() == {"contact_name": "张大爷", "contact_phone": "13912345678"}
    assert (
        client.get(
            f"/api/v1/orders/{order['id']}/contact", headers=ow.as_(other_leader_user)
        ).status_code
        == 404
    )
    member_view = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(w.member)).json()
    assert member_view["contact_phone"] == "139****5678"
    assert member_view["contact_name"] == "张**"
    entries = db.exec(select(AuditEntry).where(AuditEntry.action == "order.contact.read")).all()
    assert [e.actor_user_id for e in entries] == [w.leader.id]


def _leader_of(db: Session, team_id: Any) -> Any:
    from app.teams.models import TeamMember
    from app.volunteers.models import Volunteer

    member = db.exec(
        select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.role == "leader")
    ).one()
    volunteer = db.get(Volunteer, member.volunteer_id)
    assert volunteer is not None
    return volunteer.user_id


def test_complaints_go_to_the_region_admin(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    order = ow.place()
    filed = client.post(
        f"/api/v1/orders/{order['id']}/complaints",
        json={"content": "审核太慢"},
        headers=ow.as_(w.resident),
    )
    assert filed.status_code == 201
    complaint_id = filed.json()["id"]
    assert [
        c["id"]
        for c in client.get("/api/v1/complaints", headers=ow.as_(w.station_admin)).json()["items"]
    ] == [complaint_id]
    outsider = ow.make.site_admin("140803100200")
    assert client.get("/api/v1/complaints", headers=ow.as_(outsider)).json()["items"] == []
    refused = client.post(
        f"/api/v1/complaints/{complaint_id}/resolve",
        json={"resolution": "已处理"},
        headers=ow.as_(outsider),
    )
    assert refused.status_code == 404
    resolved = client.post(
        f"/api/v1/complaints/{complaint_id}/resolve",
        json={"resolution": "已加快审核"},
        headers=ow.as_(w.station_admin),
    )
    assert resolved.json()["status"] == "resolved"
    again = client.post(
        f"/api/v1/complaints/{complaint_id}/resolve",
        json={"resolution": "再次"},
        headers=ow.as_(w.station_admin),
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_resolved")


def test_overdue_orders_are_listed_and_flagged_once(
    ow: OrderWorld, client: TestClient, app: FastAPI, settings: Settings, db: Session
) -> None:
    w = ow.world
    order = ow.place()
    row = db.get(Order, uuid.UUID(order["id"]))
    assert row is not None
    row.review_due_at = utcnow() - timedelta(minutes=1)
    db.flush()
    overdue = client.get("/api/v1/orders?overdue=true", headers=ow.as_(w.station_admin)).json()[
        "items"
    ]
    assert [o["id"] for o in overdue] == [order["id"]]
    assert overdue[0]["overdue"] is True
    notifier = Notifier(codec=SensitiveCodec(settings.data_key_value))
    for _ in range(2):
        run_once(app.state.sessionmaker, settings, notifier, worker_id="t", now=utcnow())
    flags = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "order.overdue")).all()
    assert [f.recipient_user_id for f in flags] == [w.station_admin.id]


def test_unrated_completed_orders_close_by_themselves(
    ow: OrderWorld, client: TestClient, app: FastAPI, settings: Settings
) -> None:
    w = ow.world
    order = ow.completed()
    notifier = Notifier(codec=SensitiveCodec(settings.data_key_value))
    soon = run_once(
        app.state.sessionmaker,
        settings,
        notifier,
        worker_id="t",
        now=utcnow() + timedelta(days=settings.auto_close_days - 1),
    )
    assert soon["auto_closed"] == 0
    later = run_once(
        app.state.sessionmaker,
        settings,
        notifier,
        worker_id="t",
        now=utcnow() + timedelta(days=settings.auto_close_days, minutes=1),
    )
    assert later["auto_closed"] == 1
    closed = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(w.resident)).json()
    assert closed["status"] == "closed"
    events = client.get(f"/api/v1/orders/{order['id']}/events", headers=ow.as_(w.resident)).json()
    assert (events[-1]["actor_role"], events[-1]["kind"]) == ("system", "closed")


def test_hotline_orders_are_entered_by_the_regions_admin(
    ow: OrderWorld, client: TestClient
) -> None:
    w = ow.world
    body = {
        "category_code": "care",
        "title": "电话求助:修水管",
        "region_code": w.village,
        "contact_name": "刘奶奶",
        "contact_phone": "13711112222",
        "channel": "hotline",
    }
    by_resident = client.post("/api/v1/orders", json=body, headers=ow.as_(w.resident))
    assert (by_resident.status_code, by_resident.json()["code"]) == (403, "hotline_admin_only")
    by_admin = client.post("/api/v1/orders", json=body, headers=ow.as_(w.station_admin))
    assert by_admin.status_code == 201
    assert by_admin.json()["channel"] == "hotline"
    # The caller can follow the order after signing in with that phone number.
    login_user = ow.make.session.exec(
        select(type(w.resident)).where(type(w.resident).phone_masked == "137****2222")
    ).all()
    assert len(login_user) == 1


def test_deadlines_follow_the_category(ow: OrderWorld) -> None:
    for category, hours in (("care", 24), ("emergency", 2)):
        order = ow.place(category_code=category)
        due = datetime.fromisoformat(order["review_due_at"])
        created = datetime.fromisoformat(order["created_at"])
        assert (
            timedelta(hours=hours, seconds=-5) < due - created <= timedelta(hours=hours, seconds=5)
        )
        assert due.tzinfo is not None
