"""Across web processes on PostgreSQL: a committed change to who a caller is reaches every
process's cache by `NOTIFY` (`app/common/refcache_notify.py`), long before the cache lifetime."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.accounts.models import GrantedRole, RoleGrant
from app.common.crypto import SensitiveCodec
from app.common.refcache import CHANNEL, TEAMS
from app.common.refcache_notify import Listener, libpq_dsn
from app.db import make_sessionmaker
from app.main import create_app
from tests.conftest import Backend, offline_http_client, settings_for
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]


def _heard(connection: psycopg.Connection[object]) -> list[str]:
    return [n.payload for n in connection.notifies(timeout=0.5, stop_after=10)]


def test_a_committed_change_is_announced_and_a_rolled_back_one_is_not(
    fresh_postgres: Backend,
) -> None:
    factory = make_sessionmaker(fresh_postgres.engine)
    settings = settings_for(fresh_postgres.url)
    with psycopg.connect(libpq_dsn(fresh_postgres.engine.url), autocommit=True) as listening:
        listening.execute(f"LISTEN {CHANNEL}")
        with factory() as session:
            make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
            make.user("announced")
            session.rollback()
        assert _heard(listening) == []
        with factory() as session:
            make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
            make.user("announced")
            session.commit()
        assert _heard(listening) == ["principals"]


def test_the_listener_moves_the_generation_it_hears(fresh_postgres: Backend) -> None:
    dsn = libpq_dsn(fresh_postgres.engine.url)
    listener = Listener(dsn, poll_seconds=0.1)
    listener.start()
    try:
        assert listener.listening.wait(5)
        before = TEAMS.value
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute(f"NOTIFY {CHANNEL}, 'teams'")
        deadline = time.monotonic() + 5
        while TEAMS.value == before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert TEAMS.value > before
    finally:
        listener.stop()


_REVOKE_ELSEWHERE = textwrap.dedent(
    """
    import sys, uuid
    from sqlalchemy import delete
    from app.accounts.models import RoleGrant
    from app.config import Environment, Settings
    from app.db import make_engine, make_sessionmaker

    engine = make_engine(Settings(env=Environment.TEST, database_url=sys.argv[1]))
    with make_sessionmaker(engine)() as session:
        session.execute(delete(RoleGrant).where(RoleGrant.user_id == uuid.UUID(sys.argv[2])))
        session.commit()
    """
)


def test_a_role_revoked_by_another_process_applies_well_within_the_cache_lifetime(
    fresh_postgres: Backend,
) -> None:
    settings = settings_for(fresh_postgres.url, principal_cache_seconds=300)
    app = create_app(settings, http_client=offline_http_client())
    factory = make_sessionmaker(fresh_postgres.engine)
    with factory() as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        admin = make.platform_admin()
        headers = make.headers(admin)
        session.commit()
    try:
        with TestClient(app) as client:

            def roles() -> list[str]:
                response = client.get("/api/v1/me", headers=headers)
                assert response.status_code == 200, response.text
                found: list[str] = response.json()["roles"]
                return found

            assert "platform_admin" in roles()  # remembered for up to 300 s now
            subprocess.run(  # noqa: S603 (our own interpreter and script)
                [sys.executable, "-c", _REVOKE_ELSEWHERE, fresh_postgres.url, str(admin.id)],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                check=True,
                timeout=60,
            )
            deadline = time.monotonic() + 5
            while "platform_admin" in roles() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "platform_admin" not in roles()
    finally:
        app.state.engine.dispose()
    with factory() as session:
        grants = select(RoleGrant).where(col(RoleGrant.role) == GrantedRole.PLATFORM_ADMIN.value)
        assert session.exec(grants).all() == []
