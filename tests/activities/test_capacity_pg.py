"""Sign-ups at once on PostgreSQL: never more than the capacity."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func
from sqlmodel import Session, select

from app.activities.models import Activity, ActivitySignup
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from tests.conftest import Backend
from tests.factories import Factory
from tests.rendezvous import AT_BEGIN, Rendezvous, request_as, statuses, together

pytestmark = pytest.mark.postgres


def test_concurrent_sign_ups_fill_the_places_and_no_more(
    live_app: FastAPI, fresh_postgres: Backend
) -> None:
    live = live_app
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

    def sign_up(user_id: uuid.UUID) -> Callable[[], httpx.Response]:
        return request_as(live, user_id, "POST", f"/api/v1/activities/{activity.id}/signups")

    with Rendezvous(live.state.engine, 6, AT_BEGIN):
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
