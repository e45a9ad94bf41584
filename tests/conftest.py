"""Test databases and the HTTP client.

Every database test runs twice: on SQLite and on PostgreSQL. Each backend's database is built
once per run with the real migrations; each test runs inside a transaction that is rolled back,
and the app's own commits become savepoints inside it. Tests that need real commits (concurrency)
use `fresh_postgres`, a new migrated database of their own.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.common.crypto import SensitiveCodec
from app.config import Environment, Settings
from app.db import make_engine
from app.main import create_app
from tests.factories import Factory

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("DIANDAN_REQUIRE_POSTGRES") == "1"


def settings_for(url: str, **overrides: object) -> Settings:
    # Leaderboard pages are not kept between requests: tests read what they just wrote (the
    # cache has a test of its own).
    values: dict[str, object] = {"leaderboard_cache_seconds": 0, **overrides}
    return Settings(env=Environment.TEST, database_url=url, **values)  # type: ignore[arg-type]


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    return config


def load_migration(slug: str) -> ModuleType:
    """A migration script as a module (`*_<slug>.py`), to run its parts on a test database."""
    folder = alembic_config().get_main_option("script_location") or "migrations"
    path = next(Path(folder, "versions").glob(f"*_{slug}.py"))
    spec = importlib.util.spec_from_file_location(slug, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def migrate(engine: Engine, revision: str = "head", *, down: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)


def offline_http_client() -> httpx.Client:
    """Every outside call fails loudly unless a test brings its own transport."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected outside call: {request.method} {request.url}")

    return httpx.Client(transport=httpx.MockTransport(refuse))


@dataclass
class Backend:
    name: str
    url: str
    engine: Engine


def _admin_engine() -> Engine:
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def create_postgres_database() -> str:
    """A new empty database; skips (or, in CI, fails) when PostgreSQL is unreachable."""
    name = f"diandan_test_{secrets.token_hex(4)}"
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        reason = f"PostgreSQL unreachable at {POSTGRES_URL}: {type(exc).__name__}"
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (DIANDAN_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    finally:
        admin.dispose()
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rpartition("/")[2]
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = create_postgres_database()
    engine = make_engine(settings_for(url))
    try:
        migrate(engine)
        yield Backend(request.param, url, engine)
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_postgres_database(url)


@pytest.fixture
def fresh_postgres() -> Iterator[Backend]:
    """A migrated PostgreSQL database of the test's own, for tests that need real commits."""
    url = create_postgres_database()
    engine = make_engine(settings_for(url))
    try:
        migrate(engine)
        yield Backend("postgresql", url, engine)
    finally:
        engine.dispose()
        drop_postgres_database(url)


@pytest.fixture
def live_app(fresh_postgres: Backend) -> Iterator[FastAPI]:
    """The real app on a PostgreSQL database of its own: real commits, real concurrency."""
    application = create_app(settings_for(fresh_postgres.url), http_client=offline_http_client())
    try:
        yield application
    finally:
        application.state.engine.dispose()


@pytest.fixture
def connection(backend: Backend) -> Iterator[Connection]:
    with backend.engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


def _savepoint_sessions(
    connection: Connection, info: dict[str, object] | None = None
) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection,
        class_=Session,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
        info=info or {},
    )


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return settings_for(backend.url)


@pytest.fixture
def app(settings: Settings, connection: Connection) -> FastAPI:
    application = create_app(settings, http_client=offline_http_client())
    # The app's own session info comes along: requests share its reference cache, as served.
    served = application.state.sessionmaker.kw.get("info")
    application.state.sessionmaker = _savepoint_sessions(connection, served)
    return application


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    session = _savepoint_sessions(connection)()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def make(db: Session, settings: Settings) -> Factory:
    return Factory(session=db, settings=settings, codec=SensitiveCodec(settings.data_key_value))
