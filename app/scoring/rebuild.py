"""Every period total as the ledgers say (`computed`), to rebuild the totals (`recompute`) or to
count where the stored ones differ (`mismatches`): the hours part from the service records
(`totals.hours_computed`), the points and ratings part from the points ledger and the ratings
(`score_totals.score_computed`), summed per row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, literal, select, union_all
from sqlmodel import Session, SQLModel

from app.scoring.score_totals import score_computed
from app.scoring.totals import COUNTERS, OWNERS, count_rows, hours_computed

KEYS = ("period_kind", "period", "region_code")


def computed(session: Session, owner: str) -> Any:
    """Every row of the owner's totals table, from the ledgers."""
    hours = union_all(*hours_computed(owner)).subquery()
    score = score_computed(session, owner).subquery()

    def zero(name: str) -> Any:
        return literal(0).label(name)

    moved = union_all(
        select(hours.c[owner], *(hours.c[k] for k in KEYS), hours.c.minutes, hours.c.records,
               zero("points"), zero("rating_sum"), zero("rating_count")),
        select(score.c[owner], *(score.c[k] for k in KEYS), zero("minutes"), zero("records"),
               score.c.points, score.c.rating_sum, score.c.rating_count),
    ).subquery()  # fmt: skip
    groups = [moved.c[owner], *(moved.c[k] for k in KEYS)]
    return select(*groups, *(func.sum(moved.c[name]).label(name) for name in COUNTERS)).group_by(
        *groups
    )


def recompute(session: Session) -> dict[str, int]:
    """Throw the totals away and rebuild them from the ledgers. Flushes; the caller commits."""
    counts = {}
    for owner, model in OWNERS:
        table = SQLModel.metadata.tables[str(model.__tablename__)]
        session.execute(delete(model))
        session.execute(
            table.insert().from_select([owner, *KEYS, *COUNTERS], computed(session, owner))
        )
        counts[table.name] = session.execute(select(func.count()).select_from(table)).scalar_one()
    return counts


def mismatches(session: Session) -> dict[str, int]:
    """How many totals differ from the ledgers, per table (rows missing on either side too)."""
    found = {}
    for owner, model in OWNERS:
        table = SQLModel.metadata.tables[str(model.__tablename__)]
        columns = [owner, *KEYS, *COUNTERS]
        ledger = computed(session, owner).subquery()
        from_ledger = select(*(ledger.c[c] for c in columns))
        stored = select(*(table.c[c] for c in columns))
        found[table.name] = count_rows(session, from_ledger.except_(stored)) + count_rows(
            session, stored.except_(from_ledger)
        )
    return found
