"""Concurrent records on PostgreSQL: the daily limit holds and no total loses an update."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from app.common.crypto import SensitiveCodec
from app.scoring import score_totals
from app.scoring.models import TeamTotal, VolunteerTotal
from app.scoring.rebuild import mismatches
from tests.conftest import Backend
from tests.factories import Factory
from tests.records.test_ledger import DAY
from tests.rendezvous import AT_BEGIN, Rendezvous, request_as, statuses, together

pytestmark = pytest.mark.postgres


def test_the_daily_limit_and_the_totals_hold_under_concurrent_entries(
    live_app: FastAPI, fresh_postgres: Backend
) -> None:
    settings = live_app.state.settings
    with Session(fresh_postgres.engine, expire_on_commit=False) as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        world = make.world("140802000000")
        helpers = [make.volunteer(world.village) for _ in range(5)]
        for volunteer in helpers:
            make.member(world.team, volunteer)
        session.commit()

    def record(volunteer_id: object, hours: float) -> Callable[[], httpx.Response]:
        body = {
            "volunteer_id": str(volunteer_id),
            "team_id": str(world.team.id),
            "category_code": "care",
            "service_date": DAY.isoformat(),
            "hours": hours,
            "content": "社区值守",
        }
        return request_as(live_app, world.leader.id, "POST", "/api/v1/records", body)

    engine = live_app.state.engine
    with Rendezvous(engine, 4, AT_BEGIN):
        same_day = together([record(world.member_volunteer.id, 7) for _ in range(4)])
    assert statuses(same_day) == {201: 3, 422: 1}, [r.text for r in same_day]
    [refused] = [r for r in same_day if r.status_code == 422]
    assert refused.json()["code"] == "day_limit"

    with Rendezvous(engine, 5, AT_BEGIN):
        many = together([record(v.id, 1.5) for v in helpers])
    assert statuses(many) == {201: 5}, [r.text for r in many]

    with Session(fresh_postgres.engine) as session:
        member_all = session.exec(
            select(VolunteerTotal.minutes).where(
                VolunteerTotal.volunteer_id == world.member_volunteer.id,
                VolunteerTotal.period_kind == "all",
            )
        ).one()
        team_all = session.exec(
            select(TeamTotal.minutes).where(
                TeamTotal.team_id == world.team.id, TeamTotal.period_kind == "all"
            )
        ).one()
        assert member_all == 21 * 60
        assert team_all == 21 * 60 + 5 * 90
        # hours and points totals, written with the records in one statement
        assert mismatches(session) == {"volunteer_total": 0, "team_total": 0}
        assert score_totals.balance_mismatches(session) == {"points_balance": 0}
