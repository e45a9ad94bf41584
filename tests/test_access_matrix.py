"""Who may act on what, as tables.

Two worlds in two counties: A (140802, 盐湖区) and B (140803). Every endpoint that touches scoped
data is called by each of world B's people on world A's objects, and must answer 403 or 404 with a
problem body that carries none of world A's data, and change nothing. Inside world A, the region
hierarchy decides: a village station's admin stops at its village, an institute's admin reaches the
villages of its township, a center's admin the county, a platform admin everything.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.accounts.models import RoleGrant, User
from app.catalog.models import Category
from app.sites.models import Site
from app.teams.models import Team, TeamMember, TeamSpecialty
from app.volunteers.models import Volunteer, VolunteerStatus
from tests.factories import Factory, World

API = "/api/v1"
PROBLEM = "application/problem+json"

COUNTY_A = "140802000000"
COUNTY_B = "140803000000"
SIBLING_VILLAGE_A = "140802100201"  # beside world A's village, in the same township
NEW_VILLAGE_A = "140802100299"  # a region of world A's township without a site yet
NEW_TOWNSHIP_A = "140802101000"  # a region of world A's county without a site yet
NEW_VILLAGE_B = "140803100299"
A_TOWNSHIP = "140802100000"  # world A's township (make.world)
A_VILLAGE = "140802100200"  # world A's village

ADMINS = ("center_admin", "institute_admin", "station_admin")
NON_ADMINS = ("leader", "member", "resident")
B_ACTORS = ADMINS + NON_ADMINS

# World A's people get names of their own, so that a leak of one is visible in any body.
A_LEADER_NAME = "王甲"
A_LEADER_MASKED = "王*"
A_MEMBER_NAME = "李甲员"
A_PENDING_NAME = "赵甲申"
A_SPARE_NAME = "钱甲备"


@dataclass
class Scene:
    a: World
    b: World
    platform: User
    a_sites: dict[str, Site]  # county, township, village
    b_sites: dict[str, Site]
    a_spare: Volunteer  # approved, in A's village, member of a second team without a leader
    a_other_team: Team
    sibling_site: Site
    sibling_leader: User
    sibling_leader_volunteer: Volunteer
    sibling_team: Team
    sibling_volunteer: Volunteer  # approved, in no team
    sibling_pending: Volunteer
    a_secrets: list[str]

    def actor(self, name: str) -> User:
        """`b.station_admin`, `a.leader`, `sibling.leader` or `platform`."""
        if name == "platform":
            return self.platform
        if name == "sibling.leader":
            return self.sibling_leader
        world, _, role = name.partition(".")
        user: User = getattr(self.a if world == "a" else self.b, role)
        return user


def _rename(make: Factory, volunteer: Volunteer, name: str) -> None:
    volunteer.real_name = name
    user = make.session.get(User, volunteer.user_id)
    assert user is not None
    user.display_name = name


def _sites(make: Factory, world: World) -> dict[str, Site]:
    return {
        "county": make.site(world.county),
        "township": make.site(world.township),
        "village": make.site(world.village),
    }


@pytest.fixture
def scene(make: Factory) -> Scene:
    a = make.world(COUNTY_A)
    b = make.world(COUNTY_B)
    _rename(make, a.leader_volunteer, A_LEADER_NAME)
    _rename(make, a.member_volunteer, A_MEMBER_NAME)
    _rename(make, a.pending, A_PENDING_NAME)
    a.resident.display_name = "甲村居民"
    a.center_admin.display_name = "甲中心管理员"
    a.institute_admin.display_name = "甲所管理员"
    a.station_admin.display_name = "甲站管理员"
    a_spare = make.volunteer(a.village, name=A_SPARE_NAME)
    a_other_team = make.team(a.village, name="甲村第二服务队", specialties=("legal_aid",))
    make.member(a_other_team, a_spare)

    sibling_site = make.site(SIBLING_VILLAGE_A)
    sibling_leader_volunteer = make.volunteer(SIBLING_VILLAGE_A, name="孙邻长")
    sibling_team = make.team(SIBLING_VILLAGE_A, leader=sibling_leader_volunteer)
    sibling_leader = make.session.get(User, sibling_leader_volunteer.user_id)
    assert sibling_leader is not None
    sibling_volunteer = make.volunteer(SIBLING_VILLAGE_A, name="周邻员")
    sibling_pending = make.volunteer(
        SIBLING_VILLAGE_A, status=VolunteerStatus.PENDING, name="吴邻申"
    )
    make.region(NEW_VILLAGE_A)
    make.region(NEW_TOWNSHIP_A)
    make.region(NEW_VILLAGE_B)
    make.session.flush()

    a_sites = _sites(make, a)
    a_volunteers = [a.leader_volunteer, a.member_volunteer, a.pending, a_spare]
    a_users = [
        a.center_admin,
        a.institute_admin,
        a.station_admin,
        a.leader,
        a.member,
        a.resident,
        *(make.session.get(User, v.user_id) for v in (a.pending, a_spare)),
    ]
    secrets: list[str] = [str(a.team.id), a.team.name, str(a_other_team.id), a_other_team.name]
    secrets += [str(s.id) for s in a_sites.values()] + [s.name for s in a_sites.values()]
    for volunteer in a_volunteers:
        secrets += [str(volunteer.id), volunteer.real_name, volunteer.phone_masked]
        secrets += [volunteer.id_number_masked] if volunteer.id_number_masked else []
    for user in a_users:
        assert user is not None
        secrets += [str(user.id), user.display_name]
        secrets += [user.phone_masked] if user.phone_masked else []
        secrets += [user.username] if user.username else []
    return Scene(
        a=a,
        b=b,
        platform=make.platform_admin(),
        a_sites=a_sites,
        b_sites=_sites(make, b),
        a_spare=a_spare,
        a_other_team=a_other_team,
        sibling_site=sibling_site,
        sibling_leader=sibling_leader,
        sibling_leader_volunteer=sibling_leader_volunteer,
        sibling_team=sibling_team,
        sibling_volunteer=sibling_volunteer,
        sibling_pending=sibling_pending,
        a_secrets=sorted(set(secrets)),
    )


# --- helpers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None


def send(client: TestClient, make: Factory, user: User | None, call: Call) -> httpx.Response:
    headers = make.headers(user) if user is not None else {}
    response: httpx.Response = client.request(
        call.method, API + call.path, json=call.body, headers=headers
    )
    return response


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body


def leaked(response: httpx.Response, secrets: list[str]) -> list[str]:
    """World A's data found in the body; `instance` only echoes the caller's own request path."""
    body = response.json()
    if isinstance(body, dict):
        assert body.pop("instance", response.request.url.path) == response.request.url.path
    text = json.dumps(body, ensure_ascii=False)
    return [secret for secret in secrets if secret in text]


def snapshot(session: Session) -> list[str]:
    """Every scoped row, to show that a refused call changed nothing."""
    session.expire_all()
    rows: list[str] = []
    for model in (Site, Team, TeamMember, TeamSpecialty, Volunteer, RoleGrant, Category, User):
        rows += [f"{model.__name__}:{obj.model_dump()!r}" for obj in session.exec(select(model))]
    return sorted(rows)


# --- world B against world A ---------------------------------------------------------------------

Expect = tuple[int, str]
CallFor = Callable[[Scene, User], Call]


@dataclass(frozen=True)
class Row:
    name: str
    call: CallFor
    expect: dict[str, Expect]


def by_kind(*, admins: Expect, others: Expect) -> dict[str, Expect]:
    return {**dict.fromkeys(ADMINS, admins), **dict.fromkeys(NON_ADMINS, others)}


def everyone(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(B_ACTORS, expect)


OUTSIDE_SCOPE: Expect = (403, "outside_scope")
ADMIN_REQUIRED: Expect = (403, "admin_required")
NOT_MANAGER: Expect = (403, "not_team_manager")
NO_VOLUNTEER: Expect = (404, "volunteer_not_found")
PLATFORM_ONLY: Expect = (403, "platform_admin_required")
SITE_RULE = by_kind(admins=OUTSIDE_SCOPE, others=ADMIN_REQUIRED)
TEAM_BODY = {"name": "乙方渗透服务队", "specialties": ["care"]}


def _a_volunteer(scene: Scene, who: str) -> Volunteer:
    return {
        "leader": scene.a.leader_volunteer,
        "member": scene.a.member_volunteer,
        "pending": scene.a.pending,
    }[who]


def _rename_a_site(level: str) -> CallFor:
    return lambda s, u: Call("PATCH", f"/sites/{s.a_sites[level].id}", {"name": "改名"})


def _on_a_volunteer(who: str, suffix: str) -> CallFor:
    return lambda s, u: Call("GET", f"/volunteers/{_a_volunteer(s, who).id}{suffix}")


NOT_A_VOLUNTEER: Expect = (403, "not_a_volunteer")


def _omission(team_id: object) -> dict[str, object]:
    return {"team_id": str(team_id), "category_code": "care", "service_date": "2026-01-05",
            "hours": 2, "content": "补录", "reason": "漏记了"}  # fmt: skip


def _star_decision(verb: str) -> CallFor:
    return lambda s, u: Call(
        "POST",
        f"/volunteers/{s.a.member_volunteer.id}/star-applications/{uuid.uuid4()}/{verb}",
        {"reason": "乙方审核"},
    )


MATRIX: list[Row] = [
    # sites
    Row(
        "POST /sites on A's region",
        lambda s, u: Call("POST", "/sites", {"name": "乙建甲站", "region_code": NEW_VILLAGE_A}),
        SITE_RULE,
    ),
    *(
        Row(
            f"PATCH /sites/{{A {level}}}",
            _rename_a_site(level),
            SITE_RULE,
        )
        for level in ("county", "township", "village")
    ),
    Row(
        "GET /sites/{A village}/admins",
        lambda s, u: Call("GET", f"/sites/{s.a_sites['village'].id}/admins"),
        SITE_RULE,
    ),
    Row(
        "POST /sites/{A village}/admins (self)",
        lambda s, u: Call(
            "POST", f"/sites/{s.a_sites['village'].id}/admins", {"user_id": str(u.id)}
        ),
        SITE_RULE,
    ),
    Row(
        "DELETE /sites/{A village}/admins/{A admin}",
        lambda s, u: Call(
            "DELETE", f"/sites/{s.a_sites['village'].id}/admins/{s.a.station_admin.id}"
        ),
        SITE_RULE,
    ),
    # teams
    Row(
        "POST /teams at A's site",
        lambda s, u: Call("POST", "/teams", {**TEAM_BODY, "site_id": str(s.a_sites["village"].id)}),
        SITE_RULE,
    ),
    Row(
        "PATCH /teams/{A} profile",
        lambda s, u: Call("PATCH", f"/teams/{s.a.team.id}", {"description": "乙改"}),
        everyone(NOT_MANAGER),
    ),
    Row(
        "PATCH /teams/{A} status",
        lambda s, u: Call("PATCH", f"/teams/{s.a.team.id}", {"status": "suspended"}),
        everyone(NOT_MANAGER),
    ),
    Row(
        "POST /teams/{A}/projects",
        lambda s, u: Call(
            "POST", f"/teams/{s.a.team.id}/projects", {"title": "乙方项目", "category_code": "care"}
        ),
        everyone(NOT_MANAGER),
    ),
    Row(
        "GET /teams/{A}/members",
        lambda s, u: Call("GET", f"/teams/{s.a.team.id}/members"),
        everyone((403, "not_team_member")),
    ),
    Row(
        "POST /teams/{A}/members",
        lambda s, u: Call(
            "POST", f"/teams/{s.a.team.id}/members", {"volunteer_id": str(s.a_spare.id)}
        ),
        everyone(NOT_MANAGER),
    ),
    Row(
        "DELETE /teams/{A}/members/{A member}",
        lambda s, u: Call("DELETE", f"/teams/{s.a.team.id}/members/{s.a.member_volunteer.id}"),
        everyone(NOT_MANAGER),
    ),
    Row(
        "POST /teams/{B}/members with A's approved volunteer",
        lambda s, u: Call(
            "POST", f"/teams/{s.b.team.id}/members", {"volunteer_id": str(s.a_spare.id)}
        ),
        {**by_kind(admins=NO_VOLUNTEER, others=NOT_MANAGER), "leader": NO_VOLUNTEER},
    ),
    Row(
        # Must not reveal that A's applicant exists or that they are pending (409 + state).
        "POST /teams/{B}/members with A's pending volunteer",
        lambda s, u: Call(
            "POST", f"/teams/{s.b.team.id}/members", {"volunteer_id": str(s.a.pending.id)}
        ),
        {**by_kind(admins=NO_VOLUNTEER, others=NOT_MANAGER), "leader": NO_VOLUNTEER},
    ),
    Row(
        "PATCH /teams/{B} leader = A's pending volunteer",
        lambda s, u: Call(
            "PATCH", f"/teams/{s.b.team.id}", {"leader_volunteer_id": str(s.a.pending.id)}
        ),
        {**by_kind(admins=NO_VOLUNTEER, others=NOT_MANAGER), "leader": (403, "admin_only_field")},
    ),
    Row(
        "PATCH /teams/{B} leader = A's member",
        lambda s, u: Call(
            "PATCH",
            f"/teams/{s.b.team.id}",
            {"leader_volunteer_id": str(s.a.member_volunteer.id)},
        ),
        {**by_kind(admins=NO_VOLUNTEER, others=NOT_MANAGER), "leader": (403, "admin_only_field")},
    ),
    Row(
        "POST /teams at B's site led by A's member",
        lambda s, u: Call(
            "POST",
            "/teams",
            {
                **TEAM_BODY,
                "site_id": str(s.b_sites["village"].id),
                "leader_volunteer_id": str(s.a.member_volunteer.id),
            },
        ),
        by_kind(admins=NO_VOLUNTEER, others=ADMIN_REQUIRED),
    ),
    # volunteers
    *(
        Row(
            f"GET /volunteers/{{A {who}}}",
            _on_a_volunteer(who, ""),
            everyone(NO_VOLUNTEER),
        )
        for who in ("leader", "member", "pending")
    ),
    Row(
        "PATCH /volunteers/{A member}",
        lambda s, u: Call("PATCH", f"/volunteers/{s.a.member_volunteer.id}", {"skills": ["care"]}),
        everyone(NO_VOLUNTEER),
    ),
    *(
        Row(
            f"GET /volunteers/{{A {who}}}/personal",
            _on_a_volunteer(who, "/personal"),
            everyone(NO_VOLUNTEER),
        )
        for who in ("member", "pending")
    ),
    Row(
        "POST /volunteers/{A member}/transfer",
        lambda s, u: Call(
            "POST",
            f"/volunteers/{s.a.member_volunteer.id}/transfer",
            {"region_code": NEW_VILLAGE_B, "reason": "乙方迁走"},
        ),
        everyone(NO_VOLUNTEER),
    ),
    Row(
        "GET /volunteers/{A member}/transfers",
        _on_a_volunteer("member", "/transfers"),
        everyone(NO_VOLUNTEER),
    ),
    Row(
        "POST /volunteers/{A member}/star-applications",
        lambda s, u: Call("POST", f"/volunteers/{s.a.member_volunteer.id}/star-applications", {}),
        everyone(NO_VOLUNTEER),
    ),
    Row(
        "GET /volunteers/{A member}/star-applications",
        _on_a_volunteer("member", "/star-applications"),
        everyone(NO_VOLUNTEER),
    ),
    *(
        Row(
            f"POST /volunteers/{{A member}}/star-applications/{{id}}/{verb}",
            _star_decision(verb),
            everyone(NO_VOLUNTEER),
        )
        for verb in ("approve", "reject")
    ),
    Row(
        "PUT /regions/{A county}/star-thresholds",
        lambda s, u: Call("PUT", f"/regions/{COUNTY_A}/star-thresholds", {"hours": [1, 2]}),
        SITE_RULE,
    ),
    Row(
        "DELETE /regions/{A county}/star-thresholds",
        lambda s, u: Call("DELETE", f"/regions/{COUNTY_A}/star-thresholds"),
        SITE_RULE,
    ),
    Row(
        "POST /volunteers/{A pending}/approve",
        lambda s, u: Call("POST", f"/volunteers/{s.a.pending.id}/approve", {"note": "乙批"}),
        by_kind(admins=NO_VOLUNTEER, others=ADMIN_REQUIRED),
    ),
    Row(
        "POST /volunteers/{A pending}/reject",
        lambda s, u: Call("POST", f"/volunteers/{s.a.pending.id}/reject", {"reason": "乙驳回"}),
        by_kind(admins=NO_VOLUNTEER, others=ADMIN_REQUIRED),
    ),
    # records
    Row(
        "POST /correction-requests: an omission with A's team",
        lambda s, u: Call("POST", "/correction-requests", _omission(s.a.team.id)),
        {
            **by_kind(admins=NOT_A_VOLUNTEER, others=(403, "not_team_member")),
            "resident": NOT_A_VOLUNTEER,
        },
    ),
    # platform-wide writes
    Row(
        "POST /users",
        lambda s, u: Call(
            "POST",
            "/users",
            {"username": "b_made_admin", "password": "long enough pw", "display_name": "乙造"},
        ),
        everyone(PLATFORM_ONLY),
    ),
    Row(
        "POST /categories",
        lambda s, u: Call(
            "POST", "/categories", {"code": "b_new", "name_zh": "乙类", "name_en": "B kind"}
        ),
        everyone(PLATFORM_ONLY),
    ),
    Row(
        "PATCH /categories/care",
        lambda s, u: Call("PATCH", "/categories/care", {"active": False}),
        everyone(PLATFORM_ONLY),
    ),
]


@pytest.mark.parametrize(
    ("row", "actor"),
    [
        pytest.param(row, actor, id=f"{row.name} by B.{actor}")
        for row in MATRIX
        for actor in B_ACTORS
    ],
)
def test_world_b_cannot_touch_world_a(
    client: TestClient, make: Factory, db: Session, scene: Scene, row: Row, actor: str
) -> None:
    user = scene.actor(f"b.{actor}")
    status, code = row.expect[actor]
    before = snapshot(db)

    response = send(client, make, user, row.call(scene, user))

    assert status in (403, 404)
    assert_problem(response, status, code)
    assert leaked(response, scene.a_secrets) == []
    assert snapshot(db) == before


# --- the region hierarchy inside world A, and the platform admin -------------------------------

OK = (200, None)
CREATED = (201, None)
ExpectOk = tuple[int, str | None]


@dataclass(frozen=True)
class Step:
    actor: str
    name: str
    call: Callable[[Scene], Call]
    expect: ExpectOk
    # On success: a field of the answer and its value.
    field: tuple[str, Any] | None = None


def _patch_site(key: str) -> Callable[[Scene], Call]:
    def build(s: Scene) -> Call:
        site = {
            "sibling": s.sibling_site,
            "b county": s.b_sites["county"],
            **s.a_sites,
        }[key]
        return Call("PATCH", f"/sites/{site.id}", {"name": f"{key}新名"})

    return build


def _site_admins(key: str) -> Callable[[Scene], Call]:
    return lambda s: Call("GET", f"/sites/{s.a_sites[key].id}/admins")


def _new_site(code: str) -> Callable[[Scene], Call]:
    return lambda s: Call("POST", "/sites", {"name": "新站点", "region_code": code})


def _approve(which: str) -> Callable[[Scene], Call]:
    def build(s: Scene) -> Call:
        volunteer = {"a": s.a.pending, "sibling": s.sibling_pending, "b": s.b.pending}[which]
        return Call("POST", f"/volunteers/{volunteer.id}/approve")

    return build


def _team_of(s: Scene, which: str) -> Team:
    return {"a": s.a.team, "sibling": s.sibling_team, "b": s.b.team}[which]


def _suspend(which: str) -> Callable[[Scene], Call]:
    return lambda s: Call("PATCH", f"/teams/{_team_of(s, which).id}", {"status": "suspended"})


def _members(which: str) -> Callable[[Scene], Call]:
    return lambda s: Call("GET", f"/teams/{_team_of(s, which).id}/members")


def _add_to_a_team(which: str) -> Callable[[Scene], Call]:
    def build(s: Scene) -> Call:
        volunteer = {"sibling": s.sibling_volunteer, "spare": s.a_spare}[which]
        return Call("POST", f"/teams/{s.a.team.id}/members", {"volunteer_id": str(volunteer.id)})

    return build


def _personal(which: str) -> Callable[[Scene], Call]:
    def build(s: Scene) -> Call:
        volunteer = {"a member": s.a.member_volunteer, "sibling": s.sibling_volunteer}[which]
        return Call("GET", f"/volunteers/{volunteer.id}/personal")

    return build


def _team_at(key: str) -> Callable[[Scene], Call]:
    def build(s: Scene) -> Call:
        site = {"sibling": s.sibling_site, **s.a_sites}[key]
        return Call("POST", "/teams", {**TEAM_BODY, "site_id": str(site.id)})

    return build


def _transfer(to: str) -> Callable[[Scene], Call]:
    return lambda s: Call(
        "POST",
        f"/volunteers/{s.a.member_volunteer.id}/transfer",
        {"region_code": to, "reason": "搬家"},
    )


def _thresholds(code: str) -> Callable[[Scene], Call]:
    return lambda s: Call("PUT", f"/regions/{code}/star-thresholds", {"hours": [1, 2]})


HIERARCHY: list[Step] = [
    # a village station's admin: its own village only
    Step("a.station_admin", "PATCH own village site", _patch_site("village"), OK,
         ("name", "village新名")),
    Step("a.station_admin", "PATCH sibling village site", _patch_site("sibling"),
         (403, "outside_scope")),
    Step("a.station_admin", "PATCH parent township site", _patch_site("township"),
         (403, "outside_scope")),
    Step("a.station_admin", "PATCH county site", _patch_site("county"), (403, "outside_scope")),
    Step("a.station_admin", "GET township site admins", _site_admins("township"),
         (403, "outside_scope")),
    Step("a.station_admin", "POST site on a sibling village", _new_site(NEW_VILLAGE_A),
         (403, "outside_scope")),
    Step("a.station_admin", "POST team at sibling site", _team_at("sibling"),
         (403, "outside_scope")),
    Step("a.station_admin", "approve own village's applicant", _approve("a"), OK,
         ("status", "approved")),
    Step("a.station_admin", "approve sibling village's applicant", _approve("sibling"),
         (404, "volunteer_not_found")),
    Step("a.station_admin", "read sibling volunteer's personal data", _personal("sibling"),
         (404, "volunteer_not_found")),
    Step("a.station_admin", "suspend sibling team", _suspend("sibling"),
         (403, "not_team_manager")),
    Step("a.station_admin", "list sibling team's members", _members("sibling"),
         (403, "not_team_member")),
    Step("a.station_admin", "add sibling volunteer to own team", _add_to_a_team("sibling"),
         (404, "volunteer_not_found")),
    Step("a.station_admin", "add own village volunteer to own team", _add_to_a_team("spare"),
         CREATED, ("real_name", A_SPARE_NAME)),
    Step("a.station_admin", "move A member to the sibling village", _transfer(SIBLING_VILLAGE_A),
         (403, "outside_scope")),
    Step("a.station_admin", "set own village's star thresholds", _thresholds(A_VILLAGE),
         (403, "county_admin_required")),
    # a team leader: the team, never the site
    Step("a.leader", "add sibling volunteer to own team", _add_to_a_team("sibling"),
         (404, "volunteer_not_found")),
    Step("a.leader", "suspend own team", _suspend("a"), (403, "admin_only_field")),
    Step("a.leader", "PATCH own village site", _patch_site("village"), (403, "admin_required")),
    Step("sibling.leader", "list A team's members", _members("a"), (403, "not_team_member")),
    # a township institute's admin: the villages below it
    Step("a.institute_admin", "PATCH village site", _patch_site("village"), OK,
         ("name", "village新名")),
    Step("a.institute_admin", "PATCH sibling village site", _patch_site("sibling"), OK,
         ("name", "sibling新名")),
    Step("a.institute_admin", "PATCH own township site", _patch_site("township"), OK,
         ("name", "township新名")),
    Step("a.institute_admin", "PATCH parent county site", _patch_site("county"),
         (403, "outside_scope")),
    Step("a.institute_admin", "GET county site admins", _site_admins("county"),
         (403, "outside_scope")),
    Step("a.institute_admin", "POST site on a new village", _new_site(NEW_VILLAGE_A), CREATED,
         ("level", "station")),
    Step("a.institute_admin", "POST site on a new township", _new_site(NEW_TOWNSHIP_A),
         (403, "outside_scope")),
    Step("a.institute_admin", "approve sibling village's applicant", _approve("sibling"), OK,
         ("status", "approved")),
    Step("a.institute_admin", "read sibling volunteer's personal data", _personal("sibling"), OK,
         ("real_name", "周邻员")),
    Step("a.institute_admin", "suspend sibling team", _suspend("sibling"), OK,
         ("status", "suspended")),
    Step("a.institute_admin", "list sibling team's members", _members("sibling"), OK),
    Step("a.institute_admin", "add sibling volunteer to A team", _add_to_a_team("sibling"),
         CREATED, ("real_name", "周邻员")),
    Step("a.institute_admin", "POST team at sibling site", _team_at("sibling"), CREATED,
         ("region_code", SIBLING_VILLAGE_A)),
    Step("a.institute_admin", "approve B's applicant", _approve("b"),
         (404, "volunteer_not_found")),
    Step("a.institute_admin", "move A member to the sibling village",
         _transfer(SIBLING_VILLAGE_A), CREATED, ("to_region_code", SIBLING_VILLAGE_A)),
    Step("a.institute_admin", "move A member to another township", _transfer(NEW_TOWNSHIP_A),
         (403, "outside_scope")),
    Step("a.institute_admin", "set own township's star thresholds", _thresholds(A_TOWNSHIP),
         (403, "county_admin_required")),
    # a county center's admin: the county
    Step("a.center_admin", "PATCH county site", _patch_site("county"), OK,
         ("name", "county新名")),
    Step("a.center_admin", "PATCH township site", _patch_site("township"), OK,
         ("name", "township新名")),
    Step("a.center_admin", "PATCH village site", _patch_site("village"), OK,
         ("name", "village新名")),
    Step("a.center_admin", "POST site on a new township", _new_site(NEW_TOWNSHIP_A), CREATED,
         ("level", "institute")),
    Step("a.center_admin", "approve A's applicant", _approve("a"), OK, ("status", "approved")),
    Step("a.center_admin", "read A member's personal data", _personal("a member"), OK,
         ("real_name", A_MEMBER_NAME)),
    Step("a.center_admin", "suspend A team", _suspend("a"), OK, ("status", "suspended")),
    Step("a.center_admin", "POST team at county site", _team_at("county"), CREATED,
         ("region_code", COUNTY_A)),
    Step("a.center_admin", "PATCH B's county site", _patch_site("b county"),
         (403, "outside_scope")),
    Step("a.center_admin", "approve B's applicant", _approve("b"), (404, "volunteer_not_found")),
    Step("a.center_admin", "POST site on B's village", _new_site(NEW_VILLAGE_B),
         (403, "outside_scope")),
    Step("a.center_admin", "move A member to another township", _transfer(NEW_TOWNSHIP_A),
         CREATED, ("to_region_code", NEW_TOWNSHIP_A)),
    Step("a.center_admin", "move A member to B's county", _transfer(NEW_VILLAGE_B),
         (403, "outside_scope")),
    Step("a.center_admin", "set B's star thresholds", _thresholds(COUNTY_B),
         (403, "outside_scope")),
    # the platform admin: everything
    Step("platform", "PATCH B's county site", _patch_site("b county"), OK,
         ("name", "b county新名")),
    Step("platform", "PATCH A's village site", _patch_site("village"), OK,
         ("name", "village新名")),
    Step("platform", "approve B's applicant", _approve("b"), OK, ("status", "approved")),
    Step("platform", "approve A's applicant", _approve("a"), OK, ("status", "approved")),
    Step("platform", "read A member's personal data", _personal("a member"), OK,
         ("real_name", A_MEMBER_NAME)),
    Step("platform", "suspend B team", _suspend("b"), OK, ("status", "suspended")),
    Step("platform", "list A team's members", _members("a"), OK),
    Step("platform", "POST site on B's village", _new_site(NEW_VILLAGE_B), CREATED,
         ("level", "station")),
    Step("platform", "POST team at sibling site", _team_at("sibling"), CREATED,
         ("region_code", SIBLING_VILLAGE_A)),
    Step("platform", "POST /users",
         lambda s: Call("POST", "/users", {"username": "made_by_platform",
                                           "password": "long enough pw", "display_name": "新人"}),
         CREATED, ("username", "made_by_platform")),
    Step("platform", "POST /categories",
         lambda s: Call("POST", "/categories", {"code": "river_patrol", "name_zh": "巡河护河",
                                                "name_en": "River patrol"}),
         CREATED, ("code", "river_patrol")),
]  # fmt: skip


@pytest.mark.parametrize(
    "step", [pytest.param(step, id=f"{step.actor}: {step.name}") for step in HIERARCHY]
)
def test_region_hierarchy(
    client: TestClient, make: Factory, db: Session, scene: Scene, step: Step
) -> None:
    before = snapshot(db)
    response = send(client, make, scene.actor(step.actor), step.call(scene))

    status, code = step.expect
    if code is not None:
        assert_problem(response, status, code)
        assert snapshot(db) == before
        return
    assert response.status_code == status, response.text
    if step.field is not None:
        key, value = step.field
        assert response.json()[key] == value
    assert snapshot(db) != before or step.call(scene).method == "GET"


# --- listings: only what is in scope ------------------------------------------------------------

VOLUNTEER_KEYS = (
    "a.leader",
    "a.member",
    "a.pending",
    "a.spare",
    "sibling.leader",
    "sibling.volunteer",
    "sibling.pending",
    "b.leader",
    "b.member",
    "b.pending",
)
A_ALL = VOLUNTEER_KEYS[:7]
B_ALL = VOLUNTEER_KEYS[7:]


def _volunteers_by_key(s: Scene) -> dict[str, Volunteer]:
    return dict(
        zip(
            VOLUNTEER_KEYS,
            (
                s.a.leader_volunteer,
                s.a.member_volunteer,
                s.a.pending,
                s.a_spare,
                s.sibling_leader_volunteer,
                s.sibling_volunteer,
                s.sibling_pending,
                s.b.leader_volunteer,
                s.b.member_volunteer,
                s.b.pending,
            ),
            strict=True,
        )
    )


VISIBLE_VOLUNTEERS: list[tuple[str, tuple[str, ...]]] = [
    ("platform", VOLUNTEER_KEYS),
    ("a.center_admin", A_ALL),
    ("a.institute_admin", A_ALL),
    ("a.station_admin", ("a.leader", "a.member", "a.pending", "a.spare")),
    ("a.leader", ("a.leader", "a.member")),  # own members; not the spare of the other team
    ("a.member", ("a.member",)),
    ("a.resident", ()),
    ("sibling.leader", ("sibling.leader",)),
    ("b.center_admin", B_ALL),
    ("b.institute_admin", B_ALL),
    ("b.station_admin", B_ALL),
    ("b.leader", ("b.leader", "b.member")),
    ("b.member", ("b.member",)),
    ("b.resident", ()),
]


@pytest.mark.parametrize(
    ("actor", "visible"),
    [pytest.param(actor, visible, id=actor) for actor, visible in VISIBLE_VOLUNTEERS],
)
def test_volunteer_listing_is_scoped(
    client: TestClient, make: Factory, scene: Scene, actor: str, visible: tuple[str, ...]
) -> None:
    by_key = _volunteers_by_key(scene)
    response = client.get(f"{API}/volunteers", headers=make.headers(scene.actor(actor)))

    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    got = sorted(item["id"] for item in response.json()["items"])
    assert got == sorted(str(by_key[key].id) for key in visible)
    if actor.startswith("b."):
        assert leaked(response, scene.a_secrets) == []


@pytest.mark.parametrize("actor", B_ACTORS)
def test_region_filter_cannot_widen_a_listing(
    client: TestClient, make: Factory, scene: Scene, actor: str
) -> None:
    headers = make.headers(scene.actor(f"b.{actor}"))
    for query in (f"region={COUNTY_A}", f"region={scene.a.village}&status=pending"):
        response = client.get(f"{API}/volunteers?{query}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"items": [], "next_cursor": None}


def test_pending_queue_of_a_station_holds_only_its_applicants(
    client: TestClient, make: Factory, scene: Scene
) -> None:
    for actor, expected in [
        ("b.station_admin", [scene.b.pending]),
        ("a.station_admin", [scene.a.pending]),
        ("a.institute_admin", sorted([scene.a.pending, scene.sibling_pending], key=lambda v: v.id)),
    ]:
        response = client.get(
            f"{API}/volunteers?status=pending", headers=make.headers(scene.actor(actor))
        )
        assert response.status_code == 200, response.text
        assert [v["id"] for v in response.json()["items"]] == [str(v.id) for v in expected], actor


@pytest.mark.parametrize("actor", B_ACTORS)
def test_me_shows_only_the_caller(
    client: TestClient, make: Factory, db: Session, scene: Scene, actor: str
) -> None:
    user = scene.actor(f"b.{actor}")
    response = client.get(f"{API}/me", headers=make.headers(user))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(user.id)
    assert leaked(response, scene.a_secrets) == []

    before = snapshot(db)
    patched = client.patch(f"{API}/me", json={"display_name": "乙改名"}, headers=make.headers(user))
    assert patched.status_code == 200, patched.text
    assert patched.json()["display_name"] == "乙改名"
    assert leaked(patched, scene.a_secrets) == []
    changed = set(snapshot(db)) ^ set(before)
    assert len(changed) == 2  # the caller's own row, before and after
    assert all(str(user.id) in row for row in changed)


# --- the directory: open to signed-in users, with the inside of a team kept inside ------------

OUTSIDERS = (*(f"b.{actor}" for actor in B_ACTORS), "a.resident", "sibling.leader")
INSIDERS = (
    "a.leader",
    "a.member",
    "a.station_admin",
    "a.institute_admin",
    "a.center_admin",
    "platform",
)


@pytest.mark.parametrize("actor", OUTSIDERS)
def test_directory_is_open_but_masks_the_leader_for_outsiders(
    client: TestClient, make: Factory, scene: Scene, actor: str
) -> None:
    headers = make.headers(scene.actor(actor))
    team = client.get(f"{API}/teams/{scene.a.team.id}", headers=headers)
    assert team.status_code == 200, team.text
    assert team.json()["name"] == scene.a.team.name
    assert team.json()["leader"] == {
        "volunteer_id": str(scene.a.leader_volunteer.id),
        "name": A_LEADER_MASKED,
    }
    assert team.json()["member_count"] == 2
    assert A_LEADER_NAME not in team.text

    listing = client.get(f"{API}/teams?region={scene.a.village}", headers=headers)
    assert listing.status_code == 200, listing.text
    found = {t["id"]: t for t in listing.json()["items"]}
    assert set(found) == {str(scene.a.team.id), str(scene.a_other_team.id)}
    assert found[str(scene.a.team.id)]["leader"]["name"] == A_LEADER_MASKED
    assert found[str(scene.a_other_team.id)]["leader"] is None

    members = client.get(f"{API}/teams/{scene.a.team.id}/members", headers=headers)
    assert_problem(members, 403, "not_team_member")
    assert leaked(members, scene.a_secrets) == []

    site = client.get(f"{API}/sites/{scene.a_sites['village'].id}", headers=headers)
    assert site.status_code == 200, site.text
    assert site.json()["region_code"] == scene.a.village
    sites = client.get(f"{API}/sites?region={COUNTY_A}", headers=headers)
    assert sites.status_code == 200, sites.text
    assert sorted(s["region_code"] for s in sites.json()["items"]) == sorted(
        [COUNTY_A, scene.a.township, scene.a.village, SIBLING_VILLAGE_A]
    )

    region = client.get(f"{API}/regions/{scene.a.village}", headers=headers)
    assert region.status_code == 200, region.text
    assert region.json()["code"] == scene.a.village
    categories = client.get(f"{API}/categories", headers=headers)
    assert categories.status_code == 200
    assert "care" in [c["code"] for c in categories.json()]


@pytest.mark.parametrize("actor", INSIDERS)
def test_insiders_see_the_leader_and_the_members(
    client: TestClient, make: Factory, scene: Scene, actor: str
) -> None:
    headers = make.headers(scene.actor(actor))
    team = client.get(f"{API}/teams/{scene.a.team.id}", headers=headers)
    assert team.status_code == 200, team.text
    assert team.json()["leader"]["name"] == A_LEADER_NAME

    members = client.get(f"{API}/teams/{scene.a.team.id}/members", headers=headers)
    assert members.status_code == 200, members.text
    assert [(m["real_name"], m["role"], m["phone"]) for m in members.json()] == [
        (A_LEADER_NAME, "leader", scene.a.leader_volunteer.phone_masked),
        (A_MEMBER_NAME, "member", scene.a.member_volunteer.phone_masked),
    ]
    assert all("****" in m["phone"] for m in members.json())


def test_reference_data_needs_no_sign_in(client: TestClient, scene: Scene) -> None:
    """Regions and the catalog are public by design (the ordering screen shows them first)."""
    assert client.get(f"{API}/regions/{scene.a.village}").status_code == 200
    assert client.get(f"{API}/categories").status_code == 200
    assert client.get(f"{API}/categories/care").status_code == 200


# --- without a token ------------------------------------------------------------------------------

PUBLIC_ROUTES = {
    ("POST", "/auth/token"),
    ("POST", "/auth/sms-code"),
    ("POST", "/auth/sms-login"),
    ("POST", "/auth/wechat"),
    ("GET", "/regions"),
    ("GET", "/regions/{code}"),
    ("GET", "/categories"),
    ("GET", "/categories/{code}"),
}

ACTIVITY = "01a20000-0000-7000-8000-000000000001"  # anonymous callers are refused before lookup
ANY_PLACE = {"lat": 35.0263, "lng": 111.0071}

SIGNED_IN_ROUTES: list[tuple[str, str, Callable[[Scene], Call]]] = [
    ("GET", "/me", lambda s: Call("GET", "/me")),
    ("PATCH", "/me", lambda s: Call("PATCH", "/me", {"display_name": "匿名"})),
    ("POST", "/users", lambda s: Call("POST", "/users", {"username": "anon", "password": "x" * 8,
                                                          "display_name": "匿名"})),
    ("POST", "/categories",
     lambda s: Call("POST", "/categories", {"code": "anon_kind", "name_zh": "匿", "name_en": "A"})),
    ("PATCH", "/categories/{code}", lambda s: Call("PATCH", "/categories/care", {"active": False})),
    ("GET", "/sites", lambda s: Call("GET", "/sites")),
    ("POST", "/sites",
     lambda s: Call("POST", "/sites", {"name": "匿", "region_code": NEW_VILLAGE_A})),
    ("GET", "/sites/{site_id}", lambda s: Call("GET", f"/sites/{s.a_sites['village'].id}")),
    ("PATCH", "/sites/{site_id}",
     lambda s: Call("PATCH", f"/sites/{s.a_sites['village'].id}", {"name": "匿"})),
    ("GET", "/sites/{site_id}/admins",
     lambda s: Call("GET", f"/sites/{s.a_sites['village'].id}/admins")),
    ("POST", "/sites/{site_id}/admins",
     lambda s: Call("POST", f"/sites/{s.a_sites['village'].id}/admins",
                    {"user_id": str(s.a.resident.id)})),
    ("DELETE", "/sites/{site_id}/admins/{user_id}",
     lambda s: Call("DELETE", f"/sites/{s.a_sites['village'].id}/admins/{s.a.station_admin.id}")),
    ("GET", "/teams", lambda s: Call("GET", "/teams")),
    ("POST", "/teams",
     lambda s: Call("POST", "/teams", {**TEAM_BODY, "site_id": str(s.a_sites["village"].id)})),
    ("GET", "/teams/{team_id}", lambda s: Call("GET", f"/teams/{s.a.team.id}")),
    ("PATCH", "/teams/{team_id}",
     lambda s: Call("PATCH", f"/teams/{s.a.team.id}", {"status": "dissolved"})),
    ("GET", "/teams/{team_id}/members", lambda s: Call("GET", f"/teams/{s.a.team.id}/members")),
    ("POST", "/teams/{team_id}/projects",
     lambda s: Call("POST", f"/teams/{s.a.team.id}/projects",
                    {"title": "匿名项目", "category_code": "care"})),
    ("GET", "/projects", lambda s: Call("GET", "/projects")),
    ("POST", "/teams/{team_id}/activities",
     lambda s: Call("POST", f"/teams/{s.a.team.id}/activities", {"title": "匿名活动"})),
    ("GET", "/teams/{team_id}/score", lambda s: Call("GET", f"/teams/{s.a.team.id}/score")),
    ("GET", "/volunteers/{volunteer_id}/records",
     lambda s: Call("GET", f"/volunteers/{s.a.member_volunteer.id}/records")),
    ("GET", "/volunteers/{volunteer_id}/records/summary",
     lambda s: Call("GET", f"/volunteers/{s.a.member_volunteer.id}/records/summary")),
    ("POST", "/volunteers/{volunteer_id}/certificates",
     lambda s: Call("POST", f"/volunteers/{s.a.member_volunteer.id}/certificates", {})),
    ("GET", "/volunteers/{volunteer_id}/stars",
     lambda s: Call("GET", f"/volunteers/{s.a.member_volunteer.id}/stars")),
    ("POST", "/volunteers/{volunteer_id}/stars",
     lambda s: Call("POST", f"/volunteers/{s.a.member_volunteer.id}/stars",
                    {"level": 1, "reason": "匿名授予"})),
    ("GET", "/volunteers/{volunteer_id}/points",
     lambda s: Call("GET", f"/volunteers/{s.a.member_volunteer.id}/points")),
    ("POST", "/volunteers/{volunteer_id}/points/adjustments",
     lambda s: Call("POST", f"/volunteers/{s.a.member_volunteer.id}/points/adjustments",
                    {"points": 5, "reason": "匿名调整"})),
    ("PATCH", "/projects/{project_id}",
     lambda s: Call("PATCH", f"/projects/{s.a.team.id}", {"active": False})),
    ("POST", "/teams/{team_id}/members",
     lambda s: Call("POST", f"/teams/{s.a.team.id}/members", {"volunteer_id": str(s.a_spare.id)})),
    ("DELETE", "/teams/{team_id}/members/{volunteer_id}",
     lambda s: Call("DELETE", f"/teams/{s.a.team.id}/members/{s.a.member_volunteer.id}")),
    ("GET", "/volunteers", lambda s: Call("GET", "/volunteers")),
    ("POST", "/volunteers",
     lambda s: Call("POST", "/volunteers", {"real_name": "匿名", "phone": "13800138000",
                                            "region_code": s.a.village})),
    ("GET", "/volunteers/{volunteer_id}",
     lambda s: Call("GET", f"/volunteers/{s.a.member_volunteer.id}")),
    ("PATCH", "/volunteers/{volunteer_id}",
     lambda s: Call("PATCH", f"/volunteers/{s.a.member_volunteer.id}", {"skills": []})),
    ("GET", "/volunteers/{volunteer_id}/personal",
     lambda s: Call("GET", f"/volunteers/{s.a.member_volunteer.id}/personal")),
    ("POST", "/volunteers/{volunteer_id}/transfer",
     lambda s: Call("POST", f"/volunteers/{s.a.member_volunteer.id}/transfer",
                    {"region_code": NEW_VILLAGE_A, "reason": "匿名迁移"})),
    ("GET", "/volunteers/{volunteer_id}/transfers",
     lambda s: Call("GET", f"/volunteers/{s.a.member_volunteer.id}/transfers")),
    ("GET", "/regions/{code}/star-thresholds",
     lambda s: Call("GET", f"/regions/{COUNTY_A}/star-thresholds")),
    ("PUT", "/regions/{code}/star-thresholds",
     lambda s: Call("PUT", f"/regions/{COUNTY_A}/star-thresholds", {"hours": [1, 2]})),
    ("DELETE", "/regions/{code}/star-thresholds",
     lambda s: Call("DELETE", f"/regions/{COUNTY_A}/star-thresholds")),
    ("POST", "/volunteers/{volunteer_id}/star-applications",
     lambda s: Call("POST", f"/volunteers/{s.a.member_volunteer.id}/star-applications", {})),
    ("GET", "/volunteers/{volunteer_id}/star-applications",
     lambda s: Call("GET", f"/volunteers/{s.a.member_volunteer.id}/star-applications")),
    ("POST", "/volunteers/{volunteer_id}/star-applications/{application_id}/approve",
     lambda s: Call("POST", f"/volunteers/{s.a.member_volunteer.id}/star-applications/"
                    f"{s.a.member_volunteer.id}/approve", {"reason": "匿名审核"})),
    ("POST", "/volunteers/{volunteer_id}/star-applications/{application_id}/reject",
     lambda s: Call("POST", f"/volunteers/{s.a.member_volunteer.id}/star-applications/"
                    f"{s.a.member_volunteer.id}/reject", {"reason": "匿名审核"})),
    ("GET", "/star-applications", lambda s: Call("GET", "/star-applications")),
    ("POST", "/volunteers/{volunteer_id}/approve",
     lambda s: Call("POST", f"/volunteers/{s.a.pending.id}/approve")),
    ("POST", "/correction-requests",
     lambda s: Call("POST", "/correction-requests", _omission(s.a.team.id))),
    ("GET", "/correction-requests", lambda s: Call("GET", "/correction-requests")),
    ("POST", "/correction-requests/{request_id}/approve",
     lambda s: Call("POST", f"/correction-requests/{s.a.team.id}/approve", {})),
    ("POST", "/correction-requests/{request_id}/reject",
     lambda s: Call("POST", f"/correction-requests/{s.a.team.id}/reject", {"reason": "匿名驳回"})),
    ("POST", "/volunteers/{volunteer_id}/reject",
     lambda s: Call("POST", f"/volunteers/{s.a.pending.id}/reject", {"reason": "匿名驳回"})),
    # Activities: refusals by team, region and role are tested in tests/activities.
    ("GET", "/activities", lambda s: Call("GET", "/activities")),
    ("GET", "/activities/overdue-teams", lambda s: Call("GET", "/activities/overdue-teams")),
    ("GET", "/activities/overdue-reports", lambda s: Call("GET", "/activities/overdue-reports")),
    ("GET", "/activities/{activity_id}", lambda s: Call("GET", f"/activities/{ACTIVITY}")),
    ("POST", "/activities/{activity_id}/signups",
     lambda s: Call("POST", f"/activities/{ACTIVITY}/signups")),
    ("DELETE", "/activities/{activity_id}/signups/me",
     lambda s: Call("DELETE", f"/activities/{ACTIVITY}/signups/me")),
    ("GET", "/activities/{activity_id}/signups",
     lambda s: Call("GET", f"/activities/{ACTIVITY}/signups")),
    ("POST", "/activities/{activity_id}/check-in",
     lambda s: Call("POST", f"/activities/{ACTIVITY}/check-in", {"location": ANY_PLACE})),
    ("POST", "/activities/{activity_id}/check-out",
     lambda s: Call("POST", f"/activities/{ACTIVITY}/check-out", {"location": ANY_PLACE})),
    ("POST", "/activities/{activity_id}/roster",
     lambda s: Call("POST", f"/activities/{ACTIVITY}/roster",
                    {"entries": [{"volunteer_id": str(s.a.member_volunteer.id)}]})),
    ("POST", "/activities/{activity_id}/confirm",
     lambda s: Call("POST", f"/activities/{ACTIVITY}/confirm", {})),
    ("POST", "/activities/{activity_id}/cancel",
     lambda s: Call("POST", f"/activities/{ACTIVITY}/cancel", {"reason": "匿名取消"})),
    ("PUT", "/activities/{activity_id}/report",
     lambda s: Call("PUT", f"/activities/{ACTIVITY}/report", {"organiser": "匿名"})),
    ("GET", "/activities/{activity_id}/report",
     lambda s: Call("GET", f"/activities/{ACTIVITY}/report")),
]  # fmt: skip


# The organisation and people part of the API that these tables cover; orders, dispatch and
# complaints have tables of their own.
COVERED_GROUPS = {
    "auth",
    "me",
    "users",
    "regions",
    "categories",
    "sites",
    "teams",
    "volunteers",
    "projects",
    "correction-requests",
    "activities",
    "star-applications",
}


def test_every_api_route_is_either_public_or_in_the_table(app: FastAPI) -> None:
    """A new route in these groups must join a table, so that nobody forgets its authorisation."""
    routes = {
        (method.upper(), path.removeprefix(API))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(API + "/") and path.split("/")[3] in COVERED_GROUPS
        for method in operations
    }
    assert routes == PUBLIC_ROUTES | {(method, path) for method, path, _ in SIGNED_IN_ROUTES}


@pytest.mark.parametrize(
    "build",
    [pytest.param(build, id=f"{method} {path}") for method, path, build in SIGNED_IN_ROUTES],
)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"], ids=["no token", "bad"])
def test_signed_in_routes_refuse_anonymous_callers(
    client: TestClient,
    db: Session,
    scene: Scene,
    build: Callable[[Scene], Call],
    authorization: str | None,
) -> None:
    call = build(scene)
    headers = {"Authorization": authorization} if authorization else {}
    before = snapshot(db)

    response = client.request(call.method, API + call.path, json=call.body, headers=headers)

    code = "not_authenticated" if authorization is None else "invalid_token"
    assert_problem(response, 401, code)
    assert response.headers["www-authenticate"] == "Bearer"
    assert leaked(response, scene.a_secrets) == []
    assert snapshot(db) == before
