"""The board queries: one read of the period totals per page, never the ledgers.

A board ranks the rows of one period (kind and key) in a region subtree (a `BETWEEN` on the
totals' region code, served by the `(period_kind, period, region_code, …)` indexes) by hours
(`volunteer_total`/`team_total`), points or rating (`volunteer_score_total`/`team_score_total`),
and joins the other table's row of the same period for the remaining figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, true
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.regions.scope import RegionScope
from app.scoring.models import (
    PeriodKind,
    TeamScoreTotal,
    TeamTotal,
    VolunteerScoreTotal,
    VolunteerTotal,
)
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
    hours: Any = VolunteerTotal if volunteers else TeamTotal
    score: Any = VolunteerScoreTotal if volunteers else TeamScoreTotal
    owner = "volunteer_id" if volunteers else "team_id"
    home: Any = Volunteer if volunteers else Team
    main, other = (hours, score) if by is BoardBy.HOURS else (score, hours)
    main_owner, other_owner = getattr(main, owner), getattr(other, owner)
    mean, weight = prior
    rating_sum = func.coalesce(col(score.rating_sum), 0)
    rating_count = func.coalesce(col(score.rating_count), 0)
    bayesian = (mean * weight + cast(rating_sum, Float)) / (weight + rating_count)
    metric = {
        BoardBy.HOURS: col(hours.minutes),
        BoardBy.POINTS: col(score.points),
        BoardBy.RATING: bayesian,
    }[by]
    condition = {
        BoardBy.HOURS: true(),
        BoardBy.POINTS: col(score.points) > 0,
        BoardBy.RATING: col(score.rating_count) > 0,
    }[by]
    name = col(Volunteer.real_name) if volunteers else col(Team.name)
    user = col(Volunteer.user_id) if volunteers else literal(None)
    stmt = (
        sa_select(
            col(main_owner), col(main.region_code),
            func.coalesce(col(hours.minutes), 0), func.coalesce(col(hours.records), 0),
            func.coalesce(col(score.points), 0),
            case((rating_count > 0, bayesian), else_=None), rating_count, name, user,
        )
        .join(home, col(home.id) == col(main_owner))
        .outerjoin(
            other,
            and_(
                col(other_owner) == col(main_owner),
                col(other.period_kind) == col(main.period_kind),
                col(other.period) == col(main.period),
            ),
        )
        .where(
            col(main.period_kind) == period.value,
            col(main.period) == key,
            scope.filter(col(main.region_code)),
            condition,
        )
        .order_by(metric.desc(), col(main_owner))
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
