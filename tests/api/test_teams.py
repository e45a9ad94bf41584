"""Teams over HTTP: creation, the profile, leader and admin rights, members, the directory."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts.models import User
from app.catalog.models import Category
from app.teams.models import Team, TeamStatus
from app.volunteers.models import Volunteer, VolunteerStatus
from tests.factories import Factory, World

API = "/api/v1"
PROBLEM = "application/problem+json"

COUNTY = "140802000000"
TOWNSHIP = "140802100000"
VILLAGE = "140802100200"  # make.world's village
SIBLING_VILLAGE = "140802100201"
OTHER_COUNTY_VILLAGE = "140803100200"


@pytest.fixture
def world(make: Factory) -> World:
    return make.world(COUNTY)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


def user_of(make: Factory, volunteer: Volunteer) -> User:
    user = make.session.get(User, volunteer.user_id)
    assert user is not None
    return user


def read_team(client: TestClient, headers: dict[str, str], team_id: uuid.UUID) -> dict[str, Any]:
    response = client.get(f"{API}/teams/{team_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def members(client: TestClient, headers: dict[str, str], team_id: uuid.UUID) -> list[list[str]]:
    response = client.get(f"{API}/teams/{team_id}/members", headers=headers)
    assert response.status_code == 200, response.text
    return [[m["real_name"], m["role"]] for m in response.json()]


# --- creation ------------------------------------------------------------------------------------


def test_station_admin_founds_a_team(client: TestClient, make: Factory, world: World) -> None:
    village_site = make.site(VILLAGE)
    leader = make.volunteer(VILLAGE, name="陈律师")
    admin = make.headers(world.station_admin)

    response = client.post(
        f"{API}/teams",
        json={
            "name": "  蓝色法律援助志愿服务队 ",
            "site_id": str(village_site.id),
            "specialties": ["legal_aid", "care", "legal_aid"],
            "brand": "蓝色法律援助",
            "description": "法律咨询、矛盾调解",
            "location": {"lat": 35.03, "lng": 111.01, "coord_system": "gcj02"},
            "service_radius_km": 5.5,
            "capacity": 4,
            "founded_on": "2024-03-05",
            "leader_volunteer_id": str(leader.id),
        },
        headers=admin,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    team_id = uuid.UUID(body.pop("id"))
    assert body.pop("created_at")
    assert body == {
        "name": "蓝色法律援助志愿服务队",
        "site_id": str(village_site.id),
        "region_code": VILLAGE,
        "brand": "蓝色法律援助",
        "description": "法律咨询、矛盾调解",
        "specialties": ["care", "legal_aid"],
        "location": {"lat": 35.03, "lng": 111.01, "coord_system": "gcj02"},
        "service_radius_km": 5.5,
        "capacity": 4,
        "status": "active",
        "founded_on": "2024-03-05",
        "leader": {"volunteer_id": str(leader.id), "name": "陈律师"},
        "member_count": 1,
    }
    assert members(client, admin, team_id) == [["陈律师", "leader"]]
    me = client.get(f"{API}/me", headers=make.headers(user_of(make, leader))).json()
    assert "team_leader" in me["roles"]
    assert me["teams"] == [{"team_id": str(team_id), "role": "leader"}]


def test_minimal_team_has_defaults(client: TestClient, make: Factory, world: World) -> None:
    response = client.post(
        f"{API}/teams",
        json={
            "name": "红色党员先锋队",
            "site_id": str(world.team.site_id),
            "specialties": ["youth"],
        },
        headers=make.headers(world.station_admin),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["capacity"], body["status"], body["leader"], body["member_count"]) == (
        3,
        "active",
        None,
        0,
    )
    assert (body["brand"], body["description"], body["location"], body["founded_on"]) == (
        None,
        "",
        None,
        None,
    )


def _team_names(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get(f"{API}/teams?limit=200", headers=headers)
    assert response.status_code == 200, response.text
    return sorted(t["name"] for t in response.json()["items"])


@pytest.mark.parametrize(
    "specialties",
    [
        pytest.param(["care", "no_such_service"], id="unknown"),
        pytest.param(["retired_service"], id="inactive"),
    ],
)
def test_specialties_must_be_active_catalog_entries(
    client: TestClient, make: Factory, db: Session, world: World, specialties: list[str]
) -> None:
    db.add(Category(code="retired_service", name_zh="停用", name_en="Retired", active=False))
    db.flush()
    headers = make.headers(world.station_admin)
    before = _team_names(client, headers)

    response = client.post(
        f"{API}/teams",
        json={"name": "无效服务队", "site_id": str(world.team.site_id), "specialties": specialties},
        headers=headers,
    )

    body = assert_problem(response, 422, "unknown_category")
    assert specialties[-1] in body["detail"]
    assert _team_names(client, headers) == before


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        pytest.param({"specialties": []}, ["body", "specialties"], id="no-specialties"),
        pytest.param({"name": ""}, ["body", "name"], id="empty-name"),
        pytest.param({"capacity": 0}, ["body", "capacity"], id="zero-capacity"),
        pytest.param({"service_radius_km": -1}, ["body", "service_radius_km"], id="radius"),
        pytest.param({"site_id": "site-1"}, ["body", "site_id"], id="bad-site-id"),
    ],
)
def test_invalid_team_body(
    client: TestClient, make: Factory, world: World, change: dict[str, Any], loc: list[str]
) -> None:
    body = {"name": "服务队", "site_id": str(world.team.site_id), "specialties": ["care"], **change}
    response = client.post(f"{API}/teams", json=body, headers=make.headers(world.station_admin))
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc


def test_team_creation_refusals(client: TestClient, make: Factory, world: World) -> None:
    headers = make.headers(world.station_admin)
    base = {"name": "服务队", "site_id": str(world.team.site_id), "specialties": ["care"]}
    before = _team_names(client, headers)

    unknown_site = client.post(
        f"{API}/teams", json={**base, "site_id": str(uuid.uuid4())}, headers=headers
    )
    assert_problem(unknown_site, 404, "site_not_found")
    pending_leader = client.post(
        f"{API}/teams", json={**base, "leader_volunteer_id": str(world.pending.id)}, headers=headers
    )
    body = assert_problem(pending_leader, 409, "volunteer_not_approved")
    assert body["current_state"] == "pending"
    sibling_site = make.site(SIBLING_VILLAGE)
    outside = client.post(
        f"{API}/teams", json={**base, "site_id": str(sibling_site.id)}, headers=headers
    )
    assert_problem(outside, 403, "outside_scope")
    leader_tries = client.post(f"{API}/teams", json=base, headers=make.headers(world.leader))
    assert_problem(leader_tries, 403, "admin_required")

    assert _team_names(client, headers) == before


# --- reading -------------------------------------------------------------------------------------


def test_read_team(client: TestClient, make: Factory, world: World) -> None:
    body = read_team(client, make.headers(world.member), world.team.id)
    assert body.pop("created_at")
    assert body == {
        "id": str(world.team.id),
        "name": world.team.name,
        "site_id": str(world.team.site_id),
        "region_code": VILLAGE,
        "brand": None,
        "description": "",
        "specialties": ["care"],
        "location": None,
        "service_radius_km": None,
        "capacity": 3,
        "status": "active",
        "founded_on": None,
        "leader": {"volunteer_id": str(world.leader_volunteer.id), "name": "王队长"},
        "member_count": 2,
    }
    outsider = read_team(client, make.headers(world.resident), world.team.id)
    assert outsider["leader"] == {"volunteer_id": str(world.leader_volunteer.id), "name": "王**"}
    assert outsider["member_count"] == 2


def test_unknown_team(client: TestClient, make: Factory, world: World) -> None:
    headers = make.headers(world.station_admin)
    missing = uuid.uuid4()
    assert_problem(client.get(f"{API}/teams/{missing}", headers=headers), 404, "team_not_found")
    assert_problem(
        client.patch(f"{API}/teams/{missing}", json={"name": "x"}, headers=headers),
        404,
        "team_not_found",
    )
    assert_problem(
        client.get(f"{API}/teams/{missing}/members", headers=headers), 404, "team_not_found"
    )
    assert_problem(client.get(f"{API}/teams/42", headers=headers), 422, "validation_error")


# --- PATCH: leaders edit the profile, admins also status and leader ----------------------------


def test_leader_edits_the_profile(client: TestClient, make: Factory, world: World) -> None:
    headers = make.headers(world.leader)
    change = {
        "name": "黄色文明新风服务队",
        "brand": "黄色文明新风",
        "description": "移风易俗宣传",
        "specialties": ["civility", "health_education"],
        "location": {"lat": 35.0, "lng": 111.0, "coord_system": "bd09"},
        "service_radius_km": 3.0,
        "capacity": 6,
        "founded_on": "2023-12-05",
    }

    response = client.patch(f"{API}/teams/{world.team.id}", json=change, headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert {key: body[key] for key in change} == change
    assert (body["status"], body["leader"]["name"], body["member_count"]) == ("active", "王队长", 2)
    assert read_team(client, headers, world.team.id) == body

    partial = client.patch(
        f"{API}/teams/{world.team.id}", json={"description": "新简介"}, headers=headers
    )
    assert partial.status_code == 200, partial.text
    assert {key: partial.json()[key] for key in change} == {**change, "description": "新简介"}

    cleared = client.patch(
        f"{API}/teams/{world.team.id}", json={"location": None, "brand": None}, headers=headers
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["location"], cleared.json()["brand"]) == (None, None)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"status": "suspended"}, id="status"),
        pytest.param({"status": None}, id="status-null"),
        pytest.param({"leader_volunteer_id": "member"}, id="leader"),
        pytest.param({"name": "夺权服务队", "status": "dissolved"}, id="name-and-status"),
    ],
)
def test_leader_cannot_change_admin_fields(
    client: TestClient, make: Factory, world: World, change: dict[str, Any]
) -> None:
    if change.get("leader_volunteer_id") == "member":
        change = {"leader_volunteer_id": str(world.member_volunteer.id)}
    headers = make.headers(world.leader)
    before = read_team(client, headers, world.team.id)

    response = client.patch(f"{API}/teams/{world.team.id}", json=change, headers=headers)

    assert_problem(response, 403, "admin_only_field")
    assert read_team(client, headers, world.team.id) == before


def test_admin_sets_status_and_leader(client: TestClient, make: Factory, world: World) -> None:
    admin = make.headers(world.institute_admin)

    suspended = client.patch(
        f"{API}/teams/{world.team.id}", json={"status": "suspended"}, headers=admin
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"

    new_leader = client.patch(
        f"{API}/teams/{world.team.id}",
        json={"leader_volunteer_id": str(world.member_volunteer.id), "status": "active"},
        headers=admin,
    )
    assert new_leader.status_code == 200, new_leader.text
    assert new_leader.json()["status"] == "active"
    assert new_leader.json()["leader"] == {
        "volunteer_id": str(world.member_volunteer.id),
        "name": "李队员",
    }
    assert new_leader.json()["member_count"] == 2
    assert members(client, admin, world.team.id) == [["李队员", "leader"], ["王队长", "member"]]

    # The old leader lost the leader's rights with the role.
    old = client.patch(
        f"{API}/teams/{world.team.id}",
        json={"name": "旧队长改名"},
        headers=make.headers(world.leader),
    )
    assert_problem(old, 403, "not_team_manager")
    renamed = client.patch(
        f"{API}/teams/{world.team.id}",
        json={"name": "新队长改名"},
        headers=make.headers(world.member),
    )
    assert renamed.status_code == 200, renamed.text


def test_admin_cannot_appoint_a_pending_or_unknown_leader(
    client: TestClient, make: Factory, world: World
) -> None:
    admin = make.headers(world.station_admin)
    pending = client.patch(
        f"{API}/teams/{world.team.id}",
        json={"leader_volunteer_id": str(world.pending.id)},
        headers=admin,
    )
    assert assert_problem(pending, 409, "volunteer_not_approved")["current_state"] == "pending"
    unknown = client.patch(
        f"{API}/teams/{world.team.id}",
        json={"leader_volunteer_id": str(uuid.uuid4())},
        headers=admin,
    )
    assert_problem(unknown, 404, "volunteer_not_found")
    assert read_team(client, admin, world.team.id)["leader"]["name"] == "王队长"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        pytest.param({"name": None}, 422, "null_field", id="null-name"),
        pytest.param({"capacity": None}, 422, "null_field", id="null-capacity"),
        pytest.param({"capacity": 1001}, 422, "validation_error", id="capacity-too-big"),
        pytest.param({"specialties": ["nope"]}, 422, "unknown_category", id="unknown-category"),
        pytest.param({"specialties": []}, 422, "validation_error", id="no-specialties"),
        pytest.param({"status": "closed"}, 422, "validation_error", id="unknown-status"),
    ],
)
def test_invalid_patch(
    client: TestClient, make: Factory, world: World, change: dict[str, Any], status: int, code: str
) -> None:
    headers = make.headers(world.station_admin)
    before = read_team(client, headers, world.team.id)
    response = client.patch(f"{API}/teams/{world.team.id}", json=change, headers=headers)
    assert_problem(response, status, code)
    assert read_team(client, headers, world.team.id) == before


@pytest.mark.parametrize("who", ["member", "resident", "pending"])
def test_non_managers_cannot_patch(
    client: TestClient, make: Factory, world: World, who: str
) -> None:
    user = user_of(make, world.pending) if who == "pending" else getattr(world, who)
    response = client.patch(
        f"{API}/teams/{world.team.id}", json={"description": "x"}, headers=make.headers(user)
    )
    assert_problem(response, 403, "not_team_manager")


# --- members -------------------------------------------------------------------------------------


def add(
    client: TestClient, headers: dict[str, str], team: Team, volunteer_id: uuid.UUID, **extra: str
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{API}/teams/{team.id}/members",
        json={"volunteer_id": str(volunteer_id), **extra},
        headers=headers,
    )
    return response


def test_leader_adds_an_approved_volunteer(client: TestClient, make: Factory, world: World) -> None:
    newcomer = make.volunteer(VILLAGE, name="孙新人")
    headers = make.headers(world.leader)

    response = add(client, headers, world.team, newcomer.id)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body.pop("joined_at")
    assert body == {
        "volunteer_id": str(newcomer.id),
        "real_name": "孙新人",
        "phone": newcomer.phone_masked,
        "role": "member",
    }
    assert "****" in body["phone"]
    assert read_team(client, headers, world.team.id)["member_count"] == 3
    assert members(client, headers, world.team.id) == [
        ["王队长", "leader"],
        ["李队员", "member"],
        ["孙新人", "member"],
    ]
    me = client.get(f"{API}/me", headers=make.headers(user_of(make, newcomer))).json()
    assert me["teams"] == [{"team_id": str(world.team.id), "role": "member"}]


def test_adding_a_pending_volunteer_conflicts(
    client: TestClient, make: Factory, world: World
) -> None:
    rejected = make.volunteer(VILLAGE, status=VolunteerStatus.REJECTED, name="钱驳回")
    headers = make.headers(world.leader)
    for volunteer, state in ((world.pending, "pending"), (rejected, "rejected")):
        response = add(client, headers, world.team, volunteer.id)
        assert assert_problem(response, 409, "volunteer_not_approved")["current_state"] == state
    assert read_team(client, headers, world.team.id)["member_count"] == 2


def test_adding_a_member_twice_conflicts(client: TestClient, make: Factory, world: World) -> None:
    headers = make.headers(world.leader)
    for volunteer in (world.member_volunteer, world.leader_volunteer):
        assert_problem(add(client, headers, world.team, volunteer.id), 409, "already_member")
    assert members(client, headers, world.team.id) == [["王队长", "leader"], ["李队员", "member"]]


@pytest.mark.parametrize(
    "region",
    [SIBLING_VILLAGE, TOWNSHIP, OTHER_COUNTY_VILLAGE],
    ids=["sibling", "township", "other"],
)
def test_leader_cannot_add_from_outside_the_team_region(
    client: TestClient, make: Factory, world: World, region: str
) -> None:
    stranger = make.volunteer(region, name="外村人")
    headers = make.headers(world.leader)

    response = add(client, headers, world.team, stranger.id)

    assert_problem(response, 404, "volunteer_not_found")
    assert "外村人" not in response.text
    assert str(stranger.id) not in response.text
    assert read_team(client, headers, world.team.id)["member_count"] == 2


def test_admin_adds_from_its_whole_region(client: TestClient, make: Factory, world: World) -> None:
    sibling = make.volunteer(SIBLING_VILLAGE, name="周邻村")
    station = add(client, make.headers(world.station_admin), world.team, sibling.id)
    assert_problem(station, 404, "volunteer_not_found")

    institute = add(client, make.headers(world.institute_admin), world.team, sibling.id)
    assert institute.status_code == 201, institute.text
    assert institute.json()["real_name"] == "周邻村"


def test_member_add_refusals(client: TestClient, make: Factory, db: Session, world: World) -> None:
    newcomer = make.volunteer(VILLAGE, name="吴新人")
    leader = make.headers(world.leader)

    assert_problem(add(client, leader, world.team, uuid.uuid4()), 404, "volunteer_not_found")
    assert_problem(
        add(client, leader, world.team, newcomer.id, role="leader"), 403, "admin_only_field"
    )
    assert_problem(
        add(client, make.headers(world.member), world.team, newcomer.id), 403, "not_team_manager"
    )
    assert_problem(
        add(client, make.headers(world.resident), world.team, newcomer.id), 403, "not_team_manager"
    )
    assert_problem(
        add(client, leader, world.team, newcomer.id, role="boss"), 422, "validation_error"
    )

    world.team.status = TeamStatus.SUSPENDED.value
    db.add(world.team)
    db.flush()
    suspended = add(client, leader, world.team, newcomer.id)
    assert assert_problem(suspended, 409, "team_not_active")["current_state"] == "suspended"
    assert members(client, leader, world.team.id) == [["王队长", "leader"], ["李队员", "member"]]


def test_admin_appoints_a_leader_by_adding(client: TestClient, make: Factory, world: World) -> None:
    newcomer = make.volunteer(VILLAGE, name="郑新队长")
    admin = make.headers(world.station_admin)

    response = add(client, admin, world.team, newcomer.id, role="leader")

    assert response.status_code == 201, response.text
    assert (response.json()["real_name"], response.json()["role"]) == ("郑新队长", "leader")
    assert members(client, admin, world.team.id) == [
        ["郑新队长", "leader"],
        ["王队长", "member"],
        ["李队员", "member"],
    ]


def test_remove_members(client: TestClient, make: Factory, world: World) -> None:
    leader = make.headers(world.leader)
    url = f"{API}/teams/{world.team.id}/members"

    removed = client.delete(f"{url}/{world.member_volunteer.id}", headers=leader)
    assert removed.status_code == 204, removed.text
    assert members(client, leader, world.team.id) == [["王队长", "leader"]]
    assert read_team(client, leader, world.team.id)["member_count"] == 1
    gone = make.headers(world.member)
    assert client.get(f"{API}/me", headers=gone).json()["teams"] == []
    assert_problem(client.get(f"{url}", headers=gone), 403, "not_team_member")

    again = client.delete(f"{url}/{world.member_volunteer.id}", headers=leader)
    assert_problem(again, 404, "not_member")
    self_removal = client.delete(f"{url}/{world.leader_volunteer.id}", headers=leader)
    assert_problem(self_removal, 403, "admin_only_field")
    assert members(client, leader, world.team.id) == [["王队长", "leader"]]

    admin = make.headers(world.station_admin)
    by_admin = client.delete(f"{url}/{world.leader_volunteer.id}", headers=admin)
    assert by_admin.status_code == 204, by_admin.text
    assert read_team(client, admin, world.team.id)["leader"] is None
    assert members(client, admin, world.team.id) == []


# --- the directory: filters and pages -----------------------------------------------------------


@pytest.fixture
def directory(make: Factory, db: Session, world: World) -> dict[str, Team]:
    """world.team (village, care), a sibling village's legal aid team, a suspended township team,
    a dissolved one, and one in another county."""
    sibling = make.team(SIBLING_VILLAGE, name="东城法律服务队", specialties=("legal_aid",))
    township = make.team(TOWNSHIP, name="北城安全服务队", specialties=("care", "safety"))
    township.status = TeamStatus.SUSPENDED.value
    dissolved = make.team(VILLAGE, name="已解散服务队", specialties=("safety",))
    dissolved.status = TeamStatus.DISSOLVED.value
    other = make.team(OTHER_COUNTY_VILLAGE, name="外县法律服务队", specialties=("legal_aid",))
    db.add_all([township, dissolved])
    db.flush()
    return {
        "village": world.team,
        "sibling": sibling,
        "township": township,
        "dissolved": dissolved,
        "other": other,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", ["village", "sibling", "township", "dissolved", "other"], id="all"),
        pytest.param(f"region={VILLAGE}", ["village", "dissolved"], id="region-village"),
        pytest.param(
            f"region={TOWNSHIP}",
            ["village", "sibling", "township", "dissolved"],
            id="region-township",
        ),
        pytest.param(f"region={OTHER_COUNTY_VILLAGE}", ["other"], id="region-other"),
        pytest.param("region=140802109000", [], id="region-empty"),
        pytest.param("category=legal_aid", ["sibling", "other"], id="category"),
        pytest.param("category=safety", ["township", "dissolved"], id="category-second"),
        pytest.param("category=no_such_service", [], id="category-unknown"),
        pytest.param("status=active", ["village", "sibling", "other"], id="status-active"),
        pytest.param("status=suspended", ["township"], id="status-suspended"),
        pytest.param(f"region={COUNTY}&category=care&status=active", ["village"], id="combined"),
        pytest.param("q=法律", ["sibling", "other"], id="name"),
    ],
)
def test_team_listing_filters(
    client: TestClient,
    make: Factory,
    world: World,
    directory: dict[str, Team],
    query: str,
    expected: list[str],
) -> None:
    response = client.get(f"{API}/teams?{query}", headers=make.headers(world.resident))
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    got = [t["id"] for t in response.json()["items"]]
    assert got == sorted(str(directory[key].id) for key in expected)


def test_team_listing_by_site(
    client: TestClient, make: Factory, world: World, directory: dict[str, Team]
) -> None:
    response = client.get(
        f"{API}/teams?site_id={world.team.site_id}", headers=make.headers(world.resident)
    )
    assert response.status_code == 200, response.text
    assert [t["id"] for t in response.json()["items"]] == sorted(
        str(directory[key].id) for key in ("village", "dissolved")
    )


def test_team_listing_pages_with_a_cursor(
    client: TestClient, make: Factory, world: World, directory: dict[str, Team]
) -> None:
    headers = make.headers(world.resident)
    expected = sorted(str(team.id) for team in directory.values())
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"{API}/teams?{query}", headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["id"])
        cursor = page["next_cursor"]
        if cursor is None or pages > len(expected):
            break
    assert seen == expected
    assert pages == len(expected)

    filtered = client.get(f"{API}/teams?limit=1&status=active", headers=headers).json()
    rest = client.get(
        f"{API}/teams?limit=5&status=active&cursor={filtered['next_cursor']}", headers=headers
    ).json()
    assert [t["id"] for t in filtered["items"] + rest["items"]] == sorted(
        str(directory[key].id) for key in ("village", "sibling", "other")
    )
    assert rest["next_cursor"] is None


def _cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("cursor=%21%21%21", "invalid_cursor", id="garbage-cursor"),
        pytest.param(f"cursor={_cursor_of('not-a-uuid')}", "invalid_cursor", id="not-a-uuid"),
        pytest.param("cursor=" + "A" * 201, "validation_error", id="long-cursor"),
        pytest.param("limit=0", "validation_error", id="limit-0"),
        pytest.param("limit=201", "validation_error", id="limit-201"),
        pytest.param("region=14080210", "invalid_region_code", id="bad-region"),
        pytest.param("status=closed", "validation_error", id="bad-status"),
        pytest.param("site_id=abc", "validation_error", id="bad-site"),
    ],
)
def test_invalid_listing_queries(
    client: TestClient, make: Factory, world: World, query: str, code: str
) -> None:
    response = client.get(f"{API}/teams?{query}", headers=make.headers(world.resident))
    body = assert_problem(response, 422, code)
    assert body["instance"] == "/api/v1/teams"
