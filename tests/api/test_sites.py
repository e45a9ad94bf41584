"""Practice sites over HTTP: creation, levels, scope, profile changes, admins, locations."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.common.geo import CoordSystem, to_wgs84
from app.sites.models import Site
from tests.factories import Factory

API = "/api/v1"
PROBLEM = "application/problem+json"

CITY = "140800000000"
COUNTY = "140802000000"
TOWNSHIP = "140802100000"
VILLAGE = "140802100200"
SIBLING_VILLAGE = "140802100201"
OTHER_COUNTY_VILLAGE = "140803100200"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["instance"] == response.request.url.path
    return body


def site_count(client: TestClient, headers: dict[str, str], region: str) -> int:
    response = client.get(f"{API}/sites?region={region}", headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


# --- creation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region_code", "region_name", "level"),
    [
        pytest.param(CITY, "运城市", "center", id="city-center"),
        pytest.param(COUNTY, "盐湖区", "center", id="county-center"),
        pytest.param(TOWNSHIP, "北城街道", "institute", id="township-institute"),
        pytest.param(VILLAGE, "西城社区", "station", id="village-station"),
    ],
)
def test_create_site_takes_its_level_from_the_region(
    client: TestClient, make: Factory, region_code: str, region_name: str, level: str
) -> None:
    make.region(region_code, name=region_name)
    headers = make.headers(make.platform_admin())

    response = client.post(
        f"{API}/sites",
        json={
            "name": f"{region_name}新时代文明实践点",
            "region_code": region_code,
            "address": "解放路1号",
        },
        headers=headers,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    uuid.UUID(body.pop("id"))
    assert body.pop("created_at")
    assert body == {
        "name": f"{region_name}新时代文明实践点",
        "level": level,
        "region_code": region_code,
        "region_name": region_name,
        "address": "解放路1号",
        "location": None,
    }
    again = client.get(f"{API}/sites/{response.json()['id']}", headers=headers)
    assert again.status_code == 200
    assert again.json() == response.json()


def test_admin_creates_a_site_below_its_own(client: TestClient, make: Factory) -> None:
    institute_admin = make.site_admin(TOWNSHIP)
    make.region(SIBLING_VILLAGE, name="东城社区")

    response = client.post(
        f"{API}/sites",
        json={"name": "东城社区实践站", "region_code": SIBLING_VILLAGE},
        headers=make.headers(institute_admin),
    )

    assert response.status_code == 201, response.text
    assert (response.json()["level"], response.json()["region_name"]) == ("station", "东城社区")
    assert response.json()["address"] == ""


def test_second_site_on_a_region_conflicts(client: TestClient, make: Factory) -> None:
    existing = make.site(VILLAGE, name="西城社区实践站")
    headers = make.headers(make.platform_admin())

    response = client.post(
        f"{API}/sites", json={"name": "重复站点", "region_code": VILLAGE}, headers=headers
    )

    assert_problem(response, 409, "site_exists")
    listing = client.get(f"{API}/sites?region={VILLAGE}", headers=headers)
    assert [s["id"] for s in listing.json()["items"]] == [str(existing.id)]


def test_site_on_an_unknown_region_is_not_found(client: TestClient, make: Factory) -> None:
    make.region(TOWNSHIP)
    response = client.post(
        f"{API}/sites",
        json={"name": "不存在的村", "region_code": "140802100999"},
        headers=make.headers(make.platform_admin()),
    )
    assert_problem(response, 404, "region_not_found")


@pytest.mark.parametrize(
    "region_code",
    [
        pytest.param("1408", id="too-short"),
        pytest.param("1408021002000", id="too-long"),
        pytest.param("14080210020X", id="not-digits"),
        pytest.param(140802100200, id="a-number"),
        pytest.param(None, id="null"),
    ],
)
def test_malformed_region_code_is_invalid(
    client: TestClient, make: Factory, region_code: object
) -> None:
    response = client.post(
        f"{API}/sites",
        json={"name": "站点", "region_code": region_code},
        headers=make.headers(make.platform_admin()),
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "region_code"]


def test_region_code_of_no_province_is_invalid(client: TestClient, make: Factory) -> None:
    response = client.post(
        f"{API}/sites",
        json={"name": "站点", "region_code": "000000000000"},
        headers=make.headers(make.platform_admin()),
    )
    assert_problem(response, 422, "invalid_region_code")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": "", "region_code": VILLAGE}, id="empty-name"),
        pytest.param({"name": "站" * 101, "region_code": VILLAGE}, id="long-name"),
        pytest.param({"region_code": VILLAGE}, id="no-name"),
        pytest.param(
            {"name": "站", "region_code": VILLAGE, "address": "路" * 201}, id="long-address"
        ),
    ],
)
def test_invalid_site_body(client: TestClient, make: Factory, body: dict[str, Any]) -> None:
    make.region(VILLAGE)
    response = client.post(f"{API}/sites", json=body, headers=make.headers(make.platform_admin()))
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("admin_of", "target"),
    [
        pytest.param(VILLAGE, SIBLING_VILLAGE, id="station-on-sibling-village"),
        pytest.param(VILLAGE, "140802100000", id="station-on-parent-township"),
        pytest.param(TOWNSHIP, "140802101000", id="institute-on-sibling-township"),
        pytest.param(COUNTY, OTHER_COUNTY_VILLAGE, id="center-on-other-county"),
    ],
)
def test_site_outside_the_admins_scope_is_forbidden(
    client: TestClient, make: Factory, admin_of: str, target: str
) -> None:
    admin = make.site_admin(admin_of)
    make.region(target)
    headers = make.headers(admin)
    before = site_count(client, headers, target)

    response = client.post(
        f"{API}/sites", json={"name": "越权站点", "region_code": target}, headers=headers
    )

    assert_problem(response, 403, "outside_scope")
    assert site_count(client, headers, target) == before


def test_non_admins_cannot_create_sites(client: TestClient, make: Factory) -> None:
    world = make.world(COUNTY)
    make.region(SIBLING_VILLAGE)
    for user in (world.resident, world.leader, world.member):
        response = client.post(
            f"{API}/sites",
            json={"name": "站点", "region_code": SIBLING_VILLAGE},
            headers=make.headers(user),
        )
        assert_problem(response, 403, "admin_required")


# --- reading and listing -------------------------------------------------------------------------


def test_unknown_site_is_not_found(client: TestClient, make: Factory) -> None:
    headers = make.headers(make.user())
    assert_problem(
        client.get(f"{API}/sites/{uuid.uuid4()}", headers=headers), 404, "site_not_found"
    )
    assert_problem(client.get(f"{API}/sites/not-a-uuid", headers=headers), 422, "validation_error")


def test_site_listing_filters_and_pages(client: TestClient, make: Factory) -> None:
    sites = [make.site(code) for code in (COUNTY, TOWNSHIP, VILLAGE, SIBLING_VILLAGE)]
    other = make.site(OTHER_COUNTY_VILLAGE)
    headers = make.headers(make.user())

    def ids(query: str) -> list[str]:
        response = client.get(f"{API}/sites?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    assert ids(f"region={TOWNSHIP}") == sorted(str(s.id) for s in sites[1:])
    assert ids(f"region={TOWNSHIP}&level=station") == sorted(str(s.id) for s in sites[2:])
    assert ids("level=center") == [str(sites[0].id)]
    assert ids(f"region={OTHER_COUNTY_VILLAGE}") == [str(other.id)]

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"{API}/sites?{query}", headers=headers).json()
        assert len(page["items"]) <= 2
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(str(s.id) for s in [*sites, other])

    assert_problem(
        client.get(f"{API}/sites?region=1408", headers=headers), 422, "invalid_region_code"
    )
    assert_problem(
        client.get(f"{API}/sites?level=hamlet", headers=headers), 422, "validation_error"
    )
    assert_problem(client.get(f"{API}/sites?cursor=%21%21", headers=headers), 422, "invalid_cursor")


# --- PATCH ---------------------------------------------------------------------------------------


def test_station_admin_updates_its_site(client: TestClient, make: Factory, db: Session) -> None:
    site = make.site(VILLAGE, name="旧名")
    headers = make.headers(make.site_admin(VILLAGE))

    response = client.patch(
        f"{API}/sites/{site.id}",
        json={
            "name": "西城社区新时代文明实践站",
            "address": "西城路8号",
            "location": {"lat": 35.02, "lng": 111.0},
        },
        headers=headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["address"], body["level"]) == (
        "西城社区新时代文明实践站",
        "西城路8号",
        "station",
    )
    assert body["location"] == {"lat": 35.02, "lng": 111.0, "coord_system": "wgs84"}
    assert client.get(f"{API}/sites/{site.id}", headers=headers).json() == body

    only_address = client.patch(
        f"{API}/sites/{site.id}", json={"address": "西城路9号"}, headers=headers
    )
    assert only_address.status_code == 200
    assert (only_address.json()["name"], only_address.json()["address"]) == (
        "西城社区新时代文明实践站",
        "西城路9号",
    )
    assert only_address.json()["location"] == body["location"]

    cleared = client.patch(f"{API}/sites/{site.id}", json={"location": None}, headers=headers)
    assert cleared.status_code == 200
    assert cleared.json()["location"] is None
    db.expire_all()
    stored = db.get(Site, site.id)
    assert stored is not None
    assert (stored.lat, stored.lng, stored.coord_system, stored.wgs_lat, stored.wgs_lng) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_patch_cannot_change_region_or_level(client: TestClient, make: Factory) -> None:
    site = make.site(VILLAGE)
    response = client.patch(
        f"{API}/sites/{site.id}",
        json={"region_code": SIBLING_VILLAGE, "level": "center"},
        headers=make.headers(make.platform_admin()),
    )
    assert response.status_code == 200, response.text
    assert (response.json()["region_code"], response.json()["level"]) == (VILLAGE, "station")


def test_patch_outside_scope_is_forbidden(client: TestClient, make: Factory) -> None:
    township_site = make.site(TOWNSHIP, name="北城街道实践所")
    sibling = make.site(SIBLING_VILLAGE, name="东城社区实践站")
    station_admin = make.site_admin(VILLAGE)
    headers = make.headers(station_admin)

    for site in (township_site, sibling):
        response = client.patch(f"{API}/sites/{site.id}", json={"name": "越权"}, headers=headers)
        assert_problem(response, 403, "outside_scope")
        assert client.get(f"{API}/sites/{site.id}", headers=headers).json()["name"] == site.name


def test_patch_unknown_site_and_bad_body(client: TestClient, make: Factory) -> None:
    site = make.site(VILLAGE)
    headers = make.headers(make.platform_admin())
    assert_problem(
        client.patch(f"{API}/sites/{uuid.uuid4()}", json={"name": "x"}, headers=headers),
        404,
        "site_not_found",
    )
    assert_problem(
        client.patch(f"{API}/sites/{site.id}", json={"name": ""}, headers=headers),
        422,
        "validation_error",
    )
    assert_problem(
        client.patch(
            f"{API}/sites/{site.id}",
            json={"location": {"lat": 91, "lng": 111.0}},
            headers=headers,
        ),
        422,
        "validation_error",
    )


# --- locations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "system", [CoordSystem.GCJ02, CoordSystem.BD09, CoordSystem.WGS84], ids=lambda s: s.value
)
def test_location_keeps_its_coordinate_system(
    client: TestClient, make: Factory, db: Session, system: CoordSystem
) -> None:
    make.region(VILLAGE, name="西城社区")
    headers = make.headers(make.platform_admin())
    given = {"lat": 35.026812, "lng": 111.007465, "coord_system": system.value}

    response = client.post(
        f"{API}/sites",
        json={"name": "西城社区实践站", "region_code": VILLAGE, "location": given},
        headers=headers,
    )

    assert response.status_code == 201, response.text
    assert response.json()["location"] == given
    site_id = response.json()["id"]
    assert client.get(f"{API}/sites/{site_id}", headers=headers).json()["location"] == given
    db.expire_all()
    stored = db.get(Site, uuid.UUID(site_id))
    assert stored is not None
    assert (stored.lat, stored.lng, stored.coord_system) == (35.026812, 111.007465, system.value)
    wgs_lat, wgs_lng = to_wgs84(35.026812, 111.007465, system)
    assert stored.wgs_lat == pytest.approx(wgs_lat, abs=1e-9)
    assert stored.wgs_lng == pytest.approx(wgs_lng, abs=1e-9)
    if system is CoordSystem.WGS84:
        assert (stored.wgs_lat, stored.wgs_lng) == (35.026812, 111.007465)
    else:  # the offset is hundreds of metres in China: it must have been applied
        assert stored.wgs_lat is not None
        assert stored.wgs_lng is not None
        assert abs(stored.wgs_lat - 35.026812) + abs(stored.wgs_lng - 111.007465) > 0.001


def test_location_without_a_system_is_wgs84(client: TestClient, make: Factory) -> None:
    make.region(VILLAGE)
    response = client.post(
        f"{API}/sites",
        json={"name": "站", "region_code": VILLAGE, "location": {"lat": 35.0, "lng": 111.0}},
        headers=make.headers(make.platform_admin()),
    )
    assert response.status_code == 201, response.text
    assert response.json()["location"] == {"lat": 35.0, "lng": 111.0, "coord_system": "wgs84"}


def test_unknown_coordinate_system_is_invalid(client: TestClient, make: Factory) -> None:
    make.region(VILLAGE)
    response = client.post(
        f"{API}/sites",
        json={
            "name": "站",
            "region_code": VILLAGE,
            "location": {"lat": 35.0, "lng": 111.0, "coord_system": "baidu"},
        },
        headers=make.headers(make.platform_admin()),
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "location", "coord_system"]


# --- site admins ---------------------------------------------------------------------------------


def test_site_admins_add_list_remove(client: TestClient, make: Factory) -> None:
    site = make.site(VILLAGE)
    station_admin = make.site_admin(VILLAGE)
    station_admin.display_name = "Alpha 管理员"  # the list is ordered by display name
    newcomer = make.user("newcomer", display_name="Beta 新管理员", home_region=VILLAGE)
    headers = make.headers(station_admin)
    admins_url = f"{API}/sites/{site.id}/admins"

    def listed() -> list[dict[str, Any]]:
        response = client.get(admins_url, headers=headers)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()
        return result

    own = {
        "user_id": str(station_admin.id),
        "display_name": "Alpha 管理员",
        "username": station_admin.username,
    }
    assert listed() == [own]
    assert (
        "site_admin" not in client.get(f"{API}/me", headers=make.headers(newcomer)).json()["roles"]
    )

    added = client.post(admins_url, json={"user_id": str(newcomer.id)}, headers=headers)
    assert added.status_code == 201, added.text
    new = {"user_id": str(newcomer.id), "display_name": "Beta 新管理员", "username": "newcomer"}
    assert added.json() == new
    assert listed() == [own, new]

    me = client.get(f"{API}/me", headers=make.headers(newcomer)).json()
    assert "site_admin" in me["roles"]
    assert me["admin_of_sites"] == [{"site_id": str(site.id), "region_code": VILLAGE}]
    acts = client.patch(
        f"{API}/sites/{site.id}", json={"address": "新地址"}, headers=make.headers(newcomer)
    )
    assert acts.status_code == 200, acts.text

    again = client.post(admins_url, json={"user_id": str(newcomer.id)}, headers=headers)
    assert again.status_code == 201, again.text
    assert listed() == [own, new]

    removed = client.delete(f"{admins_url}/{newcomer.id}", headers=headers)
    assert removed.status_code == 204, removed.text
    assert removed.content == b""
    assert listed() == [own]
    me = client.get(f"{API}/me", headers=make.headers(newcomer)).json()
    assert ("site_admin" in me["roles"], me["admin_of_sites"]) == (False, [])
    refused = client.patch(
        f"{API}/sites/{site.id}", json={"address": "再改"}, headers=make.headers(newcomer)
    )
    assert_problem(refused, 403, "admin_required")

    assert_problem(client.delete(f"{admins_url}/{newcomer.id}", headers=headers), 404, "not_admin")


def test_site_admin_errors(client: TestClient, make: Factory) -> None:
    site = make.site(VILLAGE)
    platform = make.headers(make.platform_admin())
    admins_url = f"{API}/sites/{site.id}/admins"
    assert_problem(
        client.post(admins_url, json={"user_id": str(uuid.uuid4())}, headers=platform),
        404,
        "user_not_found",
    )
    assert_problem(
        client.post(admins_url, json={"user_id": "nope"}, headers=platform),
        422,
        "validation_error",
    )
    assert_problem(
        client.get(f"{API}/sites/{uuid.uuid4()}/admins", headers=platform), 404, "site_not_found"
    )
    resident = make.user()
    assert_problem(client.delete(f"{admins_url}/{resident.id}", headers=platform), 404, "not_admin")


def test_institute_admin_manages_village_admins_but_not_the_reverse(
    client: TestClient, make: Factory
) -> None:
    village_site = make.site(VILLAGE)
    township_site = make.site(TOWNSHIP)
    institute_admin = make.site_admin(TOWNSHIP)
    station_admin = make.site_admin(VILLAGE)
    candidate = make.user(display_name="候选人", home_region=VILLAGE)

    upward = client.post(
        f"{API}/sites/{township_site.id}/admins",
        json={"user_id": str(station_admin.id)},
        headers=make.headers(station_admin),
    )
    assert_problem(upward, 403, "outside_scope")
    assert_problem(
        client.delete(
            f"{API}/sites/{township_site.id}/admins/{institute_admin.id}",
            headers=make.headers(station_admin),
        ),
        403,
        "outside_scope",
    )

    downward = client.post(
        f"{API}/sites/{village_site.id}/admins",
        json={"user_id": str(candidate.id)},
        headers=make.headers(institute_admin),
    )
    assert downward.status_code == 201, downward.text
    listed = client.get(
        f"{API}/sites/{village_site.id}/admins", headers=make.headers(institute_admin)
    ).json()
    assert sorted(a["user_id"] for a in listed) == sorted(
        [str(station_admin.id), str(candidate.id)]
    )
    still = client.get(
        f"{API}/sites/{township_site.id}/admins", headers=make.headers(institute_admin)
    )
    assert [a["user_id"] for a in still.json()] == [str(institute_admin.id)]


def test_site_admins_appoint_only_people_of_their_region(client: TestClient, make: Factory) -> None:
    site = make.site(VILLAGE)
    admin = make.site_admin(VILLAGE)
    stranger = make.user(display_name="外县用户", home_region="140803100200")
    refused = client.post(
        f"{API}/sites/{site.id}/admins",
        json={"user_id": str(stranger.id)},
        headers=make.headers(admin),
    )
    assert_problem(refused, 404, "user_not_found")
    assert "外县用户" not in refused.text
    platform = make.platform_admin()
    allowed = client.post(
        f"{API}/sites/{site.id}/admins",
        json={"user_id": str(stranger.id)},
        headers=make.headers(platform),
    )
    assert allowed.status_code == 201


def test_site_patch_refuses_null_fields(client: TestClient, make: Factory) -> None:
    site = make.site(VILLAGE)
    admin = make.site_admin(VILLAGE)
    response = client.patch(
        f"{API}/sites/{site.id}", json={"name": None}, headers=make.headers(admin)
    )
    assert_problem(response, 422, "null_field")
