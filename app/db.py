"""Engine, session and the SQLite settings that make it safe for concurrent use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, SQLModel

import app.common  # noqa: F401  (sets the naming convention)
from app.common.refcache import PRINCIPALS, TEAMS, ReferenceCache
from app.config import Settings

metadata: MetaData = SQLModel.metadata

# Connection execution option that asks SQLite for `BEGIN IMMEDIATE`: a write transaction takes
# the write lock up front, so a read-then-write never fails with SQLITE_BUSY half-way.
SQLITE_IMMEDIATE = "diandan_sqlite_immediate"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size, pool_pre_ping=True
    )


def make_sessionmaker(
    engine: Engine, *, reference_ttl: float = 0.0, principal_ttl: float = 0.0
) -> sessionmaker[Session]:
    """A TTL > 0: the factory's sessions share those caches (`app.common.refcache`): reference
    rows and teams' regions (`reference_cache`, `team_cache`); signed-in callers
    (`principal_cache`)."""
    info: dict[str, ReferenceCache] = {}
    if reference_ttl > 0:
        info["reference_cache"] = ReferenceCache(reference_ttl)
        info["team_cache"] = ReferenceCache(reference_ttl, max_entries=50_000, generation=TEAMS)
    if principal_ttl > 0:
        info["principal_cache"] = ReferenceCache(
            principal_ttl, max_entries=50_000, generation=PRINCIPALS
        )
    return sessionmaker(
        bind=engine, class_=Session, expire_on_commit=False, autoflush=True, info=info
    )


def open_session(factory: sessionmaker[Session], *, write: bool) -> Session:
    """A session whose first statement begins a write (IMMEDIATE on SQLite) or read transaction."""
    session = factory()
    if write:
        session.connection(execution_options={SQLITE_IMMEDIATE: True})
    return session


def get_session(request: Request) -> Iterator[Session]:
    """One session per request. Routes commit explicitly, once, before they answer."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    session = open_session(factory, write=write)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


DbSession = Annotated[Session, Depends(get_session)]


@event.listens_for(Session, "after_flush")
def _report_changes(session: Session, _flush_context: Any) -> None:
    """Every flush of every session reports its changes to the feed (`app.sync.capture`)."""
    from app.sync.capture import capture  # imported late: it imports the domain models

    capture(session, session.new, session.dirty, session.deleted)
