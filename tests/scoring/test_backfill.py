"""The score totals migration writes its own SQL (migrations do not import app code): it must
agree with `score_totals.recompute` on real data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import delete
from sqlmodel import Session

from app.scoring import score_totals
from app.scoring.models import TeamScoreTotal, VolunteerScoreTotal
from tests.conftest import alembic_config
from tests.factories import World


def test_the_migration_backfill_computes_what_the_recompute_does(
    boards: tuple[World, World], db: Session
) -> None:
    db.execute(delete(VolunteerScoreTotal))
    db.execute(delete(TeamScoreTotal))
    assert score_totals.mismatches(db)["volunteer_score_total"] > 0
    folder = alembic_config().get_main_option("script_location") or "migrations"
    path = next(Path(folder, "versions").glob("*_boards_score_totals.py"))
    spec = importlib.util.spec_from_file_location("score_totals_migration", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with Operations.context(MigrationContext.configure(db.connection())):
        module._backfill_score_totals()
    assert score_totals.mismatches(db) == {"volunteer_score_total": 0, "team_score_total": 0}
