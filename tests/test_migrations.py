"""Alembic is the only way the schema changes: migrations and models must agree, both ways."""

from __future__ import annotations

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
