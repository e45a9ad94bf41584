"""Placing an order reads the category's rules and the reviewing site from a short-lived cache:
a change made in this process shows at once; one made elsewhere within the cache's lifetime."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col

from app.catalog.models import Category
from app.common.refcache import ReferenceCache, invalidate_all
from tests.orders.conftest import OrderWorld


def test_entries_expire_after_their_lifetime() -> None:
    now = [100.0]
    cache = ReferenceCache(5.0, clock=lambda: now[0])
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert cache.get("k", load) == 1
    now[0] += 4.9
    assert cache.get("k", load) == 1
    now[0] += 0.2
    assert cache.get("k", load) == 2


def test_a_flush_anywhere_in_the_process_drops_every_entry() -> None:
    cache = ReferenceCache(60.0)
    assert cache.get("k", lambda: "old") == "old"
    invalidate_all()
    assert cache.get("k", lambda: "new") == "new"


def test_a_zero_lifetime_caches_nothing() -> None:
    cache = ReferenceCache(0.0)
    assert cache.get("k", lambda: 1) == 1
    assert cache.get("k", lambda: 2) == 2


def test_deactivating_a_category_through_the_api_applies_to_the_next_order(
    ow: OrderWorld, client: TestClient
) -> None:
    ow.place()  # the category's rules are cached now
    admin = ow.make.platform_admin()
    response = client.patch(
        "/api/v1/categories/care", json={"active": False}, headers=ow.as_(admin)
    )
    assert response.status_code == 200, response.text
    refused = client.post(
        "/api/v1/orders",
        json={
            "category_code": "care",
            "title": "帮独居老人买药",
            "region_code": ow.world.village,
            "location": {"lat": 35.051, "lng": 110.912, "coord_system": "wgs84"},
            "contact_name": "张大爷",
            "contact_phone": "13912345678",
        },
        headers=ow.as_(ow.world.resident),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "unknown_category"


def test_a_change_no_flush_of_this_process_saw_waits_for_the_lifetime(
    ow: OrderWorld, db: Session
) -> None:
    """What another web process changed: a Core update, which no flush hook of ours sees."""
    assert ow.place()["status"] == "pending_review"
    db.execute(update(Category).where(col(Category.code) == "care").values(auto_approve=True))
    db.flush()
    assert ow.place()["status"] == "pending_review"  # still the cached rules
    invalidate_all()  # as the lifetime running out would
    assert ow.place()["status"] == "unassigned"
