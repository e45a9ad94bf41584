"""派单: eligibility, explained ranking, modes, decline and expiry escalation, capacity."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.common.location import Location
from app.config import Settings
from app.dispatch.models import Offer
from app.notifications.channels import Notifier
from app.notifications.models import OutboxMessage
from app.sync.models import ChangeEvent
from app.teams.models import Team
from app.worker.tasks import run_once
from tests.orders.conftest import OrderWorld


def _ids(candidates: list[dict[str, object]]) -> list[str]:
    return [str(c["team"]["id"]) for c in candidates]  # type: ignore[index]


def test_only_eligible_teams_are_candidates(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w, make = ow.world, ow.make
    far = make.team(w.township, specialties=("care",), location=Location(lat=36.5, lng=112.5))
    far.service_radius_km = 10.0
    full = make.team(w.township, specialties=("care",), capacity=1)
    full.active_orders = 1
    suspended = make.team(w.village, specialties=("care",))
    suspended.status = "suspended"
    wrong_specialty = make.team(w.village, specialties=("legal_aid",))
    other_county = make.team("140803100200", specialties=("care",))
    db.flush()
    order = ow.approved()
    response = client.get(
        f"/api/v1/orders/{order['id']}/candidates", headers=ow.as_(w.station_admin)
    )
    ids = _ids(response.json())
    assert ids == [str(w.team.id), str(ow.township_team.id), str(ow.county_team.id)]
    for excluded in (far, full, suspended, wrong_specialty, other_county):
        assert str(excluded.id) not in ids


def test_ranking_within_a_level_prefers_near_then_less_loaded(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w, make = ow.world, ow.make
    busy_near = make.team(
        w.township, specialties=("care",), capacity=4, location=Location(lat=35.0515, lng=110.9125)
    )
    busy_near.active_orders = 3
    idle_near = make.team(
        w.township, specialties=("care",), capacity=4, location=Location(lat=35.0512, lng=110.9122)
    )
    db.flush()
    order = ow.approved()
    ranked = client.get(
        f"/api/v1/orders/{order['id']}/candidates", headers=ow.as_(w.station_admin)
    ).json()
    township = [c for c in ranked if c["level_distance"] == 1]
    # Same 1 km band: the less loaded team first; the team 4 km away after both.
    assert _ids(township)[:2] == [str(idle_near.id), str(busy_near.id)]
    assert township[0]["reasons"][2].startswith("在办 0/4")


def test_manual_dispatch_refuses_an_ineligible_team(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    other = ow.make.team("140803100200", specialties=("care",))
    order = ow.approved()
    response = client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"mode": "manual", "team_id": str(other.id)},
        headers=ow.as_(w.station_admin),
    )
    assert (response.status_code, response.json()["code"]) == (422, "team_not_eligible")
    manual = client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"team_id": str(ow.township_team.id)},
        headers=ow.as_(w.station_admin),
    )
    assert manual.status_code == 200
    assert manual.json()["dispatch_mode"] == "manual"


def test_decline_climbs_level_by_level_then_returns_to_the_queue(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w, make = ow.world, ow.make
    township_leader = db.get(Team, ow.township_team.id)
    assert township_leader is not None
    leaders = {
        str(w.team.id): w.leader,
        str(ow.township_team.id): make.session.get(
            type(w.leader), _leader_user(db, ow.township_team.id)
        ),
        str(ow.county_team.id): make.session.get(
            type(w.leader), _leader_user(db, ow.county_team.id)
        ),
    }
    order = ow.approved()
    client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"mode": "auto"},
        headers=ow.as_(w.station_admin),
    )
    offered_to = []
    for _ in range(3):
        current = client.get(
            f"/api/v1/orders/{order['id']}", headers=ow.as_(w.station_admin)
        ).json()
        assert current["status"] == "dispatching"
        team_id = current["offers"][0]["team"]["id"]
        offered_to.append(team_id)
        declined = client.post(
            f"/api/v1/orders/{order['id']}/decline",
            json={"reason": "人手不足"},
            headers=ow.as_(leaders[team_id]),
        )
        assert declined.status_code == 200, declined.text
    assert offered_to == [str(w.team.id), str(ow.township_team.id), str(ow.county_team.id)]
    final = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(w.station_admin)).json()
    assert final["status"] == "unassigned"
    alerts = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "order.unassigned")).all()
    assert [a.recipient_user_id for a in alerts] == [w.station_admin.id]


def _leader_user(db: Session, team_id: uuid.UUID) -> uuid.UUID:
    from app.teams.models import TeamMember
    from app.volunteers.models import Volunteer

    member = db.exec(
        select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.role == "leader")
    ).one()
    volunteer = db.get(Volunteer, member.volunteer_id)
    assert volunteer is not None
    return volunteer.user_id


def test_grab_first_accept_wins_and_the_others_are_withdrawn(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w = ow.world
    order = ow.approved()
    grabbed = client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"mode": "grab"},
        headers=ow.as_(w.station_admin),
    )
    assert len(grabbed.json()["offers"]) == 3
    township_leader = ow.make.session.get(type(w.leader), _leader_user(db, ow.township_team.id))
    won = client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(township_leader))
    assert won.status_code == 200
    late = client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.leader))
    assert (late.status_code, late.json()["code"]) == (409, "invalid_state")
    assert late.json()["current_state"] == "accepted"
    statuses = sorted(
        o.status
        for o in db.exec(select(Offer).where(Offer.order_id == uuid.UUID(order["id"]))).all()
    )
    assert statuses == ["accepted", "withdrawn", "withdrawn"]


def test_accept_needs_an_open_offer_for_the_callers_team(
    ow: OrderWorld, client: TestClient
) -> None:
    w = ow.world
    order = ow.approved()
    client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"team_id": str(ow.township_team.id)},
        headers=ow.as_(w.station_admin),
    )
    not_offered = client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.leader))
    assert (not_offered.status_code, not_offered.json()["code"]) == (404, "order_not_found")
    member = client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.member))
    assert (member.status_code, member.json()["code"]) == (403, "not_team_leader")


def test_an_expired_offer_moves_on_to_the_next_candidate(
    ow: OrderWorld, client: TestClient, app: FastAPI, settings: Settings, db: Session
) -> None:
    w = ow.world
    order = ow.approved()
    client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"mode": "auto"},
        headers=ow.as_(w.station_admin),
    )
    notifier = Notifier(codec=SensitiveCodec(settings.data_key_value))
    later = utcnow() + timedelta(minutes=settings.offer_timeout_minutes + 1)
    counts = run_once(app.state.sessionmaker, settings, notifier, worker_id="t", now=later)
    assert counts["expired_offers"] == 1
    current = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(w.station_admin)).json()
    assert [o["team"]["id"] for o in current["offers"]] == [str(ow.township_team.id)]
    late = client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.leader))
    assert (late.status_code, late.json()["code"]) == (409, "offer_closed")
    kinds = [
        e["kind"]
        for e in client.get(
            f"/api/v1/orders/{order['id']}/events", headers=ow.as_(w.station_admin)
        ).json()
    ]
    assert kinds[-2:] == ["offer_expired", "offered"]
    # Run again at the same moment: the township's offer (made just now, also past `later`)
    # expires; the station's is not processed twice.
    again = run_once(app.state.sessionmaker, settings, notifier, worker_id="t", now=later)
    assert again["expired_offers"] == 1
    offers = db.exec(select(Offer).where(Offer.order_id == uuid.UUID(order["id"]))).all()
    by_team = {o.team_id: o.status for o in offers}
    assert by_team == {
        w.team.id: "expired",
        ow.township_team.id: "expired",
        ow.county_team.id: "pending",
    }


def test_capacity_is_held_and_released(ow: OrderWorld, client: TestClient, db: Session) -> None:
    w = ow.world
    team = db.get(Team, w.team.id)
    assert team is not None
    team.capacity = 1
    db.flush()
    first, second = ow.approved(), ow.approved()
    for order in (first, second):
        client.post(
            f"/api/v1/orders/{order['id']}/dispatch",
            json={"team_id": str(w.team.id)},
            headers=ow.as_(w.station_admin),
        )
    assert (
        client.post(f"/api/v1/orders/{first['id']}/accept", headers=ow.as_(w.leader)).status_code
        == 200
    )
    full = client.post(f"/api/v1/orders/{second['id']}/accept", headers=ow.as_(w.leader))
    assert (full.status_code, full.json()["code"]) == (409, "team_full")
    # The station team is no longer a candidate while full.
    third = ow.approved()
    ranked = client.get(
        f"/api/v1/orders/{third['id']}/candidates", headers=ow.as_(w.station_admin)
    ).json()
    assert str(w.team.id) not in _ids(ranked)
    cancelled = client.post(
        f"/api/v1/orders/{first['id']}/cancel",
        json={"reason": "老人已自行解决"},
        headers=ow.as_(w.resident),
    )
    assert cancelled.json()["status"] == "cancelled"
    db.expire_all()
    assert db.get(Team, w.team.id).active_orders == 0  # type: ignore[union-attr]


def test_redispatch_from_accepted_releases_the_team(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w = ow.world
    order = ow.accepted()
    again = client.post(
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"team_id": str(ow.township_team.id)},
        headers=ow.as_(w.station_admin),
    )
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "dispatching"
    assert again.json()["team"] is None
    db.expire_all()
    assert db.get(Team, w.team.id).active_orders == 0  # type: ignore[union-attr]


def test_auto_approved_and_auto_dispatched_category(ow: OrderWorld, client: TestClient) -> None:
    admin = ow.make.platform_admin()
    client.patch(
        "/api/v1/categories/care",
        json={"auto_approve": True, "auto_dispatch": True},
        headers=ow.as_(admin),
    )
    order = ow.place()
    assert order["status"] == "dispatching"
    events = client.get(
        f"/api/v1/orders/{order['id']}/events", headers=ow.as_(ow.world.resident)
    ).json()
    # The row goes in already offered, but the timeline still tells both steps, in order.
    assert [(e["seq"], e["kind"], e["from_status"], e["to_status"]) for e in events] == [
        (1, "placed", None, "unassigned"),
        (2, "dispatching", "unassigned", "dispatching"),
    ]
    assert events[1]["data"]["teams"][0]["team_id"] == str(ow.world.team.id)


def test_batch_assigns_waiting_orders_within_capacity(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    w = ow.world
    for team in (w.team, ow.township_team, ow.county_team):
        row = db.get(Team, team.id)
        assert row is not None
        row.capacity = 1
    db.flush()
    orders = [ow.approved() for _ in range(4)]
    response = client.post("/api/v1/dispatch/batch", json={}, headers=ow.as_(w.center_admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["assigned"]) == 3
    assert len({a["team_id"] for a in body["assigned"]}) == 3  # one order per team: capacity 1
    assert len(body["unassigned"]) == 1
    states = [
        client.get(f"/api/v1/orders/{o['id']}", headers=ow.as_(w.center_admin)).json()["status"]
        for o in orders
    ]
    assert sorted(states) == ["dispatching"] * 3 + ["unassigned"]
    first = body["assigned"][0]
    events = client.get(
        f"/api/v1/orders/{first['order_id']}/events", headers=ow.as_(w.center_admin)
    ).json()
    assert [e["kind"] for e in events] == ["placed", "unassigned", "dispatching"]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[2]["data"]["batch"] == "joint"
    assert events[2]["data"]["teams"][0]["team_id"] == first["team_id"]
    offers = db.exec(select(Offer).where(Offer.order_id == uuid.UUID(first["order_id"]))).all()
    assert [(str(o.team_id), o.status) for o in offers] == [(first["team_id"], "pending")]
    told = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "offer.created")).all()
    assert len(told) == 3


def test_an_order_placed_already_offered_is_written_whole(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    """Auto-dispatch at placing writes the order, its events, its feed change, the offer and the
    leader's notification in one statement on PostgreSQL: each reads back as the ORM wrote it."""
    w = ow.world
    admin = ow.make.platform_admin()
    client.patch(
        "/api/v1/categories/care",
        json={"auto_approve": True, "auto_dispatch": True},
        headers=ow.as_(admin),
    )
    order = ow.place(window_start=(utcnow() + timedelta(hours=1)).isoformat())
    order_id = uuid.UUID(order["id"])
    assert order["status"] == "dispatching"

    db.expire_all()
    offer = db.exec(select(Offer).where(Offer.order_id == order_id)).one()
    assert (offer.team_id, offer.status, offer.mode, offer.rank) == (
        w.team.id,
        "pending",
        "auto",
        1,
    )
    assert offer.expires_at > utcnow()
    told = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "offer.created")).all()
    assert [m.recipient_user_id for m in told] == [w.leader.id]
    assert told[0].payload["order_id"] == order["id"]
    changes = db.exec(select(ChangeEvent).where(ChangeEvent.entity_id == order["id"])).all()
    assert [(c.entity, c.op, c.region_code) for c in changes] == [("order", "create", w.village)]

    # The leader sees it offered, with the window, the masked phone and the location kept.
    seen = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(w.leader)).json()
    assert seen["window_start"] == order["window_start"]
    assert seen["contact_phone"] == "139****5678"
    assert seen["location"] == order["location"]
    client.post(f"/api/v1/orders/{order['id']}/accept", headers=ow.as_(w.leader))
    contact = client.get(f"/api/v1/orders/{order['id']}/contact", headers=ow.as_(w.leader))
    assert contact.json() == {"contact_name": "张大爷", "contact_phone": "13912345678"}
    events = client.get(f"/api/v1/orders/{order['id']}/events", headers=ow.as_(w.resident)).json()
    assert [e["kind"] for e in events] == ["placed", "dispatching", "accepted"]
    assert events[0]["data"] == {"channel": "app", "auto_approved": True}
