"""Cancelling an activity, activities for orders, the team's monthly activity, and the filing
deadline of the activity record."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.activities.models import Activity
from app.activities.queries import month_bounds
from app.common.clock import utcnow
from app.config import Settings
from app.notifications.models import OutboxMessage
from app.records.ledger import CHINA
from app.scoring.models import TeamStats
from app.teams.models import MemberRole, Team, TeamMember
from app.volunteers.models import Volunteer
from tests.activities.test_activities import move_to_the_past, publish
from tests.factories import Factory, World
from tests.orders.conftest import OrderWorld


def leader_of(db: Session, team: Team) -> User:
    volunteer = db.exec(
        select(Volunteer)
        .join(TeamMember, col(TeamMember.volunteer_id) == col(Volunteer.id))
        .where(TeamMember.team_id == team.id, TeamMember.role == MemberRole.LEADER.value)
    ).one()
    user = db.get(User, volunteer.user_id)
    assert user is not None
    return user


def confirmed(client: TestClient, make: Factory, db: Session, w: World) -> dict[str, object]:
    activity = publish(client, make, w)
    url = f"/api/v1/activities/{activity['id']}"
    assert client.post(f"{url}/signups", headers=make.headers(w.member)).status_code == 201
    move_to_the_past(db, str(activity["id"]))
    body = {"attendance": [{"volunteer_id": str(w.member_volunteer.id), "hours": 1}]}
    response = client.post(f"{url}/confirm", json=body, headers=make.headers(w.leader))
    assert response.status_code == 200, response.text
    return client.get(url, headers=make.headers(w.leader)).json()  # type: ignore[no-any-return]


def test_the_leader_cancels_with_a_reason_and_those_signed_up_hear_of_it(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    other = make.world("140803000000")
    activity = publish(client, make, w)
    url = f"/api/v1/activities/{activity['id']}"
    for user in (w.member, w.leader):
        assert client.post(f"{url}/signups", headers=make.headers(user)).status_code == 201
    assert client.delete(f"{url}/signups/me", headers=make.headers(w.leader)).status_code == 204
    reason = {"reason": "暴雨预警,活动取消"}
    for user in (w.member, w.resident, other.leader, other.center_admin):
        refused = client.post(f"{url}/cancel", json=reason, headers=make.headers(user))
        assert refused.status_code == 403, user.display_name
        assert refused.json()["code"] == "not_activity_manager"
    assert client.post(f"{url}/cancel", json={}, headers=make.headers(w.leader)).status_code == 422
    assert client.post(f"{url}/cancel", json=reason).status_code == 401

    cancelled = client.post(f"{url}/cancel", json=reason, headers=make.headers(w.leader))
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "暴雨预警,活动取消")
    assert body["cancelled_at"] is not None
    db.expire_all()
    notices = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "activity.cancelled"))
    assert [(m.recipient_user_id, m.payload["reason"]) for m in notices] == [
        (w.member.id, "暴雨预警,活动取消")
    ]  # only those still signed up
    again = client.post(f"{url}/cancel", json=reason, headers=make.headers(w.station_admin))
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["current_state"]) == ("not_cancellable", "cancelled")
    late = client.post(f"{url}/signups", headers=make.headers(w.leader))
    assert late.json()["code"] == "not_open"

    by_admin = publish(client, make, w)
    response = client.post(
        f"/api/v1/activities/{by_admin['id']}/cancel",
        json=reason,
        headers=make.headers(w.station_admin),
    )
    assert response.status_code == 200, response.text


def test_an_activity_with_confirmed_attendance_is_not_cancelled(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    activity = confirmed(client, make, db, w)
    response = client.post(
        f"/api/v1/activities/{activity['id']}/cancel",
        json={"reason": "误操作"},
        headers=make.headers(w.leader),
    )
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["current_state"]) == (
        "not_cancellable",
        "confirmed",
    )
    db.expire_all()
    stored = db.get(Activity, uuid.UUID(str(activity["id"])))
    assert stored is not None
    assert (stored.status, stored.cancel_reason) == ("confirmed", None)


def test_an_activity_serves_only_an_order_the_team_holds(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    w = ow.world
    township_leader = leader_of(make.session, ow.township_team)

    def attempt(order_id: object, team_id: uuid.UUID = w.team.id) -> tuple[int, dict[str, str]]:
        now = utcnow()
        body = {
            "title": "为点单组织的活动", "category_code": "care", "place": "曲村", "capacity": 3,
            "starts_at": (now + timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(), "order_id": str(order_id),
        }  # fmt: skip
        leader = w.leader if team_id == w.team.id else township_leader
        response = client.post(
            f"/api/v1/teams/{team_id}/activities", json=body, headers=make.headers(leader)
        )
        return response.status_code, response.json()

    unassigned = ow.approved()
    status, body = attempt(unassigned["id"])
    assert (status, body["code"], body["current_state"]) == (409, "order_not_held", "unassigned")
    accepted = ow.accepted()
    assert attempt(accepted["id"])[0] == 201
    status, body = attempt(accepted["id"], ow.township_team.id)
    assert (status, body["code"]) == (403, "not_team_order")
    in_service = ow.in_service()
    assert attempt(in_service["id"])[0] == 201
    completed = ow.completed()
    status, body = attempt(completed["id"])
    assert (status, body["code"], body["current_state"]) == (409, "order_not_held", "completed")
    status, body = attempt(uuid.uuid4())
    assert (status, body["code"]) == (422, "order_not_found")


def test_a_confirmed_activity_counts_for_the_teams_month(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    other = make.world("140803000000")
    quiet = make.team(w.village, name="静默服务队")
    db.commit()
    starts = utcnow() - timedelta(hours=2)  # as move_to_the_past puts it
    china = starts + CHINA
    month = f"{china.year:04d}-{china.month:02d}"
    url = f"/api/v1/activities/overdue-teams?month={month}"

    def overdue(user: object) -> list[str]:
        response = client.get(url, headers=make.headers(user))  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return [t["name"] for t in response.json()]

    assert set(overdue(w.station_admin)) == {w.team.name, quiet.name}
    activity = confirmed(client, make, db, w)
    assert activity["status"] == "confirmed"
    db.expire_all()
    stats = db.get(TeamStats, w.team.id)
    assert stats is not None
    assert stats.served_months == [month]
    score = client.get(f"/api/v1/teams/{w.team.id}/score", headers=make.headers(w.leader)).json()
    assert score["parts"]["regularity"]["value"] == round(1 / 12, 6)

    listed = client.get(url, headers=make.headers(w.station_admin)).json()
    assert [t["name"] for t in listed] == [quiet.name]
    assert listed[0]["last_activity_at"] is None
    assert overdue(w.center_admin) == [quiet.name]
    assert set(overdue(other.center_admin)) == {other.team.name}  # its own county only
    start, _ = month_bounds(month)
    before = start - timedelta(days=1) + CHINA
    earlier = client.get(
        f"/api/v1/activities/overdue-teams?month={before.year:04d}-{before.month:02d}",
        headers=make.headers(w.station_admin),
    ).json()
    assert earlier == []  # the teams did not exist yet
    _, end = month_bounds(month)
    after = end + timedelta(days=1) + CHINA
    following = client.get(
        f"/api/v1/activities/overdue-teams?month={after.year:04d}-{after.month:02d}",
        headers=make.headers(w.station_admin),
    ).json()
    last = {t["name"]: t["last_activity_at"] for t in following}
    assert last[quiet.name] is None
    assert last[w.team.name] is not None
    assert abs(datetime.fromisoformat(last[w.team.name]) - starts) < timedelta(minutes=1)
    narrowed = client.get(
        f"{url}&region={other.county}", headers=make.headers(w.center_admin)
    ).json()
    assert narrowed == []  # a region outside the admin's scope shows nothing
    for user in (w.leader, w.member, w.resident):
        refused = client.get(url, headers=make.headers(user))
        assert refused.status_code == 403
        assert refused.json()["code"] == "admin_required"
    bad = client.get(
        "/api/v1/activities/overdue-teams?month=2026-13", headers=make.headers(w.station_admin)
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "bad_month")


def test_the_activity_record_is_due_days_after_the_end(
    client: TestClient, make: Factory, db: Session, settings: Settings
) -> None:
    w = make.world("140802000000")
    other = make.world("140803000000")
    activity = publish(client, make, w)
    url = f"/api/v1/activities/{activity['id']}"
    overdue_url = "/api/v1/activities/overdue-reports"
    assert activity["report_overdue"] is False
    now = utcnow()
    db.execute(
        update(Activity)
        .where(col(Activity.id) == uuid.UUID(activity["id"]))
        .values(starts_at=now - timedelta(days=4, hours=2), ends_at=now - timedelta(days=4))
    )
    db.commit()
    seen = client.get(url, headers=make.headers(w.member)).json()
    assert seen["report_overdue"] is True
    listed = client.get(overdue_url, headers=make.headers(w.station_admin)).json()
    assert [a["id"] for a in listed] == [activity["id"]]
    assert client.get(overdue_url, headers=make.headers(other.center_admin)).json() == []
    assert client.get(overdue_url, headers=make.headers(w.leader)).status_code == 403

    settings.activity_report_days = 5
    assert client.get(url, headers=make.headers(w.member)).json()["report_overdue"] is False
    assert client.get(overdue_url, headers=make.headers(w.station_admin)).json() == []
    settings.activity_report_days = 3

    report = {
        "organiser": "曲村新时代文明实践站", "leading_official": "王书记", "party_members": 1,
        "unit_party_members": 9, "report": "清扫街巷",
    }  # fmt: skip
    assert (
        client.put(f"{url}/report", json=report, headers=make.headers(w.leader)).status_code == 200
    )
    filed = client.get(url, headers=make.headers(w.member)).json()
    assert (filed["report_overdue"], filed["filed_at"] is not None) == (False, True)
    assert client.get(overdue_url, headers=make.headers(w.station_admin)).json() == []
