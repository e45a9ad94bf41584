"""Honours candidates by the seed plans' criteria (`domain.md`): each test of each rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.activities.models import Activity, ActivityStatus
from app.config import Settings
from app.records.ledger import Correction, RecordDraft, amend, land_records
from app.records.models import RecordSource, ServiceRecord
from app.teams.models import Team
from tests.factories import Factory, World

YEAR = 2025
URL = f"/api/v1/honours/candidates?year={YEAR}"


def serve(db: Session, settings: Settings, world: World, volunteer_id: Any, days: int,
          hours: float, start: date = date(YEAR, 3, 1)) -> list[ServiceRecord]:  # fmt: skip
    drafts = [
        RecordDraft(
            volunteer_id=volunteer_id, team_id=world.team.id, category_code="care",
            region_code=world.village, service_date=start + timedelta(days=n),
            minutes=int(hours * 60), content="助老服务", recorded_by_id=world.leader.id,
            source=RecordSource.MANUAL,
        )
        for n in range(days)
    ]  # fmt: skip
    return land_records(db, settings, drafts)


CONFIRMED = ActivityStatus.CONFIRMED


def held(db: Session, world: World, count: int, *, status: ActivityStatus = CONFIRMED,
         starts: datetime = datetime(YEAR, 2, 5, 1, tzinfo=UTC)) -> None:  # fmt: skip
    """`count` activities of the world's team, a week apart from `starts`."""
    for n in range(count):
        begins = starts + timedelta(weeks=n)
        db.add(
            Activity(
                team_id=world.team.id, region_code=world.village, title=f"志愿服务日{n}",
                category_code="care", place="村委会", starts_at=begins,
                ends_at=begins + timedelta(hours=2), signup_deadline=begins, capacity=20,
                status=status.value, created_by_id=world.leader.id,
            )
        )  # fmt: skip
    db.flush()


def team_of(make: Factory, county: str, *, members: int = 10,
            founded_on: date | None = date(YEAR - 2, 5, 1)) -> World:  # fmt: skip
    """A world whose team has `members` members (the leader and the member included)."""
    world = make.world(county)
    for _ in range(members - 2):
        make.member(world.team, make.volunteer(world.village))
    world.team.founded_on = founded_on
    make.session.add(world.team)
    make.session.flush()
    return world


def found(client: TestClient, make: Factory, user: Any, url: str = URL) -> dict[str, Any]:
    response = client.get(url, headers=make.headers(user))
    assert response.status_code == 200, response.text
    return dict(response.json())


def team_ids(body: dict[str, Any]) -> list[str]:
    return [t["id"] for t in body["teams"]]


def test_a_team_qualifies_by_hours_in_the_year(
    make: Factory, db: Session, client: TestClient, settings: Settings
) -> None:
    w = team_of(make, "140802000000")
    serve(db, settings, w, w.member_volunteer.id, days=10, hours=19.9)  # 199 h
    serve(db, settings, w, w.leader_volunteer.id, days=1, hours=1, start=date(YEAR + 1, 1, 2))
    assert team_ids(found(client, make, w.center_admin)) == []  # next year's hour does not count
    serve(db, settings, w, w.leader_volunteer.id, days=1, hours=1)  # 200 h in the year
    body = found(client, make, w.center_admin)
    assert team_ids(body) == [str(w.team.id)]
    team = body["teams"][0]
    assert (team["members"], team["hours"], team["activities"]) == (10, 200, 0)
    assert team["founded_on"] == date(YEAR - 2, 5, 1).isoformat()


def test_a_team_qualifies_by_twelve_confirmed_activities_in_the_year(
    make: Factory, db: Session, client: TestClient, settings: Settings
) -> None:
    w = team_of(make, "140802000000")
    # Many record days do not make activities (the old rule counted days).
    serve(db, settings, w, w.member_volunteer.id, days=20, hours=1)
    held(db, w, 11)
    held(db, w, 2, status=ActivityStatus.CANCELLED)
    held(db, w, 1, status=ActivityStatus.PUBLISHED)
    held(db, w, 1, starts=datetime(YEAR - 1, 12, 31, 15, tzinfo=UTC))  # 23:00 China, last year
    held(db, w, 1, starts=datetime(YEAR, 12, 31, 16, tzinfo=UTC))  # 1 Jan China, next year
    assert team_ids(found(client, make, w.center_admin)) == []
    held(db, w, 1, starts=datetime(YEAR - 1, 12, 31, 16, tzinfo=UTC))  # 1 Jan, China time
    body = found(client, make, w.center_admin)
    assert team_ids(body) == [str(w.team.id)]
    assert (body["teams"][0]["activities"], body["teams"][0]["hours"]) == (12, 20)


