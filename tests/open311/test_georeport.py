"""Open311 GeoReport v2: an existing client lists services, places a request and follows it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Factory
from tests.open311.conftest import OrderWorld

V2 = "/api/v1/open311/v2"


def place(client: TestClient, make: Factory, ow: OrderWorld, **overrides: Any) -> Any:
    form = {
        "service_code": "care",
        "lat": "35.0263",
        "long": "111.0071",
        "region_code": ow.world.village,
        "address_string": "曲村3组12号",
        "description": "独居老人需要帮忙买药",
        "first_name": "大爷",
        "last_name": "张",
        "phone": "13912345678",
        **overrides,
    }
    return client.post(f"{V2}/requests.json", data=form, headers=make.headers(ow.world.resident))


def test_services_list_the_catalog(client: TestClient) -> None:
    services = client.get(f"{V2}/services.json").json()
    care = next(s for s in services if s["service_code"] == "care")
    assert care["type"] == "realtime"
    assert care["metadata"] is False
    assert client.get(f"{V2}/services/care.json").json() == {
        "service_code": "care",
        "attributes": [],
    }
    missing = client.get(f"{V2}/services/no_such.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404


def test_a_request_is_placed_and_followed_from_open_to_closed(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    created = place(client, make, ow)
    assert created.status_code == 201, created.text
    [receipt] = created.json()
    request_id = receipt["service_request_id"]
    url = f"{V2}/requests/{request_id}.json"
    headers = make.headers(ow.world.resident)
    [first] = client.get(url, headers=headers).json()
    assert first["status"] == "open"
    assert first["service_code"] == "care"
    assert first["address"] == "曲村3组12号"
    assert first["expected_datetime"]  # the review deadline
    assert abs(first["lat"] - 35.0263) < 1e-6

    [extended] = client.get(url + "?extensions=true", headers=headers).json()
    assert extended["extended_attributes"]["fms_extended_status"] == "confirmed"
    listed = client.get(f"{V2}/requests.json?status=open", headers=headers).json()
    assert [r["service_request_id"] for r in listed] == [request_id]
    assert client.get(f"{V2}/requests.json?status=closed", headers=headers).json() == []
    cancel = client.post(
        f"/api/v1/orders/{request_id}/cancel", json={"reason": "已自行解决"}, headers=headers
    )
    assert cancel.status_code == 200, cancel.text
    [closed] = client.get(url + "?extensions=true", headers=headers).json()
    assert closed["status"] == "closed"
    assert closed["extended_attributes"]["fms_extended_status"] == "closed"
    assert "已取消" in closed["status_notes"]


def test_a_served_order_reads_fixed(ow: OrderWorld, client: TestClient, make: Factory) -> None:
    order = ow.completed(hours=1)
    [served] = client.get(
        f"{V2}/requests/{order['id']}.json?extensions=true", headers=make.headers(ow.world.resident)
    ).json()
    assert served["status"] == "closed"
    assert served["extended_attributes"]["fms_extended_status"] == "fixed"


def test_errors_come_as_georeport_lists(ow: OrderWorld, client: TestClient, make: Factory) -> None:
    unknown = place(client, make, ow, service_code="no_such")
    assert unknown.status_code == 400
    assert unknown.json()[0]["code"] == 400
    no_place = place(client, make, ow, lat="")
    assert no_place.status_code == 400
    assert "lat" in no_place.json()[0]["description"]
    no_region = client.post(
        f"{V2}/requests.json",
        data={"service_code": "care", "lat": "35", "long": "111"},
        headers=make.headers(ow.world.resident),
    )
    assert no_region.status_code == 400
    assert "region_code" in no_region.json()[0]["description"]
    anonymous = client.post(f"{V2}/requests.json", data={"service_code": "care"})
    assert anonymous.status_code == 401
    assert anonymous.json()[0]["code"] == 401
    bad_ids = client.get(
        f"{V2}/requests.json?service_request_id=abc", headers=make.headers(ow.world.resident)
    )
    assert bad_ids.status_code == 400


def test_another_household_cannot_read_the_request(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    [receipt] = place(client, make, ow).json()
    other = make.world("140803000000")
    stranger = make.user(display_name="邻居", home_region=ow.world.village)
    for user in (stranger, other.center_admin, other.resident):
        response = client.get(
            f"{V2}/requests/{receipt['service_request_id']}.json", headers=make.headers(user)
        )
        assert response.status_code == 404
        assert response.json()[0]["code"] == 404
        assert client.get(f"{V2}/requests.json", headers=make.headers(user)).json() == []
