"""Sign-ups at once on PostgreSQL: never more than the capacity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.activities.models import Activity, ActivitySignup
from app.auth.security import issue_access_token
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.main import create_app
from tests.conftest import Backend, offline_http_client, settings_for
from tests.factories import Factory
from tests.rendezvous import Rendezvous, statuses, together

pytestmark = pytest.mark.postgres
AFTER_AUTH = "FROM team_member WHERE team_member.volunteer_id ="


@pytest.fixture
def live(fresh_postgres: Backend) -> Iterator[FastAPI]:
    app = create_app(settings_for(fresh_postgres.url), http_client=offline_http_client())
    try:
        yield app
    finally:
        app.state.engine.dispose()


def test_concurrent_sign_ups_fill_the_places_and_no_more(
    live: FastAPI, fresh_postgres: Backend
) -> None:
    settings = live.state.settings
    with Session(fresh_postgres.engine, expire_on_commit=False) as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        world = make.world("140802000000")
        people = [make.volunteer(world.village) for _ in range(6)]
        for volunteer in people:
            make.member(world.team, volunteer)
        now = utcnow()
        activity = Activity(
            team_id=world.team.id, region_code=world.village, title="环境整治",
            category_code="care", place="村口", starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2), signup_deadline=now + timedelta(hours=1),
            capacity=3, created_by_id=world.leader.id,
        )  # fmt: skip
        session.add(activity)
        session.commit()

    def sign_up(user_id: object) -> Callable[[], httpx.Response]:
        token, _ = issue_access_token(user_id, settings)  # type: ignore[arg-type]

        def call() -> httpx.Response:
            response: httpx.Response = TestClient(live).post(
                f"/api/v1/activities/{activity.id}/signups",
                headers={"Authorization": f"Bearer {token}"},
            )
            return response

        return call

    with Rendezvous(live.state.engine, 6, AFTER_AUTH):
        responses = together([sign_up(v.user_id) for v in people])
    assert statuses(responses) == {201: 3, 409: 3}, [r.text for r in responses]
    with Session(fresh_postgres.engine) as session:
        stored = session.get(Activity, activity.id)
        assert stored is not None
        assert stored.signed_up == 3
        count = session.exec(
            select(func.count()).where(ActivitySignup.activity_id == activity.id)
        ).one()
        assert count == 3