def test_voided_records_do_not_count_towards_the_hours(
    make: Factory, db: Session, client: TestClient, settings: Settings
) -> None:
    w = team_of(make, "140802000000")
    records = serve(db, settings, w, w.member_volunteer.id, days=10, hours=20)
    assert team_ids(found(client, make, w.center_admin)) == [str(w.team.id)]
    amend(db, settings, records[0], Correction(minutes=0), reason="误录", actor_id=w.leader.id)
    assert team_ids(found(client, make, w.center_admin)) == []


@pytest.mark.parametrize(
    ("founded_on", "registered", "qualifies"),
    [
        (date(YEAR - 1, 12, 31), datetime(YEAR, 6, 1, tzinfo=UTC), True),  # founded before it
        (
            date(YEAR, 1, 1),
            datetime(YEAR - 5, 1, 1, tzinfo=UTC),
            False,
        ),  # founded_on, not created_at
        (None, datetime(YEAR - 1, 12, 31, 15, tzinfo=UTC), True),  # unknown: registered here
        (None, datetime(YEAR - 1, 12, 31, 16, tzinfo=UTC), False),  # 1 Jan, China time
    ],
)
def test_a_team_must_be_a_year_old_by_the_end_of_the_year(
    make: Factory, db: Session, client: TestClient, settings: Settings,
    founded_on: date | None, registered: datetime, qualifies: bool,
) -> None:  # fmt: skip
    w = team_of(make, "140802000000", founded_on=founded_on)
    w.team.created_at = registered
    db.add(w.team)
    held(db, w, 12)
    assert team_ids(found(client, make, w.center_admin)) == ([str(w.team.id)] if qualifies else [])


def test_a_team_needs_ten_members(
    make: Factory, db: Session, client: TestClient, settings: Settings
) -> None:
    small, full = team_of(make, "140802000000", members=9), team_of(make, "140803000000")
    for w in (small, full):
        held(db, w, 12)
    body = found(client, make, make.platform_admin())
    assert team_ids(body) == [str(full.team.id)]
    assert body["teams"][0]["members"] == 10


def test_volunteers_with_300_hours_by_the_end_of_the_year(
    make: Factory, db: Session, client: TestClient, settings: Settings
) -> None:
    w = team_of(make, "140802000000", members=2)
    serve(db, settings, w, w.member_volunteer.id, days=10, hours=20, start=date(YEAR - 1, 3, 1))
    serve(db, settings, w, w.member_volunteer.id, days=5, hours=19.8)  # 299 h by the end of YEAR
    serve(db, settings, w, w.member_volunteer.id, days=5, hours=20, start=date(YEAR + 1, 1, 2))
    assert found(client, make, w.center_admin)["volunteers"] == []  # later hours do not count
    serve(db, settings, w, w.leader_volunteer.id, days=15, hours=20)
    serve(db, settings, w, w.member_volunteer.id, days=1, hours=1, start=date(YEAR, 12, 31))
    body = found(client, make, w.center_admin)
    assert {(v["id"], v["total_hours"], v["year_hours"]) for v in body["volunteers"]} == {
        (str(w.member_volunteer.id), 300, 100),
        (str(w.leader_volunteer.id), 300, 300),
    }
    later = found(client, make, w.center_admin, f"/api/v1/honours/candidates?year={YEAR + 1}")
    assert [v["total_hours"] for v in later["volunteers"]] == [400, 300]
    earlier = found(client, make, w.center_admin, f"/api/v1/honours/candidates?year={YEAR - 1}")
    assert earlier["volunteers"] == []


def test_candidates_keep_to_the_admins_region(
    make: Factory, db: Session, client: TestClient, settings: Settings
) -> None:
    w = team_of(make, "140802000000")
    other = team_of(make, "140803000000")
    for world in (w, other):
        held(db, world, 12)
        serve(db, settings, world, world.member_volunteer.id, days=15, hours=20)
    ours = found(client, make, w.center_admin)
    assert team_ids(ours) == [str(w.team.id)]
    assert [v["id"] for v in ours["volunteers"]] == [str(w.member_volunteer.id)]
    village = found(client, make, w.station_admin, f"{URL}&region={w.village}")
    assert team_ids(village) == [str(w.team.id)]
    outside = found(client, make, w.station_admin, f"{URL}&region={other.village}")
    assert outside["teams"] == outside["volunteers"] == []
    everyone = found(client, make, make.platform_admin())
    assert set(team_ids(everyone)) == {str(w.team.id), str(other.team.id)}
    refused = client.get(URL, headers=make.headers(w.leader))
    assert (refused.status_code, refused.json()["code"]) == (403, "admin_required")
    assert client.get(URL, headers=make.headers(w.resident)).status_code == 403
    assert client.get(URL).status_code == 401
    unknown = client.get(f"{URL}&region=140899000000", headers=make.headers(w.center_admin))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "region_not_found")
    assert db.get(Team, w.team.id) is not None
