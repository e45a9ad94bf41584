"""Period totals: kept incrementally as records land, rebuilt from the ledger on demand.

Both ways share `periods_of` (Python) and `_period_column` (SQL), so an incremental total and a
recomputed one are the same number by construction; `mismatches` proves it on real data.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    Table,
    and_,
    cast,
    delete,
    except_,
    extract,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

from app.common.together import Add, Write
from app.records.models import RecordSource, ServiceRecord
from app.scoring.models import PeriodKind, TeamTotal, VolunteerScoreTotal, VolunteerTotal
from app.teams.models import Team
from app.volunteers.models import Volunteer

REVERSAL = RecordSource.REVERSAL.value


def periods_of(day: date) -> list[tuple[str, int]]:
    return [
        (PeriodKind.ALL.value, 0),
        (PeriodKind.YEAR.value, day.year),
        (PeriodKind.QUARTER.value, day.year * 10 + (day.month + 2) // 3),
        (PeriodKind.MONTH.value, day.year * 100 + day.month),
    ]


def period_key(kind: PeriodKind, day: date) -> int:
    return dict(periods_of(day))[kind.value]


@dataclass(frozen=True)
class Movement:
    """One ledger row's effect on the totals."""

    volunteer_id: uuid.UUID
    volunteer_region: str
    team_id: uuid.UUID
    team_region: str
    service_date: date
    minutes: int
    records: int  # 1 for a record; an amendment that moves the date moves it (-1 and +1)


def apply(session: Session, movements: Iterable[Movement]) -> None:
    """Add movements to the totals: one upsert per table, rows in key order (so that concurrent
    writers lock them in the same order)."""
    for model, rows, add in writes(movements):
        if rows and add is not None:
            connection = session.connection()
            connection.execute(_upsert_statement(connection.dialect.name, model, add.keys[0]), rows)


def writes(movements: Iterable[Movement]) -> list[Write]:
    """The upserts of `apply`, for a caller that writes them with others (`write_together`)."""
    people: dict[tuple[Any, str, int], list[Any]] = defaultdict(lambda: ["", 0, 0])
    teams: dict[tuple[Any, str, int], list[Any]] = defaultdict(lambda: ["", 0, 0])
    for m in movements:
        for kind, period in periods_of(m.service_date):
            for table, owner, region in ((people, m.volunteer_id, m.volunteer_region),
                                         (teams, m.team_id, m.team_region)):  # fmt: skip
                row = table[owner, kind, period]
                row[0], row[1], row[2] = region, row[1] + m.minutes, row[2] + m.records
    return [
        (VolunteerTotal, _rows("volunteer_id", people), _ADD["volunteer_id"]),
        (TeamTotal, _rows("team_id", teams), _ADD["team_id"]),
    ]


_ADD = {
    owner: Add((owner, "period_kind", "period"), ("minutes", "records"), ("region_code",))
    for owner in ("volunteer_id", "team_id")
}


def _rows(owner: str, rows: dict[tuple[Any, str, int], list[Any]]) -> list[dict[str, Any]]:
    ordered = sorted(rows.items(), key=lambda item: (str(item[0][0]), item[0][1], item[0][2]))
    return [
        {owner: key[0], "period_kind": key[1], "period": key[2], "region_code": region,
         "minutes": minutes, "records": records}
        for key, (region, minutes, records) in ordered
    ]  # fmt: skip


