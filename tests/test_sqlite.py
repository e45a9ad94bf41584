"""SQLite is set up for concurrent use: WAL, busy timeout, foreign keys, write lock up front."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.db import make_engine, make_sessionmaker, open_session
from tests.conftest import settings_for


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    path = tmp_path / "lock.db"
    engine = make_engine(settings_for(f"sqlite:///{path}"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield path, engine
    engine.dispose()


def test_pragmas(sqlite_file: tuple[Path, Engine]) -> None:
    _, engine = sqlite_file
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000


def _other_writer_can_begin(path: Path) -> bool:
    raw = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        raw.close()
    return True


def test_write_sessions_take_the_write_lock_before_any_statement(
    sqlite_file: tuple[Path, Engine],
) -> None:
    path, engine = sqlite_file
    factory = make_sessionmaker(engine)
    reader = open_session(factory, write=False)
    reader.execute(text("SELECT count(*) FROM t"))
    assert _other_writer_can_begin(path), "a read transaction must not block writers"
    reader.close()

    writer = open_session(factory, write=True)
    assert not _other_writer_can_begin(path), "a write session holds the lock from its start"
    writer.rollback()
    writer.close()
    assert _other_writer_can_begin(path)
