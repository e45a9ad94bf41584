"""Period totals: kept incrementally as records, points and ratings land (`Tally`), rebuilt from
the ledgers on demand (`app.scoring.rebuild`; the hours part is here, `hours_computed`).

Both ways share `periods_of` (Python) and `period_column` (SQL), so an incremental total and a
recomputed one are the same number by construction; `rebuild.mismatches` proves it on real data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Integer, Table, and_, cast, extract, func, literal, select, union_all
from sqlmodel import Session, SQLModel, col

from app.common.together import Add, Write, write_together
from app.records.models import RecordSource, ServiceRecord
from app.scoring.models import PeriodKind, TeamTotal, VolunteerTotal
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


COUNTERS = ("minutes", "records", "points", "rating_sum", "rating_count")
OWNERS = (("volunteer_id", VolunteerTotal), ("team_id", TeamTotal))
_ADD = {owner: Add((owner, "period_kind", "period"), COUNTERS, ("region_code",))
        for owner, _ in OWNERS}  # fmt: skip


class Tally:
    """What one transaction adds to the period totals, summed per row, to be written as one
    upsert per table: volunteers' rows before teams' rows, each in key order, in every writer,
    so that concurrent transactions lock them in one order. (Points balances, where a writer
    moves them too, are written before the totals.)"""

    def __init__(self) -> None:
        # owner column -> (owner id, kind, period) -> [region or None, *COUNTERS]
        self._rows: dict[str, dict[tuple[uuid.UUID, str, int], list[Any]]] = {
            owner: {} for owner, _ in OWNERS
        }

    def add(
        self,
        owner: str,
        who: uuid.UUID,
        day: date,
        region: str | None = None,
        *,
        minutes: int = 0,
        records: int = 0,
        points: int = 0,
        rating_sum: int = 0,
        rating_count: int = 0,
    ) -> None:
        """Add to `who`'s rows of every period of `day`. `region`: the owner's current region,
        where the caller knows it (`apply` reads the others)."""
        rows = self._rows[owner]
        for kind, period in periods_of(day):
            row = rows.get((who, kind, period))
            if row is None:
                row = rows[who, kind, period] = [region, 0, 0, 0, 0, 0]
            elif region is not None:
                row[0] = region
            row[1] += minutes
            row[2] += records
            row[3] += points
            row[4] += rating_sum
            row[5] += rating_count

    def writes(self) -> list[Write]:
        """The upserts, for a caller that writes them with others (`write_together`); every
        row's region must be known."""
        found: list[Write] = []
        for owner, model in OWNERS:
            rows = []
            for key in sorted(self._rows[owner], key=lambda k: (str(k[0]), k[1], k[2])):
                region, *counts = self._rows[owner][key]
                assert region is not None, "a total's region is unknown"
                row = {owner: key[0], "period_kind": key[1], "period": key[2]}
                row["region_code"] = region
                row.update(zip(COUNTERS, counts, strict=True))
                rows.append(row)
            found.append((model, rows, _ADD[owner]))
        return found

    def apply(self, session: Session) -> None:
        """Write the totals now, reading the regions not given (the owners' current ones)."""
        for owner, home in (("volunteer_id", Volunteer), ("team_id", Team)):
            unknown = [row for row in self._rows[owner].items() if row[1][0] is None]
            if unknown:
                found = session.connection().execute(
                    select(col(home.id), col(home.region_code)).where(
                        col(home.id).in_({key[0] for key, _ in unknown})
                    )
                )
                regions = {who: region for who, region in found.all()}
                for key, row in unknown:
                    row[0] = regions[key[0]]
        write_together(session, self.writes())


@dataclass(frozen=True)
class Movement:
    """One ledger row's effect on the hours totals."""

    volunteer_id: uuid.UUID
    volunteer_region: str
    team_id: uuid.UUID
    team_region: str
    service_date: date
    minutes: int
    records: int  # 1 for a record; an amendment that moves the date moves it (-1 and +1)


def tally_movements(tally: Tally, movements: Iterable[Movement]) -> Tally:
    for m in movements:
        tally.add("volunteer_id", m.volunteer_id, m.service_date, m.volunteer_region,
                  minutes=m.minutes, records=m.records)  # fmt: skip
        tally.add("team_id", m.team_id, m.service_date, m.team_region,
                  minutes=m.minutes, records=m.records)  # fmt: skip
    return tally


def apply(session: Session, movements: Iterable[Movement]) -> None:
    """Add movements to the totals (one upsert per table)."""
    tally_movements(Tally(), movements).apply(session)


def _table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


def move_volunteer(session: Session, volunteer_id: uuid.UUID, region_code: str) -> None:
    """A volunteer who moves takes their history (and their place on boards) with them."""
    session.execute(
        _table(VolunteerTotal)
        .update()
        .where(col(VolunteerTotal.volunteer_id) == volunteer_id)
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


def hours_computed(owner: str) -> list[Any]:
    """Every hours total, as the ledger says: one GROUP BY per period kind (to UNION ALL). A record
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


def count_rows(session: Session, compound: Any) -> int:
    return int(session.execute(select(func.count()).select_from(compound.subquery())).scalar_one())
