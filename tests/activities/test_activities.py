"""Activities: publish, sign up within capacity, check in on the phone or by roster, confirm
attendance into service records, and file the activity record."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.activities.models import Activity
from app.common.clock import utcnow
from app.records.models import ServiceRecord
from tests.factories import Factory, World

PLACE = {"lat": 35.0263, "lng": 111.0071}  # WGS-84
FAR = {"lat": 35.0700, "lng": 111.0071}  # about 4.9 km north


def publish(client: TestClient, make: Factory, world: World, **overrides: Any) -> dict[str, Any]:
    now = utcnow()
    body = {
        "title": "五号志愿服务日:义诊",
        "category_code": "care",
        "place": "曲村文化广场",
        "location": PLACE,
        "starts_at": (now + timedelta(minutes=30)).isoformat(),
        "ends_at": (now + timedelta(hours=3)).isoformat(),
        "capacity": 2,
        **overrides,
    }
    response = client.post(
        f"/api/v1/teams/{world.team.id}/activities", json=body, headers=make.headers(world.leader)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def move_to_the_past(db: Session, activity_id: str) -> None:
    """As if the activity had taken place: it ended half an hour ago, after 90 minutes."""
    now = utcnow()
    db.execute(
        update(Activity)
        .where(col(Activity.id) == uuid.UUID(activity_id))
        .values(starts_at=now - timedelta(hours=2), ends_at=now - timedelta(minutes=30))
    )
    db.commit()


def test_an_activity_from_publication_to_records(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    third = make.volunteer(w.village, name="孙队员")
    make.member(w.team, third)
    third_user = make.user(display_name="孙")
    third.user_id = third_user.id
    db.add(third)
    db.commit()
    activity = publish(client, make, w)
    url = f"/api/v1/activities/{activity['id']}"
    for user in (w.member, w.leader):
        assert client.post(f"{url}/signups", headers=make.headers(user)).status_code == 201
    full = client.post(f"{url}/signups", headers=make.headers(third_user))
    assert full.status_code == 409
    assert full.json()["code"] == "activity_full"
    again = client.post(f"{url}/signups", headers=make.headers(w.member))
    assert again.json()["code"] == "already_signed_up"
    seen = client.get(url, headers=make.headers(w.member)).json()
    assert (seen["signed_up"], seen["my_signup"]) == (2, "signed_up")

    far = client.post(f"{url}/check-in", json={"location": FAR}, headers=make.headers(w.member))
    assert far.status_code == 422
    assert far.json()["code"] == "too_far"
    near = client.post(f"{url}/check-in", json={"location": PLACE}, headers=make.headers(w.member))
    assert near.status_code == 200, near.text
    assert near.json()["check_in_by"] == "phone"
    stranger = client.post(
        f"{url}/check-in", json={"location": PLACE}, headers=make.headers(third_user)
    )
    assert stranger.status_code == 403

    move_to_the_past(db, activity["id"])
    roster = client.post(
        f"{url}/roster",
        json={"entries": [{"volunteer_id": str(w.leader_volunteer.id)}]},
        headers=make.headers(w.leader),
    )
    assert roster.status_code == 200, roster.text
    confirm = client.post(
        f"{url}/confirm",
        json={
            "attendance": [
                {"volunteer_id": str(w.member_volunteer.id), "hours": 1.5},
                {"volunteer_id": str(w.leader_volunteer.id)},
            ]
        },
        headers=make.headers(w.leader),
    )
    assert confirm.status_code == 200, confirm.text
    assert confirm.json() == {"records": 2}
    db.expire_all()
    records = db.exec(
        select(ServiceRecord).where(ServiceRecord.activity_id == uuid.UUID(activity["id"]))
    ).all()
    assert sorted(r.minutes for r in records) == [90, 90]
    assert {r.source for r in records} == {"activity"}
    twice = client.post(f"{url}/confirm", json={}, headers=make.headers(w.leader))
    assert twice.status_code == 409

    report = {
        "organiser": "曲村新时代文明实践站",
        "leading_official": "王书记",
        "party_members": 2,
        "unit_party_members": 12,
        "report": "为村民义诊并讲解慢病防治",
    }
    filed = client.put(f"{url}/report", json=report, headers=make.headers(w.leader))
    assert filed.status_code == 200, filed.text
    csv_text = client.get(f"{url}/report?format=csv", headers=make.headers(w.station_admin)).text
    assert "组织单位" in csv_text
    assert "王书记" in csv_text
    assert ",2,3.0," in csv_text  # two volunteers, three hours in all
    as_json = client.get(f"{url}/report", headers=make.headers(w.leader)).json()
    assert len(as_json["attendance"]) == 2


def test_bad_activities_and_strangers_are_refused(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    other = make.world("140803000000")
    now = utcnow()
    path = f"/api/v1/teams/{w.team.id}/activities"
    body = {
        "title": "活动", "category_code": "care", "place": "广场", "capacity": 5,
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
    }  # fmt: skip
    for user in (other.leader, other.center_admin, w.member, w.resident):
        assert client.post(path, json=body, headers=make.headers(user)).status_code == 403
    for bad in (
        {"ends_at": now.isoformat()},
        {"starts_at": (now - timedelta(hours=1)).isoformat()},
        {"category_code": "no_such"},
        {"capacity": 0},
        {"signup_deadline": (now + timedelta(hours=5)).isoformat()},
    ):
        response = client.post(path, json={**body, **bad}, headers=make.headers(w.leader))
        assert response.status_code == 422, bad
    activity = publish(client, make, w, location=None)
    url = f"/api/v1/activities/{activity['id']}"
    assert client.post(f"{url}/signups", headers=make.headers(other.member)).status_code == 403
    assert client.post(f"{url}/signups", headers=make.headers(w.member)).status_code == 201
    no_place = client.post(
        f"{url}/check-in", json={"location": PLACE}, headers=make.headers(w.member)
    )
    assert no_place.json()["code"] == "no_location"
    for user in (other.leader, other.center_admin, w.member):
        assert client.get(f"{url}/signups", headers=make.headers(user)).status_code == 403
        assert client.post(f"{url}/confirm", json={}, headers=make.headers(user)).status_code == 403
    early = client.post(f"{url}/confirm", json={}, headers=make.headers(w.leader))
    assert early.json()["code"] == "not_started"
    assert client.delete(f"{url}/signups/me", headers=make.headers(w.member)).status_code == 204
    assert client.get(url, headers=make.headers(w.member)).json()["signed_up"] == 0
    assert client.get(url).status_code == 401
