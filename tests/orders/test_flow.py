"""The whole loop through the HTTP API: 点单 → 审核 → 派单 → 接单 → 服务 → 评单."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.accounts.models import User
from app.records.models import ServiceRecord
from app.teams.models import Team
from tests.orders.conftest import OrderWorld


def test_full_loop(ow: OrderWorld, client: TestClient, db: Session) -> None:
    w = ow.world
    order = ow.place()
    assert order["status"] == "pending_review"
    assert order["status_label"] == "待审核"
    assert order["contact_phone"] == "139****5678"
    assert order["review_due_at"] is not None

    approved = client.post(f"/api/v1/orders/{order['id']}/approve", headers=ow.as_(w.station_admin))
    assert approved.json()["status"] == "unassigned"

    candidates = client.get(
        f"/api/v1/orders/{order['id']}/candidates", headers=ow.as_(w.station_admin)
    )
    assert candidates.status_code == 200
    ranked = candidates.json()
    assert [c["team"]["id"] for c in ranked] == [
        str(w.team.id),
        str(ow.township_team.id),
        str(ow.county_team.id),
    ]
    assert [c["level_distance"] for c in ranked] == [0, 1, 2]
    assert any("公里" in reason for reason in ranked[0]["reasons"])

    dispatched = client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"mode": "auto"},
        headers=ow.as_(w.station_admin),
    )
    assert dispatched.status_code == 200, dispatched.text
    assert dispatched.json()["status"] == "dispatching"
    assert [o["team"]["id"] for o in dispatched.json()["offers"]] == [str(w.team.id)]

    # The leader sees the offer and accepts.
    seen = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(w.leader))
    assert seen.status_code == 200
    accepted = client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.leader))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["team"]["id"] == str(w.team.id)
    db.refresh(w.team)
    assert db.get(Team, w.team.id).active_orders == 1  # type: ignore[union-attr]

    started = client.post(
        f"/api/v1/orders/{order['id']}/start",
        json={"volunteer_ids": [str(w.member_volunteer.id)]},
        headers=ow.as_(w.leader),
    )
    assert started.json()["status"] == "in_service", started.text

    completed = client.post(
        f"/api/v1/orders/{order['id']}/complete",
        json={
            "report": "已代购药品并送到家",
            "photos": ["https://example.org/p1.jpg"],
            "party_members": 1,
            "hours": [
                {"volunteer_id": str(w.member_volunteer.id), "hours": 1.5},
                {"volunteer_id": str(w.leader_volunteer.id), "hours": 0.75},
            ],
        },
        headers=ow.as_(w.leader),
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "completed"
    records = db.exec(
        select(ServiceRecord).where(ServiceRecord.order_id == uuid.UUID(order["id"]))
    ).all()
    assert sorted(r.minutes for r in records) == [45, 90]
    db.expire_all()
    assert db.get(Team, w.team.id).active_orders == 0  # type: ignore[union-attr]

    rated = client.post(
        f"/api/v1/orders/{order['id']}/rating",
        json={"stars": 5, "comment": "很及时"},
        headers=ow.as_(w.resident),
    )
    assert rated.status_code == 201, rated.text
    again = client.post(
        f"/api/v1/orders/{order['id']}/rating", json={"stars": 1}, headers=ow.as_(w.resident)
    )
    assert again.status_code == 409
    final = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(w.resident)).json()
    assert final["status"] == "closed"
    assert final["rating"]["stars"] == 5

    events = client.get(f"/api/v1/orders/{order['id']}/events", headers=ow.as_(w.resident)).json()
    kinds = [e["kind"] for e in events]
    assert events[2]["data"]["teams"][0]["team_id"] == str(w.team.id)
    assert kinds == [
        "placed",
        "unassigned",
        "dispatching",
        "accepted",
        "in_service",
        "completed",
        "closed",
    ]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    user = db.get(User, w.resident.id)
    assert user is not None
