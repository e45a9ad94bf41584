"""Honours candidates (the seed plans' criteria), per region subtree and year, for site admins.

- Best team (最佳志愿服务队): existed at least a year by the end of the year, at least 10 members,
  and in the year served on at least 12 days or at least 200 hours.
- Most beautiful volunteer (最美志愿者): at least 300 cumulative recorded hours.

Hours come from the period totals; service days are counted from the ledger for the teams that
pass the other tests only (an admin report, not a request path that needs to be instant).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from app.auth.deps import AnyAdmin
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.records.ledger import china_today
from app.records.models import ServiceRecord
from app.regions.queries import get_region
from app.scoring.models import PeriodKind, TeamTotal, VolunteerTotal
from app.teams.models import Team, TeamMember
from app.volunteers.models import Volunteer

router = APIRouter(prefix="/honours", tags=["scoring"], responses=PROBLEM_RESPONSES)

TEAM_MIN_MEMBERS = 10
TEAM_MIN_DAYS = 12
TEAM_MIN_MINUTES = 200 * 60
VOLUNTEER_MIN_MINUTES = 300 * 60


class TeamCandidate(BaseModel):
    id: uuid.UUID
    name: str
    region_code: str
    members: int
    service_days: int
    hours: float


class VolunteerCandidate(BaseModel):
    id: uuid.UUID
    name: str
    region_code: str
    total_hours: float


class Candidates(BaseModel):
    year: int
    region_code: str | None
    teams: list[TeamCandidate]
    volunteers: list[VolunteerCandidate]
    rules: list[str] = [
        "最佳志愿服务队:成立满一年,队员不少于10人,当年服务不少于12次(天)或200小时",
        "最美志愿者:累计志愿服务时长不少于300小时",
    ]


@router.get("/candidates", response_model=Candidates)
def candidates(
    session: DbSession,
    caller: AnyAdmin,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    region: Annotated[str | None, Query(description="A region's subtree within your scope")] = None,
) -> Candidates:
    """Teams and volunteers of the caller's region that meet the honours criteria."""
    year = year or china_today().year
    scope = caller.admin_scope
    if region is not None:
        scope = scope.narrowed_to(get_region(session, region).code)
    founded_by = datetime(year - 1, 12, 31, 16, tzinfo=UTC)  # a year before 31 Dec, China time
    members = func.count(col(TeamMember.id))
    teams = session.execute(
        sa_select(col(Team.id), col(Team.name), col(Team.region_code), members,
                  func.coalesce(col(TeamTotal.minutes), 0))
        .join(TeamMember, col(TeamMember.team_id) == col(Team.id))
        .outerjoin(
            TeamTotal,
            (col(TeamTotal.team_id) == col(Team.id))
            & (col(TeamTotal.period_kind) == PeriodKind.YEAR.value)
            & (col(TeamTotal.period) == year),
        )
        .where(scope.filter(col(Team.region_code)), col(Team.created_at) <= founded_by)
        .group_by(col(Team.id), col(Team.name), col(Team.region_code), col(TeamTotal.minutes))
        .having(members >= TEAM_MIN_MEMBERS)
    ).all()  # fmt: skip
    day_counts = _service_days(session, [t[0] for t in teams], year)
    team_out = [
        TeamCandidate(id=tid, name=name, region_code=code, members=n,
                      service_days=day_counts.get(tid, 0), hours=round(minutes / 60, 2))
        for tid, name, code, n, minutes in teams
        if day_counts.get(tid, 0) >= TEAM_MIN_DAYS or minutes >= TEAM_MIN_MINUTES
    ]  # fmt: skip
    people = session.execute(
        sa_select(col(Volunteer.id), col(Volunteer.real_name), col(VolunteerTotal.region_code),
                  col(VolunteerTotal.minutes))
        .join(Volunteer, col(Volunteer.id) == col(VolunteerTotal.volunteer_id))
        .where(
            col(VolunteerTotal.period_kind) == PeriodKind.ALL.value,
            col(VolunteerTotal.minutes) >= VOLUNTEER_MIN_MINUTES,
            scope.filter(col(VolunteerTotal.region_code)),
        )
        .order_by(col(VolunteerTotal.minutes).desc())
    ).all()  # fmt: skip
    return Candidates(
        year=year,
        region_code=region,
        teams=sorted(team_out, key=lambda t: (-t.hours, str(t.id))),
        volunteers=[
            VolunteerCandidate(id=vid, name=name, region_code=code, total_hours=round(m / 60, 2))
            for vid, name, code, m in people
        ],
    )


def _service_days(session: DbSession, team_ids: list[uuid.UUID], year: int) -> dict[uuid.UUID, int]:
    if not team_ids:
        return {}
    day = col(ServiceRecord.service_date)
    rows = session.execute(
        sa_select(col(ServiceRecord.team_id), func.count(func.distinct(day)))
        .where(col(ServiceRecord.team_id).in_(team_ids),
               day.between(date(year, 1, 1), date(year, 12, 31)),
               col(ServiceRecord.amends_id).is_(None))
        .group_by(col(ServiceRecord.team_id))
    ).all()  # fmt: skip
    return {team_id: int(days) for team_id, days in rows}
