"""Idempotency-Key on POST /orders, after the IETF draft."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.common.clock import utcnow
from app.idempotency.models import IdempotencyRecord
from app.idempotency.service import fingerprint
from app.orders.models import Order
from app.orders.schemas import OrderCreate
from tests.orders.conftest import OrderWorld


def _body(ow: OrderWorld, **overrides: object) -> dict[str, object]:
    return {
        "category_code": "care",
        "title": "帮老人买药",
        "region_code": ow.world.village,
        "contact_name": "张大爷",
        "contact_phone": "13912345678",
        **overrides,
    }


def _orders(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(Order)).one())


def test_a_retry_replays_the_first_answer(ow: OrderWorld, client: TestClient, db: Session) -> None:
    headers = {**ow.as_(ow.world.resident), "Idempotency-Key": "a1b2c3"}
    first = client.post("/api/v1/orders", json=_body(ow), headers=headers)
    second = client.post("/api/v1/orders", json=_body(ow), headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _orders(db) == 1


def test_the_same_key_with_another_body_is_refused(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    headers = {**ow.as_(ow.world.resident), "Idempotency-Key": "k-1"}
    client.post("/api/v1/orders", json=_body(ow), headers=headers)
    other = client.post("/api/v1/orders", json=_body(ow, title="另一件事"), headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert _orders(db) == 1


def test_keys_belong_to_their_caller(ow: OrderWorld, client: TestClient, db: Session) -> None:
    neighbour = ow.make.user(display_name="邻居", home_region=ow.world.village)
    for user in (ow.world.resident, neighbour):
        response = client.post(
            "/api/v1/orders", json=_body(ow), headers={**ow.as_(user), "Idempotency-Key": "same"}
        )
        assert response.status_code == 201
    assert _orders(db) == 2


def test_a_failed_request_leaves_the_key_free(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    headers = {**ow.as_(ow.world.resident), "Idempotency-Key": "retry-me"}
    failed = client.post("/api/v1/orders", json=_body(ow, category_code="nope"), headers=headers)
    assert failed.status_code == 422
    fixed = client.post("/api/v1/orders", json=_body(ow), headers=headers)
    assert fixed.status_code == 201
    assert _orders(db) == 1


def test_a_request_still_running_answers_409_and_a_stale_one_is_taken_over(
    ow: OrderWorld, client: TestClient, db: Session
) -> None:
    body = _body(ow)
    now = utcnow()
    record = IdempotencyRecord(
        principal_id=ow.world.resident.id,
        key="busy",
        operation="POST /orders",
        fingerprint=fingerprint(OrderCreate.model_validate(body)),
        created_at=now,
        expires_at=now + timedelta(hours=24),
    )
    db.add(record)
    db.flush()
    headers = {**ow.as_(ow.world.resident), "Idempotency-Key": "busy"}
    running = client.post("/api/v1/orders", json=body, headers=headers)
    assert (running.status_code, running.json()["code"]) == (409, "idempotency_in_flight")
    record.created_at = now - timedelta(minutes=5)  # its request died long ago
    db.flush()
    taken_over = client.post("/api/v1/orders", json=body, headers=headers)
    assert taken_over.status_code == 201, taken_over.text


def test_an_oversized_key_is_invalid(ow: OrderWorld, client: TestClient) -> None:
    response = client.post(
        "/api/v1/orders",
        json=_body(ow),
        headers={**ow.as_(ow.world.resident), "Idempotency-Key": "k" * 256},
    )
    assert response.status_code == 422
