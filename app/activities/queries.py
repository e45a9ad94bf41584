"""Reads for site admins over their region: teams without an activity in a month (each team is
expected to hold at least one a month), and activity records past their filing deadline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func
from sqlmodel import Session, col, select

from app.activities.models import Activity, ActivityStatus
from app.common.clock import utcnow
from app.errors import Invalid
from app.records.ledger import CHINA
from app.regions.scope import RegionScope
from app.teams.models import Team, TeamStatus


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The UTC instants where a China-time month ("YYYY-MM") begins and ends."""
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
    except ValueError:
        raise Invalid("月份格式应为 YYYY-MM / month must be YYYY-MM", code="bad_month") from None
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start - CHINA, following - CHINA


def this_month(now: datetime | None = None) -> str:
    china = (now or utcnow()).astimezone(UTC) + CHINA
    return f"{china.year:04d}-{china.month:02d}"


def teams_without_activity(
    session: Session, scope: RegionScope, month: str
) -> list[tuple[Team, datetime | None]]:
    """Active teams in scope with no confirmed activity starting in the month, and when their
    last confirmed activity started (None: never)."""
    start, end = month_bounds(month)
    held = exists().where(
        col(Activity.team_id) == col(Team.id),
        col(Activity.status) == ActivityStatus.CONFIRMED.value,
        col(Activity.starts_at) >= start,
        col(Activity.starts_at) < end,
    )
    last = (
        select(func.max(col(Activity.starts_at)))
        .where(
            col(Activity.team_id) == col(Team.id),
            col(Activity.status) == ActivityStatus.CONFIRMED.value,
        )
        .correlate(Team)
        .scalar_subquery()
    )
    rows = session.exec(
        select(Team, last)
        .where(
            scope.filter(col(Team.region_code)),
            col(Team.status) == TeamStatus.ACTIVE.value,
            col(Team.created_at) < end,
            ~held,
        )
        .order_by(col(Team.region_code), col(Team.name), col(Team.id))
    ).all()
    return [(team, _aware(when)) for team, when in rows]


def _aware(when: datetime | None) -> datetime | None:
    """`max()` over a UTC column comes back naive from SQLite."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


def reports_overdue(
    session: Session, scope: RegionScope, days: int, team_id: uuid.UUID | None = None
) -> list[Activity]:
    """Activities that ended more than `days` ago and whose record is not filed."""
    stmt = (
        select(Activity)
        .where(
            scope.filter(col(Activity.region_code)),
            col(Activity.status) != ActivityStatus.CANCELLED.value,
            col(Activity.filed_at).is_(None),
            col(Activity.ends_at) < utcnow() - timedelta(days=days),
        )
        .order_by(col(Activity.ends_at), col(Activity.id))
    )
    if team_id is not None:
        stmt = stmt.where(col(Activity.team_id) == team_id)
    return list(session.exec(stmt).all())
