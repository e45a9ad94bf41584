"""The points and ratings in the period totals (volunteers and teams; the rows they share with
the hours, `totals.Tally`), moved as entries and ratings land, and computed from the points
ledger and the ratings for the recompute (`score_computed`, `app.scoring.rebuild`).

Attribution, the same both ways:
- a points entry counts for its volunteer, except redemptions (spending does not lower a board);
  points for a record count in the period of its service date and for the record's team, a
  five-star bonus for the rated team, all others in the period (China time) they were given;
- a rating counts for the rated team and for every volunteer with a record of the order, in the
  period (China time) it was given.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Table,
    cast,
    delete,
    func,
    join,
    literal,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col

from app.orders.models import OrderRating
from app.points.models import PointsBalance, PointsEntry, PointsKind
from app.records.models import ServiceRecord
from app.scoring.models import PeriodKind
from app.scoring.totals import Tally, count_rows, period_column
from app.teams.models import Team
from app.volunteers.models import Volunteer


def china_day(when: datetime) -> date:
    return (when.astimezone(UTC) + timedelta(hours=8)).date()


def _table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


@dataclass(frozen=True)
class Move:
    """One movement of a total: its owner, the day whose periods it counts in, and the change."""

    owner: uuid.UUID
    day: date
    points: int = 0
    stars: int = 0
    ratings: int = 0


def apply(session: Session, volunteers: Iterable[Move], teams: Iterable[Move]) -> None:
    """Move the totals (one upsert per table, in `Tally`'s lock order)."""
    tally = Tally()
    for owner, moves in (("volunteer_id", volunteers), ("team_id", teams)):
        for m in moves:
            tally.add(owner, m.owner, m.day, points=m.points, rating_sum=m.stars,
                      rating_count=m.ratings)  # fmt: skip
    tally.apply(session)


@dataclass(frozen=True)
class PointsMove:
    """A points entry just written, with the service date and team of its record, if any."""

    entry: PointsEntry
    day: date | None = None
    team_id: uuid.UUID | None = None


def points_moved(session: Session, moved: Sequence[PointsMove]) -> None:
    """Points entries were written: move the totals they count for (see the module's rules)."""
    volunteers, teams = [], []
    for m in moved:
        entry = m.entry
        if entry.kind == PointsKind.REDEEM.value:
            continue
        day, team_id = m.day or china_day(entry.created_at), m.team_id
        if team_id is None and entry.kind == PointsKind.BONUS.value and entry.order_id is not None:
            team_id = session.exec(
                sa_select(col(OrderRating.team_id)).where(
                    col(OrderRating.order_id) == entry.order_id
                )
            ).scalar_one_or_none()  # type: ignore[call-overload]
        volunteers.append(Move(entry.volunteer_id, day, points=entry.delta))
        if team_id is not None:
            teams.append(Move(team_id, day, points=entry.delta))
    apply(session, volunteers, teams)


def tally_record_points(tally: Tally, moved: Sequence[PointsMove]) -> None:
    """Add what `points_moved` would for points earned by records (each with its day and
    team) to a tally that the caller writes with the records' hours."""
    for m in moved:
        assert m.day is not None
        assert m.team_id is not None
        tally.add("volunteer_id", m.entry.volunteer_id, m.day, points=m.entry.delta)
        tally.add("team_id", m.team_id, m.day, points=m.entry.delta)


def rating_landed(session: Session, rating: OrderRating) -> None:
    """A requester rated an order: the team and the order's volunteers get it."""
    session.flush()
    day = china_day(rating.created_at)
    volunteers = (
        session.connection()
        .execute(
            sa_select(col(ServiceRecord.volunteer_id))
            .where(col(ServiceRecord.order_id) == rating.order_id)
            .distinct()
        )
        .scalars()
        .all()
    )
    apply(
        session,
        [Move(v, day, stars=rating.stars, ratings=1) for v in volunteers],
        [Move(rating.team_id, day, stars=rating.stars, ratings=1)],
    )


# The same totals, from the ledgers.


def _china_day(column: Any, dialect_name: str) -> Any:
    if dialect_name == "postgresql":
        return cast(func.timezone("Asia/Shanghai", column), Date)
    return func.date(column, "+8 hours")


def _sources(owner: str, dialect_name: str) -> list[tuple[Any, ...]]:
    """(owner, day, points, stars, ratings, from, conditions) per kind of movement."""
    entry, record, rating = _table(PointsEntry), _table(ServiceRecord), _table(OrderRating)
    given = _china_day(entry.c.created_at, dialect_name)
    rated_on = _china_day(rating.c.created_at, dialect_name)
    zero, one = literal(0), literal(1)
    not_spent = entry.c.kind != PointsKind.REDEEM.value
    if owner == "volunteer_id":
        served = (
            sa_select(record.c.order_id, record.c.volunteer_id)
            .where(record.c.order_id.is_not(None))
            .distinct()
            .subquery()
        )
        for_record = join(entry, record, record.c.id == entry.c.record_id, isouter=True)
        return [
            (entry.c.volunteer_id, func.coalesce(record.c.service_date, given), entry.c.delta,
             zero, zero, for_record, [not_spent]),
            (served.c.volunteer_id, rated_on, zero, rating.c.stars, one,
             join(rating, served, served.c.order_id == rating.c.order_id), []),
        ]  # fmt: skip
    return [
        (record.c.team_id, record.c.service_date, entry.c.delta, zero, zero,
         join(entry, record, record.c.id == entry.c.record_id), [not_spent]),
        (rating.c.team_id, given, entry.c.delta, zero, zero,
         join(entry, rating, rating.c.order_id == entry.c.order_id),
         [entry.c.kind == PointsKind.BONUS.value]),
        (rating.c.team_id, rated_on, zero, rating.c.stars, one, rating, []),
    ]  # fmt: skip


def score_computed(session: Session, owner: str) -> Any:
    """Every points and rating total as the ledgers say, with the owner's current region."""
    dialect_name = session.get_bind().dialect.name
    parts = []
    for who, day, points, stars, ratings, source, where in _sources(owner, dialect_name):
        for kind in PeriodKind:
            parts.append(
                sa_select(
                    who.label("owner"), literal(kind.value).label("period_kind"),
                    period_column(kind, day).label("period"), points.label("points"),
                    stars.label("rating_sum"), ratings.label("rating_count"),
                ).select_from(source).where(*where)
            )  # fmt: skip
    moved = union_all(*parts).subquery()
    home = Volunteer if owner == "volunteer_id" else Team
    return (
        sa_select(
            moved.c.owner.label(owner), moved.c.period_kind, moved.c.period,
            col(home.region_code).label("region_code"),
            func.sum(moved.c.points).label("points"),
            func.sum(moved.c.rating_sum).label("rating_sum"),
            func.sum(moved.c.rating_count).label("rating_count"),
        )
        .join(home, col(home.id) == moved.c.owner)
        .group_by(moved.c.owner, moved.c.period_kind, moved.c.period, col(home.region_code))
    )  # fmt: skip


# Points balances: each is the sum of its volunteer's entries.


def _balances_from_ledger() -> Any:
    entry = _table(PointsEntry)
    return sa_select(entry.c.volunteer_id, func.sum(entry.c.delta).label("balance")).group_by(
        entry.c.volunteer_id
    )


def recompute_balances(session: Session) -> dict[str, int]:
    """Rebuild every points balance from the points ledger. Flushes; the caller commits."""
    balance = _table(PointsBalance)
    session.execute(delete(balance))
    session.execute(
        balance.insert().from_select(["volunteer_id", "balance"], _balances_from_ledger())
    )
    return {
        balance.name: session.execute(sa_select(func.count()).select_from(balance)).scalar_one()
    }


def balance_mismatches(session: Session) -> dict[str, int]:
    balance = _table(PointsBalance)
    ledger = _balances_from_ledger().subquery()
    from_ledger = sa_select(ledger.c.volunteer_id, ledger.c.balance)
    stored = sa_select(balance.c.volunteer_id, balance.c.balance)
    return {
        balance.name: count_rows(session, from_ledger.except_(stored))
        + count_rows(session, stored.except_(from_ledger))
    }
