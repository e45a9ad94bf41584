"""Alembic is the only way the schema changes: migrations and models must agree, both ways."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

import app.models  # noqa: F401  (registers every table)
from app.db import make_engine, metadata
from tests.conftest import (
    ROOT,
    alembic_config,
    create_postgres_database,
    drop_postgres_database,
    migrate,
    settings_for,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = create_postgres_database()
    engine = make_engine(settings_for(url))
    try:
        yield engine
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_postgres_database(url)


def _schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_upgrade_downgrade_upgrade_and_models_match(empty_engine: Engine) -> None:
    migrate(empty_engine)
    assert _schema_diff(empty_engine) == [], "models and migrations disagree: add a migration"
    tables = set(inspect(empty_engine).get_table_names())
    assert set(metadata.tables) <= tables

    migrate(empty_engine, "base", down=True)
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}

    migrate(empty_engine)
    assert _schema_diff(empty_engine) == []


def test_one_head_and_dated_file_names() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1
    for revision in scripts.walk_revisions():
        assert revision.path is not None
        name = Path(revision.path).name
        assert name[:8].isdigit(), f"{name}: use the date-time-slug file name"
        assert name[8] == "_", f"{name}: use the date-time-slug file name"


def test_sqlite_tables_that_rows_refer_to_can_be_rebuilt(tmp_path: Path) -> None:
    """`alembic upgrade` on a demo database holding a record and its points: the batch
    migration after it rebuilds `service_record`, which SQLite refuses while foreign keys are
    enforced (`migrations/env.py` turns them off while migrating and checks them after)."""
    db = tmp_path / "demo.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "DIANDAN_ENV": "development"}
    alembic = [str(Path(sys.executable).parent / "alembic")]

    def run(*args: str) -> None:
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        assert done.returncode == 0, done.stderr[-2000:]

    run(*alembic, "upgrade", "95e216446c81")
    run(sys.executable, "-m", "app.demo")
    with sqlite3.connect(db) as conn:
        volunteer, user = conn.execute("SELECT id, user_id FROM volunteer LIMIT 1").fetchone()
        team = conn.execute("SELECT id FROM team LIMIT 1").fetchone()[0]
        region = conn.execute("SELECT code FROM region LIMIT 1").fetchone()[0]
        record = uuid.uuid4().hex
        conn.execute(
            "INSERT INTO service_record (id, volunteer_id, team_id, category_code, region_code, "
            "service_date, minutes, content, recorded_by_id, created_at, source, place, reason) "
            "VALUES (?, ?, ?, 'care', ?, '2026-11-01', 60, '', ?, '2026-11-01 08:00:00', "
            "'manual', '', '')",
            (record, volunteer, team, region, user),
        )
        conn.execute(
            "INSERT INTO points_entry (id, volunteer_id, delta, kind, reason, record_id, "
            "created_at) VALUES (?, ?, 9, 'earn', '', ?, '2026-11-01 08:00:00')",
            (uuid.uuid4().hex, volunteer, record),
        )
    run(*alembic, "upgrade", "head")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM service_record").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM points_entry").fetchone() == (1,)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
