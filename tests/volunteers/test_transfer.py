"""Moving a volunteer: records, totals, points, stars and certificates move with them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.notifications.models import OutboxMessage
from app.teams.models import Team, TeamMember
from app.volunteers.models import Volunteer
from tests.factories import Factory
from tests.records.test_ledger import entry, post
from tests.volunteers.conftest import OrderWorld

NEW_VILLAGE = "140802101201"  # another township of the same county


def _url(volunteer: Volunteer, suffix: str = "/transfer") -> str:
    return f"/api/v1/volunteers/{volunteer.id}{suffix}"


def _move(client: TestClient, make: Factory, user: Any, volunteer: Volunteer, **body: Any) -> Any:
    payload = {"region_code": NEW_VILLAGE, "reason": "搬迁至新社区居住", **body}
    return client.post(_url(volunteer), json=payload, headers=make.headers(user))


def _new_team(make: Factory) -> Team:
    make.region(NEW_VILLAGE)
    return make.team(NEW_VILLAGE, name="新社区服务队")


def _board(client: TestClient, make: Factory, user: Any, region: str) -> list[str]:
    response = client.get(
        f"/api/v1/leaderboards/volunteers?region={region}&period=all", headers=make.headers(user)
    )
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["entries"]]


def test_a_moved_volunteer_keeps_records_totals_points_stars_and_certificates(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    settings.star_thresholds_hours = [1, 3, 6, 10, 15]
    settings.star_auto_grant = True
    w = ow.world
    member = w.member_volunteer
    assert post(client, make, w.leader, entry(w, hours=3.5)).status_code == 201
    me = make.headers(w.member)
    before = {
        "records": client.get(_url(member, "/records"), headers=me).json()["items"],
        "summary": client.get(_url(member, "/records/summary"), headers=me).json(),
        "points": client.get(_url(member, "/points"), headers=me).json()["balance"],
        "stars": client.get(_url(member, "/stars"), headers=me).json()["granted_level"],
    }
    assert before["stars"] == 2
    assert before["points"] > 0
    team = _new_team(make)
    new_admin = make.site_admin(NEW_VILLAGE)

    moved = _move(client, make, w.center_admin, member, team_id=str(team.id))

    assert moved.status_code == 201, moved.text
    body = moved.json()
    assert (body["from_region_code"], body["to_region_code"]) == (w.village, NEW_VILLAGE)
    assert body["left_team_ids"] == [str(w.team.id)]
    assert body["to_team_id"] == str(team.id)
    assert body["moved_by_id"] == str(w.center_admin.id)
    db.expire_all()
    assert db.get(Volunteer, member.id).region_code == NEW_VILLAGE  # type: ignore[union-attr]
    teams = db.exec(select(TeamMember.team_id).where(TeamMember.volunteer_id == member.id)).all()
    assert teams == [team.id]
    admin = make.headers(new_admin)
    assert client.get(_url(member, "/records"), headers=admin).json()["items"] == before["records"]
    assert client.get(_url(member, "/records/summary"), headers=admin).json() == before["summary"]
    assert client.get(_url(member, "/points"), headers=admin).json()["balance"] == before["points"]
    assert client.get(_url(member, "/stars"), headers=admin).json()["granted_level"] == 2
    issue = {"person_in_charge": "张主任", "contact": "0359-1234567"}
    certificate = client.post(_url(member, "/certificates"), json=issue, headers=admin)
    assert certificate.status_code == 201, certificate.text
    assert certificate.json()["content"]["total_hours"] == 3.5
    assert str(member.id) in _board(client, make, new_admin, NEW_VILLAGE)
    assert str(member.id) not in _board(client, make, w.station_admin, w.village)
    # The old village's admin no longer reaches the volunteer; the history says who moved them.
    old = client.get(_url(member, ""), headers=make.headers(w.station_admin))
    assert (old.status_code, old.json()["code"]) == (404, "volunteer_not_found")
    history = client.get(_url(member, "/transfers"), headers=me).json()
    assert [(h["id"], h["reason"]) for h in history] == [(body["id"], "搬迁至新社区居住")]
    told = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "volunteer.transferred"))
    assert [m.recipient_user_id for m in told] == [w.member.id]


def test_a_move_without_a_team_can_keep_the_teams(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    make.region(NEW_VILLAGE)
    moved = _move(client, make, w.center_admin, w.member_volunteer, leave_teams=False)
    assert moved.status_code == 201, moved.text
    assert moved.json()["left_team_ids"] == []
    kept = db.exec(
        select(TeamMember.team_id).where(TeamMember.volunteer_id == w.member_volunteer.id)
    ).all()
    assert kept == [w.team.id]


def test_refusals(ow: OrderWorld, client: TestClient, make: Factory, db: Session) -> None:
    w = ow.world
    member = w.member_volunteer
    team = _new_team(make)
    other = make.world("140803000000")
    cases: list[tuple[Any, Volunteer, dict[str, Any], int, str]] = [
        # the village's admin does not cover the destination in another township
        (w.station_admin, member, {}, 403, "outside_scope"),
        (other.center_admin, member, {}, 404, "volunteer_not_found"),
        (other.member, member, {}, 404, "volunteer_not_found"),
        (w.leader, member, {}, 403, "admin_required"),
        (w.member, member, {}, 403, "admin_required"),
        (w.center_admin, member, {"region_code": other.village}, 403, "outside_scope"),
        (w.center_admin, member, {"team_id": str(other.team.id)}, 404, "team_not_found"),
        (w.center_admin, member, {"region_code": "140802199999"}, 404, "region_not_found"),
        (w.center_admin, member, {"region_code": w.village}, 422, "nothing_to_move"),
        (w.center_admin, w.leader_volunteer, {}, 409, "leads_a_team"),
        (w.center_admin, w.pending, {"team_id": str(team.id)}, 409, "volunteer_not_approved"),
    ]
    for user, volunteer, body, status, code in cases:
        response = _move(client, make, user, volunteer, **body)
        assert (response.status_code, response.json().get("code")) == (status, code), body
    db.expire_all()
    assert db.get(Volunteer, member.id).region_code == w.village  # type: ignore[union-attr]
    history = client.get(_url(member, "/transfers"), headers=make.headers(w.member))
    assert history.json() == []
    outsider = client.get(_url(member, "/transfers"), headers=make.headers(other.center_admin))
    assert outsider.status_code == 404


def test_the_platform_admin_moves_between_counties(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    other = make.world("140803000000")
    moved = _move(
        client, make, make.platform_admin(), w.member_volunteer,
        region_code=other.village, team_id=str(other.team.id),
    )  # fmt: skip
    assert moved.status_code == 201, moved.text
    seen = client.get(_url(w.member_volunteer, ""), headers=make.headers(other.station_admin))
    assert seen.status_code == 200
    assert seen.json()["region_code"] == other.village
