"""Password sign-in locks a username out after `login_max_failures` wrong passwords within
`login_lockout_minutes`, whether the name exists or not; a successful sign-in clears the count."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, select

from app.accounts.models import LoginFailure
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from tests.auth.conftest import problem
from tests.auth.test_password_login import login
from tests.conftest import Backend
from tests.factories import PASSWORD, Factory
from tests.rendezvous import statuses, together


def _fail(client: TestClient, username: str, times: int) -> None:
    for _ in range(times):
        problem(login(client, username, "not the password"), 401, "bad_credentials")


def test_too_many_wrong_passwords_lock_the_username_out(
    client: TestClient, make: Factory, settings: Settings
) -> None:
    make.user("locked")
    make.user("bystander")
    _fail(client, "locked", settings.login_max_failures)
    refused = login(client, "locked", PASSWORD)  # even the right password, while locked
    problem(refused, 429, "too_many_login_failures")
    wait = int(refused.headers["retry-after"])
    assert 0 < wait <= settings.login_lockout_minutes * 60
    assert login(client, "bystander", PASSWORD).status_code == 200  # others sign in as before


def test_an_unknown_username_locks_the_same_way(client: TestClient, settings: Settings) -> None:
    """Refusals tell nothing of which names exist."""
    _fail(client, "nobody-here", settings.login_max_failures)
    problem(login(client, "nobody-here", "anything"), 429, "too_many_login_failures")


def test_a_successful_sign_in_clears_the_failures(
    client: TestClient, make: Factory, settings: Settings
) -> None:
    make.user("forgetful")
    _fail(client, "forgetful", settings.login_max_failures - 1)
    assert login(client, "forgetful", PASSWORD).status_code == 200
    _fail(client, "forgetful", settings.login_max_failures - 1)  # counted afresh: still 401s
    assert login(client, "forgetful", PASSWORD).status_code == 200


def test_the_lockout_ends_when_the_failures_age_out(
    client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    make.user("patient")
    _fail(client, "patient", settings.login_max_failures)
    problem(login(client, "patient", PASSWORD), 429, "too_many_login_failures")
    db.execute(
        update(LoginFailure).values(
            at=utcnow() - timedelta(minutes=settings.login_lockout_minutes, seconds=1)
        )
    )
    db.flush()
    assert login(client, "patient", PASSWORD).status_code == 200


def test_failures_older_than_the_window_are_purged(
    client: TestClient, settings: Settings, db: Session
) -> None:
    _fail(client, "sprayed-1", 2)
    db.execute(
        update(LoginFailure).values(
            at=utcnow() - timedelta(minutes=settings.login_lockout_minutes, seconds=1)
        )
    )
    db.flush()
    _fail(client, "sprayed-2", 1)
    db.expire_all()
    assert len(db.exec(select(LoginFailure.id)).all()) == 1


@pytest.mark.postgres
def test_parallel_guesses_get_no_more_tries_than_serial_ones(
    live_app: FastAPI, fresh_postgres: Backend
) -> None:
    settings = live_app.state.settings
    with Session(fresh_postgres.engine, expire_on_commit=False) as session:
        Factory(session, settings, SensitiveCodec(settings.data_key_value)).user("target")
        session.commit()
    guesses = settings.login_max_failures + 6

    def guess(i: int) -> httpx.Response:
        with TestClient(live_app) as client:
            response: httpx.Response = login(client, "target", f"guess {i}")
            return response

    responses = together([partial(guess, i) for i in range(guesses)])
    assert statuses(responses) == {401: settings.login_max_failures, 429: 6}
    with Session(fresh_postgres.engine) as session:
        assert len(session.exec(select(LoginFailure.id)).all()) == settings.login_max_failures
