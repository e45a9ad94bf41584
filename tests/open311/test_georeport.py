"""Open311 GeoReport v2: an existing client lists services, places a request and follows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.orders.models import Order
from tests.factories import Factory
from tests.open311.conftest import OrderWorld

API = "/api/v1"
V2 = f"{API}/open311/v2"


def form_for(ow: OrderWorld, **overrides: Any) -> dict[str, Any]:
    return {
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


def place(client: TestClient, make: Factory, ow: OrderWorld, **overrides: Any) -> Any:
    form = {k: v for k, v in form_for(ow, **overrides).items() if v is not None}
    return client.post(f"{V2}/requests.json", data=form, headers=make.headers(ow.world.resident))


def placed_id(client: TestClient, make: Factory, ow: OrderWorld, **overrides: Any) -> str:
    response = place(client, make, ow, **overrides)
    assert response.status_code == 201, response.text
    [receipt] = response.json()
    return str(receipt["service_request_id"])


def one(client: TestClient, headers: dict[str, str], request_id: str) -> dict[str, Any]:
    response = client.get(f"{V2}/requests/{request_id}.json?extensions=true", headers=headers)
    assert response.status_code == 200, response.text
    [request] = response.json()
    return dict(request)


def assert_error_list(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body, list), body
    assert body
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in body), body
    text = " ".join(e["description"] for e in body)
    for word in words:
        assert word in text, text


def order_count(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(Order)).one())


# --- services ---------------------------------------------------------------------------------


def test_services_list_the_active_catalog(client: TestClient, make: Factory) -> None:
    services = client.get(f"{V2}/services.json").json()
    care = next(s for s in services if s["service_code"] == "care")
    assert care["type"] == "realtime"
    assert care["metadata"] is False
    assert care["service_name"] == "关爱行动"
    assert "care" in care["keywords"].split(",")
    assert care["group"]
    assert care["description"]
    assert client.get(f"{V2}/services/care.json").json() == {
        "service_code": "care",
        "attributes": [],
    }
    assert_error_list(client.get(f"{V2}/services/no_such.json"), 404, "unknown service_code")

    off = client.patch(
        f"{API}/categories/care",
        json={"active": False},
        headers=make.headers(make.platform_admin()),
    )
    assert off.status_code == 200, off.text
    codes = [s["service_code"] for s in client.get(f"{V2}/services.json").json()]
    assert "care" not in codes
    assert codes
    assert_error_list(client.get(f"{V2}/services/care.json"), 404)


# --- placing ------------------------------------------------------------------------------------


def test_a_form_encoded_request_becomes_an_open311_order(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    created = place(
        client, make, ow, **{"attribute[floor]": "3", "email": "z@example.cn", "api_key": "k"}
    )
    assert created.status_code == 201, created.text
    assert created.headers["content-type"] == "application/json"
    [receipt] = created.json()
    assert receipt["service_notice"] == "待审核 / in review"
    headers = make.headers(ow.world.resident)
    order = client.get(f"{API}/orders/{receipt['service_request_id']}", headers=headers).json()
    assert order["channel"] == "open311"
    assert order["category_code"] == "care"
    assert order["title"] == "独居老人需要帮忙买药"
    assert order["contact_name"] == "张大爷"
    assert order["region_code"] == ow.world.village
    assert order["status"] == "pending_review"

    request = one(client, headers, receipt["service_request_id"])
    assert request["status"] == "open"
    assert request["service_name"] == "关爱行动"
    assert request["service_code"] == "care"
    assert request["description"] == "独居老人需要帮忙买药"
    assert request["address"] == "曲村3组12号"
    assert abs(request["lat"] - 35.0263) < 1e-6
    assert abs(request["long"] - 111.0071) < 1e-6
    assert request["status_notes"] == "待审核 / in review"
    deadline = datetime.fromisoformat(request["expected_datetime"])
    assert deadline == datetime.fromisoformat(order["review_due_at"])
    assert request["media_url"] == ""
    assert {"requested_datetime", "updated_datetime"} <= set(request)


def test_json_bodies_and_jurisdiction_id_are_taken_too(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    headers = make.headers(ow.world.resident)
    body = {
        "service_code": "care",
        "lat": 35.02,
        "long": 111.0,
        "jurisdiction_id": ow.world.village,
        "description": "x",  # too short for a title: the service's name is the title
        "attribute": {"floor": "3"},
    }
    created = client.post(f"{V2}/requests.json", json=body, headers=headers)
    assert created.status_code == 201, created.text
    [receipt] = created.json()
    order = client.get(f"{API}/orders/{receipt['service_request_id']}", headers=headers).json()
    assert order["region_code"] == ow.world.village
    assert order["title"] == "关爱行动"
    assert order["contact_name"] == "居民"  # no name given: the caller's own
    assert order["channel"] == "open311"


# --- following ----------------------------------------------------------------------------------


def test_a_request_is_followed_from_open_to_closed(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    w = ow.world
    request_id = placed_id(client, make, ow)
    mine = make.headers(w.resident)
    seen: list[tuple[str, str, str]] = []

    def step(path: str, user: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if path:
            response = client.post(
                f"{API}/orders/{request_id}/{path}", json=body, headers=make.headers(user)
            )
            assert response.status_code in (200, 201), response.text
        request = one(client, mine, request_id)
        ext = request["extended_attributes"]
        seen.append((ext["diandan_status"], request["status"], ext["fms_extended_status"]))
        return request

    step("", None)
    approved = step("approve", w.station_admin)
    assert "expected_datetime" not in approved  # in the admins' queue: no deadline yet
    offered = step("dispatch", w.station_admin, {"team_id": str(w.team.id)})
    order = client.get(f"{API}/orders/{request_id}", headers=mine).json()
    assert datetime.fromisoformat(offered["expected_datetime"]) == datetime.fromisoformat(
        order["accept_due_at"]
    )
    step("accept", w.leader)
    started = step("start", w.leader)
    order = client.get(f"{API}/orders/{request_id}", headers=mine).json()
    assert datetime.fromisoformat(started["expected_datetime"]) == datetime.fromisoformat(
        order["complete_due_at"]
    )
    done = step(
        "complete",
        w.leader,
        {"report": "药已送到", "hours": [{"volunteer_id": str(w.member_volunteer.id), "hours": 1}]},
    )
    assert "expected_datetime" not in done
    step("rating", w.resident, {"stars": 5, "comment": "谢谢"})

    assert seen == [
        ("pending_review", "open", "open"),
        ("unassigned", "open", "investigating"),
        ("dispatching", "open", "investigating"),
        ("accepted", "open", "action_scheduled"),
        ("in_service", "open", "in_progress"),
        ("completed", "closed", "fixed"),
        ("closed", "closed", "fixed"),
    ]
    plain = client.get(f"{V2}/requests/{request_id}.json", headers=mine).json()[0]
    assert "extended_attributes" not in plain
    assert plain["status"] == "closed"


def test_cancelled_and_rejected_requests_read_closed_with_their_reasons(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    mine = make.headers(ow.world.resident)
    cancelled = placed_id(client, make, ow)
    response = client.post(
        f"{API}/orders/{cancelled}/cancel", json={"reason": "已自行解决"}, headers=mine
    )
    assert response.status_code == 200, response.text
    request = one(client, mine, cancelled)
    assert (request["status"], request["extended_attributes"]["fms_extended_status"]) == (
        "closed",
        "closed",
    )
    assert request["status_notes"] == "已取消 / cancelled:已自行解决"

    rejected = placed_id(client, make, ow)
    response = client.post(
        f"{API}/orders/{rejected}/reject",
        json={"reason": "不属于志愿服务范围", "referral": "请联系镇司法所"},
        headers=make.headers(ow.world.station_admin),
    )
    assert response.status_code == 200, response.text
    request = one(client, mine, rejected)
    assert request["status"] == "closed"
    assert request["extended_attributes"]["fms_extended_status"] == "internal_referral"
    assert "不属于志愿服务范围" in request["status_notes"]
    assert "请联系镇司法所" in request["status_notes"]

    turned_away = placed_id(client, make, ow)
    response = client.post(
        f"{API}/orders/{turned_away}/reject",
        json={"reason": "重复提交"},
        headers=make.headers(ow.world.station_admin),
    )
    assert response.status_code == 200, response.text
    request = one(client, mine, turned_away)
    assert request["extended_attributes"]["fms_extended_status"] == "not_councils_responsibility"


def test_the_list_holds_the_callers_own_requests_with_the_spec_filters(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    mine = make.headers(ow.world.resident)
    first = placed_id(client, make, ow)
    legal = placed_id(client, make, ow, service_code="legal_aid")
    done = placed_id(client, make, ow)
    client.post(f"{API}/orders/{done}/cancel", json={"reason": "不需要了"}, headers=mine)
    ow.place()  # through /orders, by the same resident: a request too

    def ids(query: str = "") -> list[str]:
        response = client.get(f"{V2}/requests.json{query}", headers=mine)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    everything = ids()
    assert len(everything) == 4
    assert {first, legal, done} <= set(everything)
    assert ids("?service_code=legal_aid") == [legal]
    assert ids("?status=closed") == [done]
    assert done not in ids("?status=open")
    assert len(ids("?status=open")) == 3
    assert len(ids("?status=open,closed")) == 4
    assert sorted(ids(f"?service_request_id={first},{legal}")) == sorted([first, legal])
    # with ids, the other filters are ignored, as the spec says
    assert ids(f"?service_request_id={first}&status=closed&service_code=legal_aid") == [first]
    now = datetime.now(UTC)
    since = quote((now - timedelta(hours=1)).isoformat())
    until = quote((now + timedelta(hours=1)).isoformat())
    assert len(ids(f"?start_date={since}&end_date={until}")) == 4
    assert ids(f"?start_date={until}") == []
    assert ids(f"?end_date={since}") == []
    assert ids("?start_date=2020-01-01T00:00:00%2B08:00") == everything
    extended = client.get(f"{V2}/requests.json?extensions=true", headers=mine).json()
    assert all("fms_extended_status" in r["extended_attributes"] for r in extended)


# --- who may see what ---------------------------------------------------------------------------


def test_others_cannot_read_the_request_and_lists_hold_only_ones_own(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    request_id = placed_id(client, make, ow)
    url = f"{V2}/requests/{request_id}.json"
    other = make.world("140803000000")
    neighbour = make.user(display_name="邻居", home_region=ow.world.village)
    for user in (
        neighbour,
        other.resident,
        other.center_admin,
        other.station_admin,
        ow.world.member,
    ):
        assert_error_list(client.get(url, headers=make.headers(user)), 404, "no such order")
        listed = client.get(f"{V2}/requests.json", headers=make.headers(user))
        assert listed.status_code == 200
        assert listed.json() == []

    # the village's admin sees the order (the orders' rules) but it is not their own request
    admin = make.headers(ow.world.station_admin)
    assert client.get(url, headers=admin).json()[0]["service_request_id"] == request_id
    assert client.get(f"{V2}/requests.json", headers=admin).json() == []
    assert (
        client.get(f"{V2}/requests.json?service_request_id={request_id}", headers=admin).json()
        == []
    )

    # the team it is offered to may read it while the offer stands
    assert_error_list(client.get(url, headers=make.headers(ow.world.leader)), 404)
    assert client.post(f"{API}/orders/{request_id}/approve", headers=admin).status_code == 200
    offered = client.post(
        f"{API}/orders/{request_id}/dispatch",
        json={"team_id": str(ow.world.team.id)},
        headers=admin,
    )
    assert offered.status_code == 200, offered.text
    assert client.get(url, headers=make.headers(ow.world.leader)).status_code == 200
    assert_error_list(client.get(url, headers=make.headers(other.leader)), 404)


# --- errors -------------------------------------------------------------------------------------


def test_bad_requests_are_refused_in_georeport_error_lists_and_create_nothing(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    before = order_count(db)
    assert_error_list(place(client, make, ow, service_code="no_such"), 400, "service_code")
    assert_error_list(place(client, make, ow, lat=None, long=None), 400, "lat:", "long:")
    assert_error_list(place(client, make, ow, lat=""), 400, "lat:")
    assert_error_list(place(client, make, ow, lat="91"), 400, "lat:")
    assert_error_list(place(client, make, ow, long="north"), 400, "long:")
    assert_error_list(place(client, make, ow, region_code=None), 400, "region_code")
    assert_error_list(
        place(client, make, ow, region_code=None, jurisdiction_id="yuncheng"), 400, "region_code"
    )
    assert_error_list(place(client, make, ow, region_code="14080210"), 400, "region_code")
    assert_error_list(place(client, make, ow, region_code="140802100288"), 400, "region_code")
    assert_error_list(place(client, make, ow, phone="12345"), 400, "phone")
    assert_error_list(place(client, make, ow, address_string="址" * 201), 400, "address_string")
    assert_error_list(place(client, make, ow, description="述" * 2001), 400, "description")
    assert_error_list(place(client, make, ow, first_name="名" * 60), 400, "first_name")

    mine = make.headers(ow.world.resident)
    json_headers = {**mine, "content-type": "application/json"}
    assert_error_list(
        client.post(f"{V2}/requests.json", content=b"{not json", headers=json_headers),
        400,
        "JSON",
    )
    assert_error_list(client.post(f"{V2}/requests.json", json=[1], headers=mine), 400, "JSON")
    assert order_count(db) == before

    for query in ("service_request_id=abc", "status=pending", "start_date=2026-01-01T00:00:00"):
        assert_error_list(client.get(f"{V2}/requests.json?{query}", headers=mine), 400)
    assert_error_list(client.get(f"{V2}/requests/abc.json", headers=mine), 404)
    unknown = "01900000-0000-7000-8000-000000000000"
    assert_error_list(client.get(f"{V2}/requests/{unknown}.json", headers=mine), 404)


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"], ids=["none", "bad"])
def test_without_a_valid_sign_in_every_request_endpoint_answers_401(
    ow: OrderWorld, client: TestClient, db: Session, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    before = order_count(db)
    calls = [
        client.post(f"{V2}/requests.json", data=form_for(ow), headers=headers),
        client.post(f"{V2}/requests.json", data={"service_code": "care"}, headers=headers),
        client.get(f"{V2}/requests.json", headers=headers),
        client.get(f"{V2}/requests/01900000-0000-7000-8000-000000000000.json", headers=headers),
    ]
    for response in calls:
        assert_error_list(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert order_count(db) == before


def test_only_this_router_speaks_georeport_errors(client: TestClient) -> None:
    assert_error_list(client.put(f"{V2}/requests.json"), 405)
    assert_error_list(client.delete(f"{V2}/services.json"), 405)
    assert_error_list(client.get(f"{V2}/requests.xml"), 404, "JSON")
    assert_error_list(client.get(f"{V2}/nothing_here"), 404)
    elsewhere = client.get(f"{API}/orders")
    assert elsewhere.status_code == 401
    assert elsewhere.headers["content-type"] == "application/problem+json"
