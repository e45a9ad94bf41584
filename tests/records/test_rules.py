"""The ledger's rules on times: voided records free their times, no future times, the date is the
China date of the start; order records take China's date; append-only on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from app.common.clock import utcnow
from app.orders import service as order_service
from app.records.ledger import china_today
from app.records.models import ServiceRecord
from app.scoring.models import VolunteerTotal
from tests.conftest import Backend
from tests.factories import Factory
from tests.records.conftest import OrderWorld
from tests.records.test_ledger import DAY, entry, post, totals


def at(day: Any, hour: int, minute: int = 0) -> str:
    """An instant in UTC on `day`, ISO formatted."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTC).isoformat()


def test_a_voided_record_no_longer_blocks_its_times(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    timed = entry(w, hours=2, started_at=at(DAY, 1), ended_at=at(DAY, 3))
    first = post(client, make, w.leader, timed)
    assert first.status_code == 201, first.text
    clash = post(client, make, w.leader, timed)
    assert clash.status_code == 422
    assert clash.json()["code"] == "overlapping_times"
    void = client.post(
        f"/api/v1/records/{first.json()['id']}/amendments",
        json={"reason": "录错了人", "hours": 0},
        headers=make.headers(w.leader),
    )
    assert void.status_code == 201, void.text
    again = post(client, make, w.leader, timed)
    assert again.status_code == 201, again.text
    assert totals(db, w) == 120
    # Only reduced, not voided: the times still count.
    reduced = client.post(
        f"/api/v1/records/{again.json()['id']}/amendments",
        json={"reason": "实际一小时", "hours": 1},
        headers=make.headers(w.leader),
    )
    assert reduced.status_code == 201, reduced.text
    still = post(client, make, w.leader, dict(timed, started_at=at(DAY, 2), hours=1))
    assert still.status_code == 422
    assert still.json()["code"] == "overlapping_times"


def test_future_times_and_dates_that_disagree_with_the_start_are_refused(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    now = utcnow()
    today = china_today(now)
    soon = entry(
        w,
        service_date=today.isoformat(),
        hours=1,
        started_at=(now + timedelta(minutes=5)).isoformat(),
        ended_at=(now + timedelta(minutes=65)).isoformat(),
    )
    running = dict(
        soon,
        started_at=(now - timedelta(minutes=30)).isoformat(),
        ended_at=(now + timedelta(minutes=30)).isoformat(),
        hours=0.5,
    )
    late_evening = entry(w, hours=1, started_at=at(DAY, 20), ended_at=at(DAY, 21))  # DAY+1 China
    one_sided = entry(w, hours=1, started_at=at(DAY, 1))
    for body, code in (
        (soon, "future_times"),
        (running, "future_times"),
        (late_evening, "date_mismatch"),
        (one_sided, "incomplete_times"),
    ):
        response = post(client, make, w.leader, body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
    assert totals(db, w) == 0
    # 17:00 UTC the day before is 01:00 in China on DAY: that is DAY's record.
    early = post(
        client,
        make,
        w.leader,
        entry(
            w,
            hours=1,
            started_at=at(DAY - timedelta(days=1), 17),
            ended_at=at(DAY - timedelta(days=1), 18),
        ),
    )
    assert early.status_code == 201, early.text
    assert early.json()["service_date"] == DAY.isoformat()


def test_an_order_completed_late_in_the_utc_evening_is_recorded_on_chinas_date(
    ow: OrderWorld, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """23:30 UTC is 07:30 the next morning in China: the record is that day's."""
    utc_day = utcnow().date() - timedelta(days=1)
    completed = datetime.combine(utc_day, time(23, 30), tzinfo=UTC)
    monkeypatch.setattr(order_service, "utcnow", lambda: completed)
    order = ow.completed(hours=1.5)
    db.expire_all()
    [record] = db.exec(
        select(ServiceRecord).where(ServiceRecord.order_id == uuid.UUID(order["id"]))
    ).all()
    assert record.service_date == utc_day + timedelta(days=1)
    month = db.exec(
        select(VolunteerTotal).where(
            VolunteerTotal.volunteer_id == ow.world.member_volunteer.id,
            VolunteerTotal.period_kind == "month",
        )
    ).one()
    next_day = utc_day + timedelta(days=1)
    assert month.period == next_day.year * 100 + next_day.month


def test_records_cannot_be_updated_or_deleted_behind_the_ledger_on_postgresql(
    backend: Backend, ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    if backend.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    w = ow.world
    record = post(client, make, w.leader, entry(w)).json()
    for statement in (
        "UPDATE service_record SET minutes = 600 WHERE id = :id",
        "UPDATE service_record SET content = 'x' WHERE id = :id",
        "DELETE FROM service_record WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
            db.execute(text(statement), {"id": uuid.UUID(record["id"])})
    db.expire_all()
    row = db.get(ServiceRecord, uuid.UUID(record["id"]))
    assert row is not None
    assert (row.minutes, row.content) == (150, "入户探访独居老人")
