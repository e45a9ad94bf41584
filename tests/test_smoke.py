from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Factory


def test_me_and_volunteer_listing(client: TestClient, make: Factory) -> None:
    world = make.world("140802000000")
    response = client.get("/api/v1/me", headers=make.headers(world.station_admin))
    assert response.status_code == 200, response.text
    assert "site_admin" in response.json()["roles"]
    listing = client.get(
        "/api/v1/volunteers?status=pending", headers=make.headers(world.station_admin)
    )
    assert listing.status_code == 200
    assert [v["real_name"] for v in listing.json()["items"]] == ["赵申请"]
