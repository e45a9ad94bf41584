"""The change feed through the HTTP API: what it reports, in what order, to whom."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.accounts.models import User
from tests.factories import Factory
from tests.sync.conftest import OrderWorld

FEED = "/api/v1/sync/changes"


def read(client: TestClient, make: Factory, user: User, **params: Any) -> dict[str, Any]:
    response = client.get(FEED, params=params, headers=make.headers(user))
    assert response.status_code == 200, response.text
    return dict(response.json())


def drain(
    client: TestClient, make: Factory, user: User, cursor: str = "0"
) -> tuple[list[Any], str]:
    items: list[Any] = []
    while True:
        page = read(client, make, user, cursor=cursor, limit=1000)
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return items, cursor


def test_an_order_served_reports_each_change_once_in_commit_order(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    admin = make.platform_admin()
    setup, cursor = drain(client, make, admin)
    assert {c["entity"] for c in setup} >= {"volunteer", "team", "team_member"}

    order = ow.completed(hours=2)
    changes, after = drain(client, make, admin, cursor)

    seqs = [c["seq"] for c in changes]
    assert seqs == list(range(int(cursor) + 1, int(cursor) + 1 + len(changes)))
    about_order = [c for c in changes if c["entity_id"] == order["id"]]
    assert about_order[0]["op"] == "create"
    # placed, approved, dispatched (offer), accepted, started, completed: one change per commit
    assert [c["op"] for c in about_order[1:]] == ["update"] * (len(about_order) - 1)
    assert len(about_order) >= 6
    assert {c["region_code"] for c in about_order} == {ow.world.village}
    records = [c for c in changes if c["entity"] == "service_record"]
    assert [(r["op"], r["region_code"]) for r in records] == [("create", ow.world.village)]
    # Resuming from the end gives nothing new, and the same cursor back.
    assert read(client, make, admin, cursor=after) == {
        "items": [],
        "next_cursor": after,
        "has_more": False,
    }


def test_small_pages_walk_the_same_feed(ow: OrderWorld, client: TestClient, make: Factory) -> None:
    admin = make.platform_admin()
    ow.accepted()
    whole, _ = drain(client, make, admin)
    walked: list[Any] = []
    cursor = "0"
    while True:
        page = read(client, make, admin, cursor=cursor, limit=3)
        walked += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert walked == whole


def test_an_update_names_the_fields_that_changed(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    admin = make.platform_admin()
    _, cursor = drain(client, make, admin)
    response = client.patch(
        f"/api/v1/teams/{ow.world.team.id}",
        json={"description": "新的介绍"},
        headers=make.headers(ow.world.station_admin),
    )
    assert response.status_code == 200, response.text
    changes, _ = drain(client, make, admin, cursor)
    assert [(c["entity"], c["op"]) for c in changes] == [("team", "update")]
    assert "description" in changes[0]["fields"]


def test_a_refused_write_reports_nothing(ow: OrderWorld, client: TestClient, make: Factory) -> None:
    admin = make.platform_admin()
    _, cursor = drain(client, make, admin)
    response = client.post(
        "/api/v1/orders",
        json={"category_code": "no_such_kind", "title": "x"},
        headers=make.headers(ow.world.resident),
    )
    assert response.status_code == 422
    assert drain(client, make, admin, cursor)[0] == []


def test_site_admins_see_their_region_only(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    other = make.world("140803000000")
    order = ow.accepted()
    mine, _ = drain(client, make, ow.world.station_admin)
    theirs, _ = drain(client, make, other.center_admin)
    assert order["id"] in {c["entity_id"] for c in mine}
    assert {c["region_code"][:6] for c in mine} == {"140802"}
    assert order["id"] not in {c["entity_id"] for c in theirs}
    assert {c["region_code"][:6] for c in theirs} == {"140803"}
    # A region filter outside the caller's scope narrows to nothing.
    outside = read(client, make, other.center_admin, region=ow.world.village)
    assert outside["items"] == []


@pytest.mark.parametrize("who", ["leader", "member", "resident"])
def test_non_admins_are_refused(
    ow: OrderWorld, client: TestClient, make: Factory, who: str
) -> None:
    response = client.get(FEED, headers=make.headers(getattr(ow.world, who)))
    assert response.status_code == 403
    assert response.json()["code"] == "admin_required"


def test_anonymous_callers_are_refused(client: TestClient) -> None:
    response = client.get(FEED)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("params", "code"),
    [({"cursor": "abc"}, "bad_cursor"), ({"cursor": "-1"}, "bad_cursor"),
     ({"entity": "secret"}, "bad_entity"), ({"limit": 0}, "validation_error")],
)  # fmt: skip
def test_bad_parameters_get_a_problem(
    client: TestClient, make: Factory, params: dict[str, Any], code: str
) -> None:
    response = client.get(FEED, params=params, headers=make.headers(make.platform_admin()))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
