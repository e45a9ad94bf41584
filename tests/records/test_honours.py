"""Honours candidates by the seed plans' criteria."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.records.ledger import RecordDraft, land_records
from app.records.models import RecordSource
from tests.factories import Factory, World

YEAR = 2025


def serve(db: Session, settings: Settings, world: World, volunteer_id: object, days: int,
          hours: float) -> None:  # fmt: skip
    drafts = [
        RecordDraft(
            volunteer_id=volunteer_id,  # type: ignore[arg-type]
            team_id=world.team.id,
            category_code="care",
            region_code=world.village,
            service_date=date(YEAR, 3, 1) + timedelta(days=n),
            minutes=int(hours * 60),
            content="助老服务",
            recorded_by_id=world.leader.id,
            source=RecordSource.MANUAL,
        )
        for n in range(days)
    ]
    land_records(db, settings, drafts)


def test_best_teams_and_volunteers_by_the_criteria(
    make: Factory, db: Session, client: TestClient, settings: Settings
) -> None:
    w = make.world("140802000000")
    w.team.created_at = datetime(YEAR - 2, 5, 1, tzinfo=UTC)
    for _ in range(8):
        make.member(w.team, make.volunteer(w.village))
    db.add(w.team)
    serve(db, settings, w, w.member_volunteer.id, days=15, hours=20)  # 300 h in 15 days
    serve(db, settings, w, w.leader_volunteer.id, days=2, hours=1)
    young = make.world("140803000000")  # a new team with too few members
    serve(db, settings, young, young.member_volunteer.id, days=12, hours=1)
    db.commit()

    url = f"/api/v1/honours/candidates?year={YEAR}"
    found = client.get(url, headers=make.headers(make.platform_admin())).json()
    assert [t["id"] for t in found["teams"]] == [str(w.team.id)]
    assert found["teams"][0]["members"] == 10
    assert found["teams"][0]["service_days"] == 15
    assert [v["id"] for v in found["volunteers"]] == [str(w.member_volunteer.id)]
    # A site admin sees only their region; others are refused.
    theirs = client.get(url, headers=make.headers(young.center_admin)).json()
    assert theirs["teams"] == theirs["volunteers"] == []
    assert client.get(url, headers=make.headers(w.leader)).status_code == 403
    assert client.get(url).status_code == 401
    # Founded within the year: not a year old by its end, so not yet.
    w.team.created_at = datetime(YEAR, 1, 10, tzinfo=UTC)
    db.add(w.team)
    db.commit()
    again = client.get(url, headers=make.headers(w.center_admin)).json()
    assert again["teams"] == []
    assert len(again["volunteers"]) == 1
