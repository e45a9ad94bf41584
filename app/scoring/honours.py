"""Honours candidates (the seed plans' criteria), per region subtree and year, for site admins.

- Best team (最佳志愿服务队): founded (`founded_on`; when unknown, registered here) at least a year
  before the end of the year, at least 10 members, and in the year held at least 12 activities
  (confirmed activities starting in the year, China time) or served at least 200 hours.
- Most beautiful volunteer (最美志愿者): at least 300 cumulative service hours by the end of the
  year (the domain's "cumulative": hours of later years do not count for an earlier year).

Hours come from the period totals (year rows); activities are counted for the teams that pass
the other tests only (an admin report, not a request path that needs to be instant).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col

from app.activities.models import Activity, ActivityStatus
from app.auth.deps import AnyAdmin
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.records.ledger import china_today
from app.regions.queries import get_region
from app.regions.scope import RegionScope
from app.scoring.models import PeriodKind, TeamTotal, VolunteerTotal
from app.teams.models import Team, TeamMember
from app.volunteers.models import Volunteer

router = APIRouter(prefix="/honours", tags=["scoring"], responses=PROBLEM_RESPONSES)

TEAM_MIN_MEMBERS = 10
TEAM_MIN_ACTIVITIES = 12
TEAM_MIN_MINUTES = 200 * 60
VOLUNTEER_MIN_MINUTES = 300 * 60


class TeamCandidate(BaseModel):
    id: uuid.UUID
    name: str
    region_code: str
    founded_on: date | None
    members: int
    activities: int = Field(description="Confirmed activities that started in the year")
    hours: float = Field(description="Recorded hours in the year")


class VolunteerCandidate(BaseModel):
    id: uuid.UUID
    name: str
    region_code: str
    total_hours: float = Field(description="Cumulative hours by the end of the year")
    year_hours: float = Field(description="Hours in the year")


class Candidates(BaseModel):
    year: int
    region_code: str | None
    teams: list[TeamCandidate]
    volunteers: list[VolunteerCandidate]
    rules: list[str] = [
        "最佳志愿服务队:成立满一年,队员不少于10人,当年开展活动不少于12次或服务不少于200小时 / "
        "best team: founded a year before, 10 members, 12 activities or 200 hours in the year",
        "最美志愿者:截至当年年底累计志愿服务时长不少于300小时 / "
        "most beautiful volunteer: 300 cumulative hours by the end of the year",
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
    teams = _teams(session, scope, year)
    held = _activities(session, [t[0] for t in teams], year)
    team_out = [
        TeamCandidate(id=tid, name=name, region_code=code, founded_on=founded, members=n,
                      activities=held.get(tid, 0), hours=round(minutes / 60, 2))
        for tid, name, code, founded, n, minutes in teams
        if held.get(tid, 0) >= TEAM_MIN_ACTIVITIES or minutes >= TEAM_MIN_MINUTES
    ]  # fmt: skip
    return Candidates(
        year=year,
        region_code=region,
        teams=sorted(team_out, key=lambda t: (-t.hours, str(t.id))),
        volunteers=_volunteers(session, scope, year),
    )


def _teams(session: DbSession, scope: RegionScope, year: int) -> list[Any]:
    """Teams a year old by the end of `year` with enough members, with their hours in it."""
    cutoff = date(year - 1, 12, 31)
    year_starts = datetime(year - 1, 12, 31, 16, tzinfo=UTC)  # 1 January, China time
    old_enough = or_(
        col(Team.founded_on) <= cutoff,
        and_(col(Team.founded_on).is_(None), col(Team.created_at) < year_starts),
    )
    members = func.count(col(TeamMember.id))
    return list(
        session.execute(
            sa_select(col(Team.id), col(Team.name), col(Team.region_code), col(Team.founded_on),
                      members, func.coalesce(col(TeamTotal.minutes), 0))
            .join(TeamMember, col(TeamMember.team_id) == col(Team.id))
            .outerjoin(
                TeamTotal,
                (col(TeamTotal.team_id) == col(Team.id))
                & (col(TeamTotal.period_kind) == PeriodKind.YEAR.value)
                & (col(TeamTotal.period) == year),
            )
            .where(scope.filter(col(Team.region_code)), old_enough)
            .group_by(col(Team.id), col(Team.name), col(Team.region_code), col(Team.founded_on),
                      col(TeamTotal.minutes))
            .having(members >= TEAM_MIN_MEMBERS)
        ).all()
    )  # fmt: skip


def _volunteers(session: DbSession, scope: RegionScope, year: int) -> list[VolunteerCandidate]:
    """Volunteers with 300 hours by the end of `year`: the sum of their year totals up to it."""
    total = VolunteerTotal
    cumulative = func.sum(col(total.minutes))
    in_year = func.coalesce(func.sum(col(total.minutes)).filter(col(total.period) == year), 0)
    rows = session.execute(
        sa_select(col(Volunteer.id), col(Volunteer.real_name), col(total.region_code),
                  cumulative, in_year)
        .join(Volunteer, col(Volunteer.id) == col(total.volunteer_id))
        .where(
            col(total.period_kind) == PeriodKind.YEAR.value,
            col(total.period) <= year,
            scope.filter(col(total.region_code)),
        )
        .group_by(col(Volunteer.id), col(Volunteer.real_name), col(total.region_code))
        .having(cumulative >= VOLUNTEER_MIN_MINUTES)
        .order_by(cumulative.desc(), col(Volunteer.id))
    ).all()  # fmt: skip
    return [
        VolunteerCandidate(id=vid, name=name, region_code=code, total_hours=round(m / 60, 2),
                           year_hours=round(y / 60, 2))
        for vid, name, code, m, y in rows
    ]  # fmt: skip


def _activities(session: DbSession, team_ids: list[uuid.UUID], year: int) -> dict[uuid.UUID, int]:
    """Confirmed activities of each team that started in `year` (China time)."""
    if not team_ids:
        return {}
    starts = col(Activity.starts_at)
    rows = session.execute(
        sa_select(col(Activity.team_id), func.count(col(Activity.id)))
        .where(col(Activity.team_id).in_(team_ids),
               col(Activity.status) == ActivityStatus.CONFIRMED.value,
               starts >= datetime(year - 1, 12, 31, 16, tzinfo=UTC),
               starts < datetime(year, 12, 31, 16, tzinfo=UTC))
        .group_by(col(Activity.team_id))
    ).all()  # fmt: skip
    return {team_id: int(n) for team_id, n in rows}
