"""Placing an order reads the category's rules and the reviewing site from a short-lived cache:
a change made in this process shows at once; one made elsewhere within the cache's lifetime."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col

from app.catalog.models import Category
from app.common.refcache import ReferenceCache, invalidate_all
from app.orders.models import Order
from tests.factories import Factory
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


def test_the_cache_stays_bounded() -> None:
    cache = ReferenceCache(60.0, max_entries=3)
    for key in range(10):
        cache.get(key, lambda: "x")
    assert len(cache._entries) <= 3


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
    """What another web process changed: a statement on the connection, below the session,
    which no hook of ours sees."""
    assert ow.place()["status"] == "pending_review"
    db.connection().execute(
        update(Category).where(col(Category.code) == "care").values(auto_approve=True)
    )
    assert ow.place()["status"] == "pending_review"  # still the cached rules
    invalidate_all()  # as the lifetime running out would
    assert ow.place()["status"] == "unassigned"


def test_an_update_statement_through_a_session_of_this_process_applies_at_once(
    ow: OrderWorld, db: Session
) -> None:
    assert ow.place()["status"] == "pending_review"
    db.execute(update(Category).where(col(Category.code) == "care").values(auto_approve=True))
    assert ow.place()["status"] == "unassigned"


def test_a_site_opened_in_this_process_reviews_the_next_order(
    ow: OrderWorld, make: Factory, db: Session
) -> None:
    """The sites are remembered as one map: a new station takes its village's orders at once."""
    village = ow.world.village[:9] + "201"  # same township, no station yet
    make.region(village)
    township_site = make.site(ow.world.village[:9] + "000")
    first = ow.place(region_code=village)
    assert _review_site(db, first["id"]) == township_site.id
    station = make.site(village)
    second = ow.place(region_code=village)
    assert _review_site(db, second["id"]) == station.id


def test_an_unknown_region_is_refused_every_time(ow: OrderWorld, client: TestClient) -> None:
    for _ in range(2):
        response = client.post(
            "/api/v1/orders",
            json={
                "category_code": "care",
                "title": "帮独居老人买药",
                "region_code": ow.world.village[:9] + "999",
                "location": {"lat": 35.051, "lng": 110.912, "coord_system": "wgs84"},
                "contact_name": "张大爷",
                "contact_phone": "13912345678",
            },
            headers=ow.as_(ow.world.resident),
        )
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "region_not_found"


def _review_site(db: Session, order_id: str) -> uuid.UUID:
    db.expire_all()
    order = db.get(Order, uuid.UUID(order_id))
    assert order is not None
    return order.review_site_id


def test_every_table_a_cache_depends_on_exists() -> None:
    import app.models  # noqa: F401  (every table)
    from app.common.refcache import Generation
    from app.db import metadata

    for generation in Generation.all():
        assert generation.tables <= set(metadata.tables), generation.name
