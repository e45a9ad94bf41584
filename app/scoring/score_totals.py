"""Period totals of points and ratings (volunteers and teams), kept as entries and ratings land,
rebuilt from the points ledger and the ratings on demand.

Attribution, the same both ways:
- a points entry counts for its volunteer, except redemptions (spending does not lower a board);
  points for a record count in the period of its service date and for the record's team, a
  five-star bonus for the rated team, all others in the period (China time) they were given;
- a rating counts for the rated team and for every volunteer with a record of the order, in the
  period (China time) it was given.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Date,
    Table,
    bindparam,
    cast,
    delete,
    func,
    join,
    literal,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

from app.common.together import Add, Write
from app.orders.models import OrderRating
from app.points.models import PointsBalance, PointsEntry, PointsKind
from app.records.models import ServiceRecord
from app.scoring.models import PeriodKind, TeamScoreTotal, VolunteerScoreTotal
from app.scoring.totals import count_rows, period_column, periods_of
from app.teams.models import Team
from app.volunteers.models import Volunteer

Model = type[VolunteerScoreTotal] | type[TeamScoreTotal]
OWNERS: tuple[tuple[Model, str], ...] = (
    (VolunteerScoreTotal, "volunteer_id"),
    (TeamScoreTotal, "team_id"),
)
COLUMNS = ["period_kind", "period", "region_code", "points", "rating_sum", "rating_count"]


def china_day(when: datetime) -> date:
    return (when.astimezone(UTC) + timedelta(hours=8)).date()


def _table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


@cache
def _upsert_statement(dialect_name: str, model: Model, owner: str) -> Any:
    """Add to a total, creating it (with its owner's current region) at the first movement."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = _table(model)
    home = Volunteer if model is VolunteerScoreTotal else Team
    region = (
        sa_select(col(home.region_code))
        .where(col(home.id) == bindparam("owner", type_=table.c[owner].type))
        .scalar_subquery()
    )
    stmt = dialect.insert(table).values(
        {owner: bindparam("owner", type_=table.c[owner].type), "region_code": region}
    )
    return stmt.on_conflict_do_update(
        index_elements=[owner, "period_kind", "period"],
        set_={
            "points": table.c.points + stmt.excluded.points,
            "rating_sum": table.c.rating_sum + stmt.excluded.rating_sum,
            "rating_count": table.c.rating_count + stmt.excluded.rating_count,
            "region_code": stmt.excluded.region_code,
        },
    )


@dataclass(frozen=True)
class Move:
    """One movement of a total: its owner, the day whose periods it counts in, and the change."""

    owner: uuid.UUID
    day: date
    points: int = 0
    stars: int = 0
    ratings: int = 0


def _apply(session: Session, model: Model, owner: str, moves: Iterable[Move]) -> None:
    """One upsert per table, its rows summed per key and sorted (owner, then the all-time row
    first), so that concurrent writers lock them in the same order."""
    rows = _summed(moves)
    if rows:
        connection = session.connection()
        connection.execute(_upsert_statement(connection.dialect.name, model, owner), rows)


def _summed(moves: Iterable[Move]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, int, str, int], dict[str, Any]] = {}
    for m in moves:
        for n, (kind, period) in enumerate(periods_of(m.day)):
            row = rows.setdefault(
                (str(m.owner), n, kind, period),
                {"owner": m.owner, "period_kind": kind, "period": period, "points": 0,
                 "rating_sum": 0, "rating_count": 0},
            )  # fmt: skip
            row["points"] += m.points
            row["rating_sum"] += m.stars
            row["rating_count"] += m.ratings
    return [rows[key] for key in sorted(rows)]


_ADD = {
    owner: Add((owner, "period_kind", "period"), ("points", "rating_sum", "rating_count"),
               ("region_code",))
    for _, owner in OWNERS
}  # fmt: skip


def writes(
    volunteers: Iterable[Move], teams: Iterable[Move], regions: Mapping[uuid.UUID, str]
) -> list[Write]:
    """The upserts of `apply`, for a caller that writes them with others (`write_together`) and
    knows the owners' current regions (`regions`, volunteers' and teams' alike)."""
    found: list[Write] = []
    for (model, owner), moves in zip(OWNERS, (volunteers, teams), strict=True):
        rows = []
        for row in _summed(moves):
            who = row.pop("owner")
            rows.append({owner: who, "region_code": regions[who], **row})
        found.append((model, rows, _ADD[owner]))
    return found


def apply(session: Session, volunteers: Iterable[Move], teams: Iterable[Move]) -> None:
    """Volunteers' rows before teams' rows, in every writer (points entries and ratings alike):
    a global lock order, so that concurrent transactions cannot deadlock on them."""
    _apply(session, VolunteerScoreTotal, "volunteer_id", volunteers)
    _apply(session, TeamScoreTotal, "team_id", teams)


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


def record_points_writes(
    moved: Sequence[PointsMove], regions: Mapping[uuid.UUID, str]
) -> list[Write]:
    """The upserts of `points_moved` for points earned by records (each with its day and
    team), for a caller that writes them with others; `regions` as for `writes`."""
    volunteers, teams = [], []
    for m in moved:
        assert m.day is not None
        assert m.team_id is not None
        volunteers.append(Move(m.entry.volunteer_id, m.day, points=m.entry.delta))
        teams.append(Move(m.team_id, m.day, points=m.entry.delta))
    return writes(volunteers, teams, regions)


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


def _computed(session: Session, model: Model, owner: str) -> Any:
    """Every total as the ledgers say, with the owner's current region."""
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
    home = Volunteer if model is VolunteerScoreTotal else Team
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


def recompute(session: Session) -> dict[str, int]:
    """Throw the points and rating totals away and rebuild them. Flushes; the caller commits."""
    counts = {}
    for model, owner in OWNERS:
        table = _table(model)
        session.execute(delete(model))
        session.execute(
            table.insert().from_select([owner, *COLUMNS], _computed(session, model, owner))
        )
        counts[table.name] = session.execute(
            sa_select(func.count()).select_from(table)
        ).scalar_one()
    return counts


def mismatches(session: Session) -> dict[str, int]:
    """How many totals differ from the ledgers, per table (rows missing on either side too)."""
    found = {}
    for model, owner in OWNERS:
        table = _table(model)
        ledger = _computed(session, model, owner).subquery()
        columns = [owner, *COLUMNS]
        from_ledger = sa_select(*[ledger.c[c] for c in columns])
        stored = sa_select(*[table.c[c] for c in columns])
        found[table.name] = count_rows(session, from_ledger.except_(stored)) + count_rows(
            session, stored.except_(from_ledger)
        )
    return found


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
