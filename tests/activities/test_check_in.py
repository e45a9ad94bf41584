"""Checking in and out: the time window, the configured distance, and who may mark a roster."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col

from app.accounts.models import User
from app.activities.models import Activity
from app.common.clock import utcnow
from app.config import Settings
from tests.activities.test_activities import FAR, PLACE, move_to_the_past, publish
from tests.factories import Factory, World

NEAR = {"lat": 35.0272, "lng": 111.0071}  # about 100 m north of the place


def shift(db: Session, activity_id: str, *, starts_in: timedelta, lasts: timedelta) -> None:
    now = utcnow()
    db.execute(
        update(Activity)
        .where(col(Activity.id) == uuid.UUID(activity_id))
        .values(starts_at=now + starts_in, ends_at=now + starts_in + lasts)
    )
    db.commit()


def signed_up(client: TestClient, make: Factory, w: World, **overrides: object) -> str:
    activity = publish(client, make, w, **overrides)
    url = f"/api/v1/activities/{activity['id']}"
    assert client.post(f"{url}/signups", headers=make.headers(w.member)).status_code == 201
    return str(activity["id"])


def test_check_out_follows_check_in_within_two_hours_of_the_end(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    activity_id = signed_up(client, make, w)
    url = f"/api/v1/activities/{activity_id}"
    me = make.headers(w.member)
    first = client.post(f"{url}/check-out", json={"location": PLACE}, headers=me)
    assert first.status_code == 409
    assert first.json()["code"] == "not_checked_in"
    checked_in = client.post(f"{url}/check-in", json={"location": PLACE}, headers=me)
    assert checked_in.status_code == 200, checked_in.text
    far = client.post(f"{url}/check-out", json={"location": FAR}, headers=me)
    assert far.json()["code"] == "too_far"
    out = client.post(f"{url}/check-out", json={"location": PLACE}, headers=me)
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["checked_out_at"] is not None
    assert body["checked_in_at"] == checked_in.json()["checked_in_at"]

    shift(db, activity_id, starts_in=-timedelta(hours=4), lasts=timedelta(hours=1, minutes=30))
    late = client.post(f"{url}/check-out", json={"location": PLACE}, headers=me)
    assert late.status_code == 409  # the end was two and a half hours ago
    assert late.json()["code"] == "outside_window"
    shift(db, activity_id, starts_in=-timedelta(hours=3), lasts=timedelta(hours=1, minutes=30))
    assert client.post(f"{url}/check-out", json={"location": PLACE}, headers=me).status_code == 200


def test_check_in_opens_an_hour_before_the_start_and_closes_at_the_end(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    activity_id = signed_up(
        client,
        make,
        w,
        starts_at=(utcnow() + timedelta(hours=3)).isoformat(),
        ends_at=(utcnow() + timedelta(hours=5)).isoformat(),
    )
    url = f"/api/v1/activities/{activity_id}/check-in"
    me = make.headers(w.member)
    early = client.post(url, json={"location": PLACE}, headers=me)
    assert early.status_code == 409
    assert (early.json()["code"], early.json()["current_state"]) == ("outside_window", "closed")
    shift(db, activity_id, starts_in=timedelta(minutes=50), lasts=timedelta(hours=2))
    assert client.post(url, json={"location": PLACE}, headers=me).status_code == 200

    other = signed_up(client, make, w)
    move_to_the_past(db, other)  # ended half an hour ago
    late = client.post(f"/api/v1/activities/{other}/check-in", json={"location": PLACE}, headers=me)
    assert late.status_code == 409
    assert late.json()["code"] == "outside_window"


def test_the_configured_distance_decides(
    client: TestClient, make: Factory, settings: Settings
) -> None:
    w = make.world("140802000000")
    activity_id = signed_up(client, make, w)
    url = f"/api/v1/activities/{activity_id}/check-in"
    me = make.headers(w.member)
    assert settings.activity_checkin_meters == 500
    refused = client.post(url, json={"location": FAR}, headers=me)
    assert refused.status_code == 422
    assert refused.json()["code"] == "too_far"
    settings.activity_checkin_meters = 50
    strict = client.post(url, json={"location": NEAR}, headers=me)
    assert strict.json()["code"] == "too_far"
    assert "more than 50 m" in strict.json()["detail"]
    settings.activity_checkin_meters = 500
    assert client.post(url, json={"location": NEAR}, headers=me).status_code == 200
    settings.activity_checkin_meters = 6000
    wide = client.post(url, json={"location": FAR}, headers=me)
    assert wide.status_code == 200, wide.text
    assert wide.json()["check_in_by"] == "phone"


def test_only_the_teams_leader_or_admins_over_it_mark_the_roster(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    other = make.world("140803000000")
    neighbour_leader = make.volunteer(w.village, name="周队长")
    make.team(w.village, leader=neighbour_leader)
    db.commit()
    activity_id = signed_up(client, make, w)
    url = f"/api/v1/activities/{activity_id}/roster"
    body = {"entries": [{"volunteer_id": str(w.member_volunteer.id)}]}
    neighbour = db.get(User, neighbour_leader.user_id)
    assert neighbour is not None
    for user in (neighbour, other.leader, other.station_admin, w.member, w.resident):
        refused = client.post(url, json=body, headers=make.headers(user))
        assert refused.status_code == 403, user.display_name
        assert refused.json()["code"] == "not_activity_manager"
    signups = client.get(
        f"/api/v1/activities/{activity_id}/signups", headers=make.headers(w.leader)
    ).json()
    assert [s["checked_in_at"] for s in signups] == [None]
    marked = client.post(url, json=body, headers=make.headers(w.station_admin))
    assert marked.status_code == 200, marked.text
    assert marked.json()[0]["check_in_by"] == "roster"
