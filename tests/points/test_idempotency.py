"""Idempotency-Key on the points writes: a retried redemption or adjustment happens once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.common.clock import utcnow
from app.idempotency.models import IdempotencyRecord
from app.idempotency.service import fingerprint
from app.points.models import PointsEntry, PointsKind, Redemption
from app.points.schemas import RedemptionIn
from tests.factories import Factory
from tests.points.conftest import OrderWorld
from tests.points.test_points import ledger_sum, reward
from tests.records.test_ledger import entry, post


def _redemptions(db: Session) -> int:
    db.expire_all()
    return int(db.exec(select(func.count()).select_from(Redemption)).one())


def _buy(client: TestClient, make: Factory, ow: OrderWorld, body: dict[str, Any], key: str) -> Any:
    headers = {**make.headers(ow.world.member), "Idempotency-Key": key}
    return client.post("/api/v1/redemptions", json=body, headers=headers)


def test_a_retried_redemption_spends_once_and_replays_the_answer(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    post(client, make, w.leader, entry(w, hours=3))  # 30 points
    item = reward(client, make, w, stock=5)
    first = _buy(client, make, ow, {"item_id": item["id"]}, "buy-1")
    second = _buy(client, make, ow, {"item_id": item["id"]}, "buy-1")
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _redemptions(db) == 1
    assert ledger_sum(db, w) == 20
    another = _buy(client, make, ow, {"item_id": item["id"]}, "buy-2")
    assert another.status_code == 201
    assert another.json()["id"] != first.json()["id"]
    assert ledger_sum(db, w) == 10


def test_the_same_key_with_another_body_is_refused(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    post(client, make, w.leader, entry(w, hours=3))
    item = reward(client, make, w, stock=5)
    assert _buy(client, make, ow, {"item_id": item["id"]}, "k").status_code == 201
    other = _buy(client, make, ow, {"item_id": item["id"], "quantity": 2}, "k")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert _redemptions(db) == 1
    assert ledger_sum(db, w) == 20


def test_a_refused_redemption_leaves_the_key_free(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    item = reward(client, make, w, stock=5)
    poor = _buy(client, make, ow, {"item_id": item["id"]}, "later")
    assert (poor.status_code, poor.json()["code"]) == (409, "insufficient_points")
    post(client, make, w.leader, entry(w, hours=3))
    paid = _buy(client, make, ow, {"item_id": item["id"]}, "later")
    assert paid.status_code == 201, paid.text
    assert "Idempotent-Replayed" not in paid.headers
    assert _redemptions(db) == 1


def test_a_redemption_still_running_answers_409(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    post(client, make, w.leader, entry(w, hours=3))
    item = reward(client, make, w, stock=5)
    body = {"item_id": item["id"]}
    now = utcnow()
    record = IdempotencyRecord(
        principal_id=w.member.id,
        key="busy",
        operation="POST /redemptions",
        fingerprint=fingerprint(RedemptionIn.model_validate(body)),
        created_at=now,
        expires_at=now + timedelta(hours=24),
    )
    db.add(record)
    db.flush()
    running = _buy(client, make, ow, body, "busy")
    assert (running.status_code, running.json()["code"]) == (409, "idempotency_in_flight")
    assert _redemptions(db) == 0
    assert ledger_sum(db, w) == 30


def test_a_retried_adjustment_adds_once(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    url = f"/api/v1/volunteers/{w.member_volunteer.id}/points/adjustments"
    headers = {**make.headers(w.station_admin), "Idempotency-Key": "adj-1"}
    body = {"points": 7, "reason": "志愿活动表彰"}
    first = client.post(url, json=body, headers=headers)
    second = client.post(url, json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    changed = client.post(url, json={**body, "points": 8}, headers=headers)
    assert (changed.status_code, changed.json()["code"]) == (422, "idempotency_key_reused")
    db.expire_all()
    adjustments = db.exec(
        select(func.count())
        .select_from(PointsEntry)
        .where(
            PointsEntry.volunteer_id == w.member_volunteer.id,
            PointsEntry.kind == PointsKind.ADJUST.value,
        )
    ).one()
    assert adjustments == 1
    assert ledger_sum(db, w) == 7
