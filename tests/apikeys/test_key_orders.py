"""Orders placed with an API key (`orders:write`): POST /orders and Open311 POST requests.json,
as the key's account, within the key's region, and refused otherwise."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.apikeys.models import ApiKey
from app.common.clock import utcnow
from app.orders.models import Order
from tests.factories import Factory
from tests.orders.conftest import OrderWorld
from tests.orders.conftest import ow as ow  # the fixture

COUNTY, OTHER = "140802000000", "140803000000"
SIBLING_VILLAGE = "140802100201"
V2 = "/api/v1/open311/v2"


def issue(client: TestClient, make: Factory, scopes: list[str], region: str | None) -> Any:
    body = {"name": "12345热线对接", "scopes": scopes, "region_code": region}
    response = client.post(
        "/api/v1/api-keys", json=body, headers=make.headers(make.platform_admin())
    )
    assert response.status_code == 201, response.text
    return response.json()


def order_body(ow: OrderWorld, **overrides: Any) -> dict[str, Any]:
    return {
        "category_code": "care",
        "title": "帮独居老人买药",
        "address": "曲村3组12号",
        "location": {"lat": 35.051, "lng": 110.912, "coord_system": "wgs84"},
        "region_code": ow.world.village,
        "contact_name": "张大爷",
        "contact_phone": "13912345678",
        **overrides,
    }


def georeport_form(ow: OrderWorld, **overrides: Any) -> dict[str, str]:
    return {
        "service_code": "care",
        "lat": "35.0263",
        "long": "111.0071",
        "region_code": ow.world.village,
        "address_string": "曲村3组12号",
        "description": "独居老人需要帮忙买药",
        "phone": "13912345678",
        **overrides,
    }


def orders_count(db: Session) -> int:
    return db.exec(select(func.count()).select_from(Order)).one()


def key_account(db: Session, key_id: str) -> uuid.UUID:
    stored = db.get(ApiKey, uuid.UUID(key_id))
    assert stored is not None
    return stored.user_id


def test_a_key_places_an_order_as_its_account_on_the_api_channel(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    created = issue(client, make, ["orders:write"], COUNTY)
    headers = {"X-API-Key": created["key"]}
    # A key enters no hotline orders for others: the channel is the integrators' own.
    response = client.post(
        "/api/v1/orders", json=order_body(ow, channel="hotline"), headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "api"
    order = db.get(Order, uuid.UUID(response.json()["id"]))
    assert order is not None
    assert order.requester_id == key_account(db, created["id"])
    assert order.region_code == ow.world.village


def test_a_signed_in_caller_cannot_take_the_api_channel(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    before = orders_count(db)
    response = client.post(
        "/api/v1/orders", json=order_body(ow, channel="api"), headers=ow.as_(ow.world.resident)
    )
    assert response.status_code == 422
    assert response.json()["code"] == "channel_reserved"
    assert orders_count(db) == before


def _spoil(db: Session, key_id: str, how: str, client: TestClient, make: Factory) -> None:
    if how == "revoked":
        admin = make.headers(make.platform_admin())
        assert client.delete(f"/api/v1/api-keys/{key_id}", headers=admin).status_code == 204
    elif how == "expired":
        stored = db.get(ApiKey, uuid.UUID(key_id))
        assert stored is not None
        stored.expires_at = utcnow() - timedelta(seconds=1)
        db.add(stored)
        db.commit()


REFUSALS = [
    pytest.param(["changes:read"], COUNTY, "", 403, "scope_required", id="without the scope"),
    pytest.param(["orders:write"], OTHER, "", 403, "out_of_region", id="other county"),
    pytest.param(["orders:write"], SIBLING_VILLAGE, "", 403, "out_of_region", id="other village"),
    pytest.param(["orders:write"], COUNTY, "revoked", 401, "bad_api_key", id="revoked"),
    pytest.param(["orders:write"], COUNTY, "expired", 401, "bad_api_key", id="expired"),
]


@pytest.mark.parametrize(("scopes", "region", "spoil", "status", "code"), REFUSALS)
def test_keys_that_may_not_place_the_order_are_refused(
    ow: OrderWorld,
    client: TestClient,
    make: Factory,
    db: Session,
    scopes: list[str],
    region: str,
    spoil: str,
    status: int,
    code: str,
) -> None:
    make.region(OTHER)
    make.region(SIBLING_VILLAGE)
    created = issue(client, make, scopes, region)
    _spoil(db, created["id"], spoil, client, make)
    before = orders_count(db)
    headers = {"X-API-Key": created["key"]}
    response = client.post("/api/v1/orders", json=order_body(ow), headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    georeport = client.post(f"{V2}/requests.json", data=georeport_form(ow, api_key=created["key"]))
    assert georeport.status_code == status, georeport.text
    assert [e["code"] for e in georeport.json()] == [status]
    assert orders_count(db) == before


@pytest.mark.parametrize("where", ["api_key field", "X-API-Key header", "json body"])
def test_an_open311_request_with_a_key_becomes_the_keys_order(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session, where: str
) -> None:
    created = issue(client, make, ["orders:write"], COUNTY)
    key = created["key"]
    if where == "api_key field":
        response = client.post(f"{V2}/requests.json", data=georeport_form(ow, api_key=key))
    elif where == "X-API-Key header":
        response = client.post(
            f"{V2}/requests.json", data=georeport_form(ow), headers={"X-API-Key": key}
        )
    else:
        response = client.post(f"{V2}/requests.json", json=georeport_form(ow, api_key=key))
    assert response.status_code == 201, response.text
    [receipt] = response.json()
    order = db.get(Order, uuid.UUID(receipt["service_request_id"]))
    assert order is not None
    assert order.channel == "open311"
    assert order.requester_id == key_account(db, created["id"])


def test_an_open311_key_without_a_contact_phone_is_told_so(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    key = issue(client, make, ["orders:write"], COUNTY)["key"]
    form = georeport_form(ow, api_key=key)
    del form["phone"]
    response = client.post(f"{V2}/requests.json", data=form)
    assert response.status_code == 400, response.text
    assert "phone" in response.json()[0]["description"]
