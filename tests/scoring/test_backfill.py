"""The migrations that built the points and rating totals write their own SQL (migrations do not
import app code): on real data, the first one's backfill and the later merge of its tables into
the hours totals must end where `rebuild.recompute` does."""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import update
from sqlmodel import Session

from app.scoring import rebuild
from app.scoring.models import TeamTotal, VolunteerTotal
from tests.conftest import load_migration
from tests.factories import World


def test_the_backfill_and_the_merge_compute_what_the_recompute_does(
    boards: tuple[World, World], db: Session
) -> None:
    for model in (VolunteerTotal, TeamTotal):
        db.execute(update(model).values(points=0, rating_sum=0, rating_count=0))
    assert rebuild.mismatches(db)["volunteer_total"] > 0
    with Operations.context(MigrationContext.configure(db.connection())):
        load_migration("boards_score_totals").upgrade()  # the score tables, filled from the ledgers
        load_migration("merged_period_totals").merge_score_tables()
    assert rebuild.mismatches(db) == {"volunteer_total": 0, "team_total": 0}