@cache
def _upsert_statement(
    dialect_name: str, model: type[VolunteerTotal] | type[TeamTotal], owner: str
) -> Any:
    """Add to a total, creating it at the first minutes (built once: it runs with every record)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = _table(model)
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[owner, "period_kind", "period"],
        set_={
            "minutes": table.c.minutes + stmt.excluded.minutes,
            "records": table.c.records + stmt.excluded.records,
            "region_code": stmt.excluded.region_code,
        },
    )


def _table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


def move_volunteer(session: Session, volunteer_id: uuid.UUID, region_code: str) -> None:
    """A volunteer who moves takes their history (and their place on boards) with them."""
    for model in (VolunteerTotal, VolunteerScoreTotal):
        session.execute(
            _table(model)
            .update()
            .where(col(model.volunteer_id) == volunteer_id)
            .values(region_code=region_code)
        )


def period_column(kind: PeriodKind, day: Any) -> Any:
    """The period key of a SQL date (0, 2026, 20264, 202611), as `periods_of` gives in Python."""
    year = cast(extract("year", day), Integer)
    month = cast(extract("month", day), Integer)
    return {
        PeriodKind.ALL: literal(0),
        PeriodKind.YEAR: year,
        PeriodKind.QUARTER: year * 10 + (month + 2) // 3,
        PeriodKind.MONTH: year * 100 + month,
    }[kind]


def _moved() -> Any:
    """Records that amendments moved to another day: the day entered and the day of the latest
    row that is not a reversal (`ledger._state_of`'s order). Only the amendments are read."""
    record = _table(ServiceRecord)
    amended = (
        select(
            record.c.amends_id,
            record.c.service_date,
            func.row_number()
            .over(
                partition_by=record.c.amends_id,
                order_by=(record.c.created_at.desc(), record.c.id.desc()),
            )
            .label("latest"),
        )
        .where(record.c.amends_id.is_not(None), record.c.source != REVERSAL)
        .subquery()
    )
    return (
        select(record.c.volunteer_id, record.c.team_id,
               record.c.service_date.label("entered_on"), amended.c.service_date.label("now_on"))
        .join(amended, amended.c.amends_id == record.c.id)
        .where(amended.c.latest == 1, amended.c.service_date != record.c.service_date)
        .cte("moved")
    )  # fmt: skip


def _computed(owner: str) -> Any:
    """Every total, as the ledger says: a UNION ALL of one GROUP BY per period kind. A record
    counts once, on its date as amended: the ledger's originals, less each moved record on the
    day it was entered, plus it on its new day (both days hold rows of it, so a total exists)."""
    is_volunteer = owner == "volunteer_id"
    owner_col = col(ServiceRecord.volunteer_id) if is_volunteer else col(ServiceRecord.team_id)
    region = col(Volunteer.region_code) if is_volunteer else col(Team.region_code)
    moved = _moved()
    parts = []
    for kind in PeriodKind:
        period = period_column(kind, col(ServiceRecord.service_date))
        stmt: Any = select(
            owner_col.label(owner),
            literal(kind.value).label("period_kind"),
            period.label("period"),
            region.label("region_code"),
            func.sum(ServiceRecord.minutes).label("minutes"),
            func.count(col(ServiceRecord.id))
            .filter(col(ServiceRecord.amends_id).is_(None))
            .label("records"),
        )
        if is_volunteer:
            stmt = stmt.join(Volunteer, col(Volunteer.id) == col(ServiceRecord.volunteer_id))
        else:
            stmt = stmt.join(Team, col(Team.id) == col(ServiceRecord.team_id))
        ledger = stmt.group_by(owner_col, period, region).subquery()
        who = moved.c[owner]
        shifts = union_all(
            select(who.label("owner"), period_column(kind, moved.c.entered_on).label("period"),
                   literal(-1).label("n")),
            select(who, period_column(kind, moved.c.now_on), literal(1)),
        ).subquery()  # fmt: skip
        shift = (
            select(shifts.c.owner, shifts.c.period, func.sum(shifts.c.n).label("n"))
            .group_by(shifts.c.owner, shifts.c.period)
            .subquery()
        )
        parts.append(
            select(
                ledger.c[owner], ledger.c.period_kind, ledger.c.period, ledger.c.region_code,
                ledger.c.minutes,
                (ledger.c.records + func.coalesce(shift.c.n, 0)).label("records"),
            ).outerjoin(
                shift, and_(shift.c.owner == ledger.c[owner], shift.c.period == ledger.c.period)
            )
        )  # fmt: skip
    return parts


def recompute(session: Session) -> dict[str, int]:
    """Throw the totals away and rebuild them from the ledger. Flushes; the caller commits."""
    counts = {}
    for model, owner in ((VolunteerTotal, "volunteer_id"), (TeamTotal, "team_id")):
        session.execute(delete(model))
        columns = [owner, "period_kind", "period", "region_code", "minutes", "records"]
        for part in _computed(owner):
            session.execute(_table(model).insert().from_select(columns, part))
        counts[str(model.__tablename__)] = session.execute(
            select(func.count()).select_from(_table(model))
        ).scalar_one()
    return counts


def mismatches(session: Session) -> dict[str, int]:
    """How many totals differ from what the ledger says, per table (rows missing on either
    side count too)."""
    found = {}
    for model, owner in ((VolunteerTotal, "volunteer_id"), (TeamTotal, "team_id")):
        table = _table(model)
        columns = [owner, "period_kind", "period", "region_code", "minutes", "records"]
        ledger = union_all(*_computed(owner)).subquery()
        from_ledger = select(*[ledger.c[c] for c in columns])
        stored = select(*[table.c[c] for c in columns])
        found[model.__tablename__] = count_rows(session, except_(from_ledger, stored)) + count_rows(
            session, except_(stored, from_ledger)
        )
    return found


def count_rows(session: Session, compound: Any) -> int:
    return int(session.execute(select(func.count()).select_from(compound.subquery())).scalar_one())
