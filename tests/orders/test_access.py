"""Every order endpoint refuses users of another region, team or household, and shows nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import World
from tests.orders.conftest import OrderWorld

ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/orders/{id}", None),
    ("GET", "/api/v1/orders/{id}/events", None),
    ("GET", "/api/v1/orders/{id}/stream", None),
    ("GET", "/api/v1/orders/{id}/contact", None),
    ("GET", "/api/v1/orders/{id}/candidates", None),
    ("POST", "/api/v1/orders/{id}/approve", {}),
    ("POST", "/api/v1/orders/{id}/reject", {"reason": "越权驳回"}),
    ("POST", "/api/v1/orders/{id}/dispatch", {"mode": "auto"}),
    ("POST", "/api/v1/orders/{id}/accept", None),
    ("POST", "/api/v1/orders/{id}/decline", {"reason": "越权拒单"}),
    ("POST", "/api/v1/orders/{id}/start", None),
    (
        "POST",
        "/api/v1/orders/{id}/complete",
        {
            "report": "越权",
            "hours": [{"volunteer_id": "00000000-0000-7000-8000-000000000000", "hours": 1}],
        },
    ),
    ("POST", "/api/v1/orders/{id}/cancel", {"reason": "越权取消"}),
    ("POST", "/api/v1/orders/{id}/rating", {"stars": 1}),
    ("POST", "/api/v1/orders/{id}/complaints", {"content": "越权投诉"}),
]
OUTSIDERS = ["center_admin", "institute_admin", "station_admin", "leader", "member", "resident"]


@pytest.fixture
def other(ow: OrderWorld) -> World:
    return ow.make.world("140803000000")


@pytest.mark.parametrize("actor", OUTSIDERS)
@pytest.mark.parametrize(
    ("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p[14:]}" for m, p, _ in ENDPOINTS]
)
def test_another_region_sees_and_changes_nothing(
    ow: OrderWorld,
    other: World,
    client: TestClient,
    actor: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    order = ow.approved(title="曲村张大爷的私事")
    response = client.request(
        method, path.format(id=order["id"]), json=body, headers=ow.as_(getattr(other, actor))
    )
    assert response.status_code in (403, 404), (actor, path, response.status_code, response.text)
    assert "张大爷" not in response.text
    after = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(ow.world.resident)).json()
    assert after["status"] == "unassigned"


@pytest.mark.parametrize(
    ("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p[14:]}" for m, p, _ in ENDPOINTS]
)
def test_another_household_in_the_same_village_is_refused(
    ow: OrderWorld, client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    neighbour = ow.make.user(display_name="邻居", home_region=ow.world.village)
    order = ow.place(title="张大爷家的事")
    response = client.request(
        method, path.format(id=order["id"]), json=body, headers=ow.as_(neighbour)
    )
    assert response.status_code in (403, 404)
    assert "张大爷" not in response.text


def test_listings_show_only_what_the_caller_may_see(
    ow: OrderWorld, other: World, client: TestClient
) -> None:
    mine = ow.approved()
    for actor in OUTSIDERS:
        items = client.get("/api/v1/orders", headers=ow.as_(getattr(other, actor))).json()["items"]
        assert mine["id"] not in [o["id"] for o in items], actor
    w = ow.world
    for insider in (w.station_admin, w.institute_admin, w.center_admin, w.resident):
        items = client.get("/api/v1/orders", headers=ow.as_(insider)).json()["items"]
        assert [o["id"] for o in items] == [mine["id"]]
    # The station's team sees the order once it is offered to it, not before.
    assert client.get("/api/v1/orders", headers=ow.as_(w.leader)).json()["items"] == []
    client.post(
        f"/api/v1/orders/{mine['id']}/dispatch",
        json={"team_id": str(w.team.id)},
        headers=ow.as_(w.station_admin),
    )
    assert [
        o["id"] for o in client.get("/api/v1/orders", headers=ow.as_(w.leader)).json()["items"]
    ] == [mine["id"]]
    assert client.get("/api/v1/orders", headers=ow.as_(w.member)).json()["items"] == []


def test_batch_dispatch_stays_inside_the_callers_region(
    ow: OrderWorld, other: World, client: TestClient
) -> None:
    order = ow.approved()
    response = client.post("/api/v1/dispatch/batch", json={}, headers=ow.as_(other.center_admin))
    assert response.json() == {"assigned": [], "unassigned": [], "total_cost": 0.0}
    outside = client.post(
        "/api/v1/dispatch/batch",
        json={"region_code": ow.world.county},
        headers=ow.as_(other.center_admin),
    )
    assert outside.json()["assigned"] == []
    still = client.get(f"/api/v1/orders/{order['id']}", headers=ow.as_(ow.world.resident)).json()
    assert still["status"] == "unassigned"
    refused = client.post("/api/v1/dispatch/batch", json={}, headers=ow.as_(ow.world.leader))
    assert refused.status_code == 403
