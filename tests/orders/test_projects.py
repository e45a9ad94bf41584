"""The service menu: teams publish projects, residents order them, that team is asked first."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from app.accounts.models import User
from tests.orders.conftest import OrderWorld


def _publish(
    ow: OrderWorld, client: TestClient, team_id: object, user: User, **body: object
) -> httpx.Response:
    payload = {"title": "上门理发", "description": "每月一次", "category_code": "care", **body}
    response: httpx.Response = client.post(
        f"/api/v1/teams/{team_id}/projects", json=payload, headers=ow.as_(user)
    )
    return response


def test_leaders_publish_projects_within_their_specialties(
    ow: OrderWorld, client: TestClient
) -> None:
    w = ow.world
    published = _publish(ow, client, w.team.id, w.leader)
    assert published.status_code == 201, published.text
    assert published.json()["team_name"] == w.team.name
    not_specialty = _publish(ow, client, w.team.id, w.leader, category_code="legal_aid")
    assert (not_specialty.status_code, not_specialty.json()["code"]) == (422, "not_a_specialty")
    stranger = _publish(ow, client, ow.township_team.id, w.leader)
    assert (stranger.status_code, stranger.json()["code"]) == (403, "not_team_manager")
    by_admin = _publish(
        ow, client, ow.township_team.id, w.institute_admin, category_code="legal_aid"
    )
    assert by_admin.status_code == 201


def test_the_menu_for_a_village_lists_teams_at_and_above_it(
    ow: OrderWorld, client: TestClient
) -> None:
    w = ow.world
    station = _publish(ow, client, w.team.id, w.leader).json()
    county = _publish(ow, client, ow.county_team.id, w.center_admin, title="健康讲座").json()
    elsewhere_team = ow.make.team("140803100200", specialties=("care",))
    elsewhere = _publish(
        ow, client, elsewhere_team.id, ow.make.platform_admin(), title="外县项目"
    ).json()
    menu = client.get(f"/api/v1/projects?serving={w.village}", headers=ow.as_(w.resident)).json()
    ids = {p["id"] for p in menu["items"]}
    assert {station["id"], county["id"]} <= ids
    assert elsewhere["id"] not in ids
    client.patch(
        f"/api/v1/projects/{station['id']}", json={"active": False}, headers=ow.as_(w.leader)
    )
    menu = client.get(f"/api/v1/projects?serving={w.village}", headers=ow.as_(w.resident)).json()
    assert station["id"] not in {p["id"] for p in menu["items"]}


def test_ordering_a_project_asks_its_team_first(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    project = _publish(ow, client, ow.county_team.id, w.center_admin, title="健康讲座").json()
    order = ow.place(category_code=None, project_id=project["id"])
    assert order["category_code"] == "care"
    client.post(f"/api/v1/orders/{order['id']}/approve", headers=ow.as_(w.station_admin))
    ranked = client.get(
        f"/api/v1/orders/{order['id']}/candidates", headers=ow.as_(w.station_admin)
    ).json()
    assert ranked[0]["team"]["id"] == str(ow.county_team.id)


def test_project_orders_must_match_and_be_available(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    project = _publish(ow, client, w.team.id, w.leader).json()
    body = {
        "title": "理发",
        "region_code": w.village,
        "contact_name": "张大爷",
        "contact_phone": "13912345678",
        "project_id": project["id"],
    }
    mismatch = client.post(
        "/api/v1/orders", json={**body, "category_code": "legal_aid"}, headers=ow.as_(w.resident)
    )
    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "project_mismatch")
    client.patch(
        f"/api/v1/projects/{project['id']}", json={"active": False}, headers=ow.as_(w.leader)
    )
    retired = client.post("/api/v1/orders", json=body, headers=ow.as_(w.resident))
    assert (retired.status_code, retired.json()["code"]) == (422, "project_unavailable")
    neither = client.post(
        "/api/v1/orders",
        json={k: v for k, v in body.items() if k != "project_id"},
        headers=ow.as_(w.resident),
    )
    assert neither.status_code == 422


def test_another_regions_leader_cannot_change_a_project(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    project = _publish(ow, client, w.team.id, w.leader).json()
    other = ow.make.world("140803000000")
    for outsider in (other.leader, other.station_admin, other.center_admin, w.member):
        response = client.patch(
            f"/api/v1/projects/{project['id']}", json={"title": "被改名"}, headers=ow.as_(outsider)
        )
        assert (response.status_code, response.json()["code"]) == (403, "not_team_manager")
    unchanged = client.get(f"/api/v1/projects?serving={w.village}", headers=ow.as_(w.resident))
    assert [p["title"] for p in unchanged.json()["items"]] == ["上门理发"]
