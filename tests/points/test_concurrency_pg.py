"""Concurrent redemptions on PostgreSQL: never overspent, never oversold."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func
from sqlmodel import Session, select

from app.common.crypto import SensitiveCodec
from app.points import service
from app.points.models import PointsBalance, PointsEntry, RewardItem
from tests.conftest import Backend
from tests.factories import Factory
from tests.rendezvous import AT_BEGIN, Rendezvous, request_as, statuses, together

pytestmark = pytest.mark.postgres


def test_concurrent_redemptions_never_overspend(live_app: FastAPI, fresh_postgres: Backend) -> None:
    live = live_app
    settings = live.state.settings
    with Session(fresh_postgres.engine, expire_on_commit=False) as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        world = make.world("140802000000")
        volunteer = world.member_volunteer
        service.adjust(session, volunteer.id, 25, reason="初始", actor_id=world.center_admin.id)
        item = RewardItem(name="书", points=10, stock=100, region_code=world.county,
                          created_by_id=world.center_admin.id)  # fmt: skip
        scarce = RewardItem(name="票", points=1, stock=2, region_code=world.county,
                            created_by_id=world.center_admin.id)  # fmt: skip
        session.add_all([item, scarce])
        session.commit()

    def buy(item_id: object) -> Callable[[], httpx.Response]:
        body = {"item_id": str(item_id)}
        return request_as(live, world.member.id, "POST", "/api/v1/redemptions", body)

    with Rendezvous(live.state.engine, 5, AT_BEGIN):
        spent = together([buy(item.id) for _ in range(5)])
    assert statuses(spent) == {201: 2, 409: 3}, [r.text for r in spent]
    with Rendezvous(live.state.engine, 4, AT_BEGIN):
        sold = together([buy(scarce.id) for _ in range(4)])
    assert statuses(sold) == {201: 2, 409: 2}, [r.text for r in sold]

    with Session(fresh_postgres.engine) as session:
        balance = session.get(PointsBalance, volunteer.id)
        total = session.exec(
            select(func.sum(PointsEntry.delta)).where(PointsEntry.volunteer_id == volunteer.id)
        ).one()
        assert balance is not None
        assert balance.balance == total == 25 - 20 - 2
        assert session.get(RewardItem, scarce.id).stock == 0  # type: ignore[union-attr]
        assert session.get(RewardItem, item.id).stock == 98  # type: ignore[union-attr]


def test_concurrent_retries_with_one_key_spend_once(
    live_app: FastAPI, fresh_postgres: Backend
) -> None:
    """The same redemption sent four times at once with one Idempotency-Key: one spends, the
    others are told it is in flight (409) or, if it has finished, get its answer replayed."""
    from fastapi.testclient import TestClient

    from app.auth.security import issue_access_token

    live = live_app
    settings = live.state.settings
    with Session(fresh_postgres.engine, expire_on_commit=False) as session:
        make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
        world = make.world("140802000000")
        volunteer = world.member_volunteer
        service.adjust(session, volunteer.id, 35, reason="初始", actor_id=world.center_admin.id)
        item = RewardItem(name="书", points=10, stock=100, region_code=world.county,
                          created_by_id=world.center_admin.id)  # fmt: skip
        session.add(item)
        session.commit()
    token, _ = issue_access_token(world.member.id, settings)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "same-tap"}

    def buy() -> httpx.Response:
        response: httpx.Response = TestClient(live).post(
            "/api/v1/redemptions", json={"item_id": str(item.id)}, headers=headers
        )
        return response

    with Rendezvous(live.state.engine, 4, AT_BEGIN):
        answers = together([buy for _ in range(4)])
    assert set(statuses(answers)) <= {201, 409}, [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} <= {"idempotency_in_flight"}
    assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
    with Session(fresh_postgres.engine) as session:
        total = session.exec(
            select(func.sum(PointsEntry.delta)).where(PointsEntry.volunteer_id == volunteer.id)
        ).one()
        assert total == 35 - 10
        assert session.get(RewardItem, item.id).stock == 99  # type: ignore[union-attr]
