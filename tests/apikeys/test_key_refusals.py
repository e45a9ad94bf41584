"""Every endpoint that takes `X-API-Key`, called with a key that lacks the endpoint's scope, a key
reaching outside its region, a revoked key and an expired key; and the endpoints that take no
keys, called with a key that holds every scope."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, func, select

from app.apikeys.models import ApiKey, ApiScope
from app.common.clock import utcnow
from app.config import Settings
from app.main import create_app
from app.orders.models import Order
from app.webhooks.models import WebhookSubscription
from tests.conftest import _savepoint_sessions, offline_http_client
from tests.factories import Factory, World

API = "/api/v1"
V2 = f"{API}/open311/v2"
COUNTY, OTHER = "140802000000", "140803000000"
ALL_SCOPES = [s.value for s in ApiScope]
HOOK = {"url": "https://hooks.example.com/k", "event_types": ["team.*"]}


@pytest.fixture
def app(settings: Settings, connection: Connection) -> FastAPI:
    """The usual test app, with webhook host names resolving to a public address."""
    application = create_app(
        settings,
        http_client=offline_http_client(),
        webhook_resolver=lambda _host, _port: ["93.184.216.34"],
    )
    application.state.sessionmaker = _savepoint_sessions(connection)
    return application


@dataclass
class Scene:
    client: TestClient
    make: Factory
    here: World
    there: World
    admin: dict[str, str]
    mine: str  # a subscription of the full key, in its county
    theirs: str  # a platform admin's subscription of the other county

    def issue(self, scopes: list[str], region: str | None = COUNTY) -> dict[str, Any]:
        body = {"name": "对接", "scopes": scopes, "region_code": region}
        response = self.client.post(f"{API}/api-keys", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def scene(client: TestClient, make: Factory, db: Session) -> tuple[Scene, dict[str, Any]]:
    here, there = make.world(COUNTY), make.world(OTHER)
    admin = make.headers(make.platform_admin())
    db.commit()
    full = Scene(client, make, here, there, admin, "", "").issue(ALL_SCOPES)
    mine = client.post(f"{API}/webhooks", json=HOOK, headers={"X-API-Key": full["key"]})
    assert mine.status_code == 201, mine.text
    theirs = client.post(f"{API}/webhooks", json={**HOOK, "region_code": OTHER}, headers=admin)
    assert theirs.status_code == 201, theirs.text
    return Scene(client, make, here, there, admin, mine.json()["id"], theirs.json()["id"]), full


def order_body(world: World) -> dict[str, Any]:
    return {
        "category_code": "care",
        "title": "帮独居老人买药",
        "address": "曲村3组12号",
        "location": {"lat": 35.051, "lng": 110.912, "coord_system": "wgs84"},
        "region_code": world.village,
        "contact_name": "张大爷",
        "contact_phone": "13912345678",
    }


def georeport(world: World) -> dict[str, str]:
    return {
        "service_code": "care",
        "lat": "35.0263",
        "long": "111.0071",
        "region_code": world.village,
        "phone": "13912345678",
    }


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    data: dict[str, str] | None = None


def send(scene: Scene, call: Call, key: str) -> httpx.Response:
    response: httpx.Response = scene.client.request(
        call.method,
        call.path,
        json=call.json,
        data=call.data,
        headers={"X-API-Key": key},
    )
    return response


Outside = Callable[[Scene, httpx.Response], None]


def empty_feed(_s: Scene, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def empty_export(_s: Scene, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.text.strip() == ""


def refused(status: int, code: str) -> Outside:
    def check(_s: Scene, response: httpx.Response) -> None:
        assert response.status_code == status, response.text
        assert response.json()["code"] == code

    return check


def georeport_refused(_s: Scene, response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert [e["code"] for e in response.json()] == [403]


def only_mine(s: Scene, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert [x["id"] for x in response.json()["items"]] == [s.mine]


NOT_MINE = refused(404, "webhook_not_found")
DELIVERY = "01900000-0000-7000-8000-000000000000"


@dataclass(frozen=True)
class Endpoint:
    scope: ApiScope
    inside: Callable[[Scene], Call]  # the call within the key's reach
    outside: Callable[[Scene], Call]  # the same endpoint, reaching beyond the key's region
    check_outside: Outside
    georeport: bool = False


def _export(kind: str, scope: ApiScope) -> Endpoint:
    return Endpoint(
        scope,
        lambda _s: Call("GET", f"{API}/exports/{kind}"),
        lambda _s: Call("GET", f"{API}/exports/{kind}?region={OTHER}"),
        empty_export,
    )


def _hook(method: str, tail: str, body: Any = None) -> Endpoint:
    return Endpoint(
        ApiScope.WEBHOOKS_MANAGE,
        lambda s: Call(method, f"{API}/webhooks/{s.mine}{tail}", json=body),
        lambda s: Call(method, f"{API}/webhooks/{s.theirs}{tail}", json=body),
        NOT_MINE,
    )


ENDPOINTS: dict[str, Endpoint] = {
    "GET /sync/changes": Endpoint(
        ApiScope.CHANGES_READ,
        lambda _s: Call("GET", f"{API}/sync/changes"),
        lambda _s: Call("GET", f"{API}/sync/changes?region={OTHER}"),
        empty_feed,
    ),
    "GET /exports/volunteers": _export("volunteers", ApiScope.VOLUNTEERS_READ),
    "GET /exports/teams": _export("teams", ApiScope.TEAMS_READ),
    "GET /exports/service_records": _export("service_records", ApiScope.RECORDS_READ),
    "GET /exports/activities": _export("activities", ApiScope.ACTIVITIES_READ),
    "POST /webhooks": Endpoint(
        ApiScope.WEBHOOKS_MANAGE,
        lambda _s: Call("POST", f"{API}/webhooks", json=HOOK),
        lambda _s: Call("POST", f"{API}/webhooks", json={**HOOK, "region_code": OTHER}),
        refused(403, "out_of_region"),
    ),
    "GET /webhooks": Endpoint(
        ApiScope.WEBHOOKS_MANAGE,
        lambda _s: Call("GET", f"{API}/webhooks"),
        lambda _s: Call("GET", f"{API}/webhooks"),
        only_mine,
    ),
    "GET /webhooks/{id}": _hook("GET", ""),
    "DELETE /webhooks/{id}": _hook("DELETE", ""),
    "POST /webhooks/{id}/rotate-secret": _hook("POST", "/rotate-secret"),
    "POST /webhooks/{id}/enable": _hook("POST", "/enable"),
    "GET /webhooks/{id}/deliveries": _hook("GET", "/deliveries"),
    "POST /webhooks/{id}/deliveries/{d}/replay": _hook("POST", f"/deliveries/{DELIVERY}/replay"),
    "POST /orders": Endpoint(
        ApiScope.ORDERS_WRITE,
        lambda s: Call("POST", f"{API}/orders", json=order_body(s.here)),
        lambda s: Call("POST", f"{API}/orders", json=order_body(s.there)),
        refused(403, "out_of_region"),
    ),
    "POST open311 requests.json": Endpoint(
        ApiScope.ORDERS_WRITE,
        lambda s: Call("POST", f"{V2}/requests.json", data=georeport(s.here)),
        lambda s: Call("POST", f"{V2}/requests.json", data=georeport(s.there)),
        georeport_refused,
        georeport=True,
    ),
}


def state(db: Session) -> tuple[int, list[tuple[str, str]]]:
    db.expire_all()
    orders = db.exec(select(func.count()).select_from(Order)).one()
    hooks = db.exec(select(WebhookSubscription)).all()
    return orders, sorted((str(h.id), h.status) for h in hooks)


def assert_refused(endpoint: Endpoint, response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    if endpoint.georeport:
        assert [e["code"] for e in response.json()] == [status]
    else:
        assert response.json()["code"] == code


@pytest.mark.parametrize("case", ["missing scope", "out of region", "revoked", "expired"])
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_every_key_endpoint_refuses_what_the_key_may_not_do(
    scene: tuple[Scene, dict[str, Any]], db: Session, name: str, case: str
) -> None:
    s, full = scene
    endpoint = ENDPOINTS[name]
    before = state(db)
    if case == "missing scope":
        key = s.issue([x for x in ALL_SCOPES if x != endpoint.scope.value])["key"]
        assert_refused(endpoint, send(s, endpoint.inside(s), key), 403, "scope_required")
    elif case == "out of region":
        endpoint.check_outside(s, send(s, endpoint.outside(s), full["key"]))
    else:
        stored = db.get(ApiKey, uuid.UUID(full["id"]))
        assert stored is not None
        if case == "revoked":
            revoke = s.client.delete(f"{API}/api-keys/{full['id']}", headers=s.admin)
            assert revoke.status_code == 204
        else:
            stored.expires_at = utcnow() - timedelta(seconds=1)
            db.add(stored)
            db.commit()
        before = state(db)
        assert_refused(endpoint, send(s, endpoint.inside(s), full["key"]), 401, "bad_api_key")
    assert state(db) == before


def test_the_full_key_does_reach_every_endpoint(
    scene: tuple[Scene, dict[str, Any]], db: Session
) -> None:
    """The other side of the table: within its reach, the same key is let through."""
    s, full = scene
    expected = {
        "POST /webhooks/{id}/enable": (409, "already_active"),
        "POST /webhooks/{id}/deliveries/{d}/replay": (404, "delivery_not_found"),
    }
    # The deletion last, so that the other calls find the subscription.
    for name in sorted(ENDPOINTS, key=lambda n: n.startswith("DELETE")):
        response = send(s, ENDPOINTS[name].inside(s), full["key"])
        if name in expected:
            status, code = expected[name]
            assert response.status_code == status, (name, response.text)
            assert response.json()["code"] == code
        else:
            assert response.status_code in {200, 201, 204}, (name, response.text)


KEYLESS: list[Callable[[Scene], Call]] = [
    lambda _s: Call("POST", f"{API}/imports/volunteers", data={}),
    lambda _s: Call("POST", f"{API}/imports/service_records?dry_run=true", data={}),
    lambda _s: Call("GET", f"{API}/sync/push"),
    lambda _s: Call("GET", f"{API}/sync/push/dead-letters"),
    lambda _s: Call("POST", f"{API}/sync/push/dead-letters/{DELIVERY}/replay"),
    lambda _s: Call("GET", f"{API}/api-keys"),
    lambda _s: Call("POST", f"{API}/api-keys", json={"name": "x", "scopes": ["changes:read"]}),
    lambda _s: Call("GET", f"{API}/orders"),
    lambda s: Call("GET", f"{API}/teams/{s.here.team.id}"),
    lambda s: Call("GET", f"{API}/volunteers/{s.here.member_volunteer.id}/personal"),
]
KEYLESS_GEOREPORT: list[Callable[[Scene], Call]] = [
    lambda _s: Call("GET", f"{V2}/requests.json"),
    lambda _s: Call("GET", f"{V2}/requests/{DELIVERY}.json"),
]


def test_endpoints_that_take_no_keys_refuse_even_a_full_key(
    scene: tuple[Scene, dict[str, Any]], db: Session
) -> None:
    s, full = scene
    before = state(db)
    for build in KEYLESS:
        call = build(s)
        response = send(s, call, full["key"])
        assert response.status_code == 401, (call, response.text)
        assert response.json()["code"] == "not_authenticated", call
    for build in KEYLESS_GEOREPORT:
        call = build(s)
        response = send(s, call, full["key"])
        assert response.status_code == 401, (call, response.text)
        assert [e["code"] for e in response.json()] == [401]
    keys_before = db.exec(select(func.count()).select_from(ApiKey)).one()
    assert state(db) == before
    assert db.exec(select(func.count()).select_from(ApiKey)).one() == keys_before
