"""The board queries: one read of the period totals per page, never the ledgers.

A board ranks the rows of one period (kind and key) of `volunteer_total` or `team_total` in a
region subtree (a `BETWEEN` on the totals' region code, served by the `(period_kind, period,
region_code, …)` indexes) by hours, points or rating; each row holds every figure shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, case, cast, literal
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.regions.scope import RegionScope
from app.scoring.models import PeriodKind, TeamTotal, VolunteerTotal
from app.teams.models import Team
from app.volunteers.models import Volunteer


class BoardBy(StrEnum):
    HOURS = "hours"  # recorded minutes, amendments included
    POINTS = "points"  # points awarded in the period (spending does not lower it)
    RATING = "rating"  # Bayesian average of the ratings given in the period


@dataclass(frozen=True)
class BoardRow:
    id: Any
    region_code: str
    minutes: int
    records: int
    points: int
    rating: float | None
    ratings: int
    name: str
    user_id: Any  # the volunteer's account (None for teams)


def board_rows(
    session: Session,
    *,
    volunteers: bool,
    by: BoardBy,
    scope: RegionScope,
    period: PeriodKind,
    key: int,
    limit: int,
    prior: tuple[float, float],
) -> list[BoardRow]:
    """Volunteers (or teams) of `scope` in one period, best first by `by`."""
    total: Any = VolunteerTotal if volunteers else TeamTotal
    owner = col(total.volunteer_id) if volunteers else col(total.team_id)
    home: Any = Volunteer if volunteers else Team
    mean, weight = prior
    rating_count = col(total.rating_count)
    bayesian = (mean * weight + cast(col(total.rating_sum), Float)) / (weight + rating_count)
    metric = {
        BoardBy.HOURS: col(total.minutes),
        BoardBy.POINTS: col(total.points),
        BoardBy.RATING: bayesian,
    }[by]
    condition = {
        BoardBy.HOURS: col(total.minutes) > 0,
        BoardBy.POINTS: col(total.points) > 0,
        BoardBy.RATING: rating_count > 0,
    }[by]
    name = col(Volunteer.real_name) if volunteers else col(Team.name)
    user = col(Volunteer.user_id) if volunteers else literal(None)
    stmt = (
        sa_select(
            owner, col(total.region_code), col(total.minutes), col(total.records),
            col(total.points), case((rating_count > 0, bayesian), else_=None), rating_count,
            name, user,
        )
        .join(home, col(home.id) == owner)
        .where(
            col(total.period_kind) == period.value,
            col(total.period) == key,
            scope.filter(col(total.region_code)),
            condition,
        )
        .order_by(metric.desc(), owner)
        .limit(limit)
    )  # fmt: skip
    return [
        BoardRow(
            id=row[0], region_code=row[1], minutes=int(row[2]), records=int(row[3]),
            points=int(row[4]), rating=None if row[5] is None else round(float(row[5]), 3),
            ratings=int(row[6]), name=row[7], user_id=row[8],
        )
        for row in session.execute(stmt).all()
    ]  # fmt: skip
