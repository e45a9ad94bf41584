"""Points: earned by records and five-star ratings, adjusted by admins, spent on rewards."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.points.models import PointsBalance, PointsEntry
from tests.factories import Factory, World
from tests.points.conftest import OrderWorld
from tests.records.test_ledger import entry, post


def points(client: TestClient, make: Factory, world: World, user: Any = None) -> Any:
    return client.get(
        f"/api/v1/volunteers/{world.member_volunteer.id}/points",
        headers=make.headers(user or world.member),
    )


def ledger_sum(db: Session, world: World) -> int:
    db.expire_all()
    return int(
        db.exec(
            select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
                PointsEntry.volunteer_id == world.member_volunteer.id
            )
        ).one()
    )


def reward(client: TestClient, make: Factory, world: World, **body: Any) -> dict[str, Any]:
    payload = {
        "name": "环保购物袋",
        "points": 10,
        "stock": 2,
        "region_code": world.township,
        **body,
    }
    response = client.post(
        "/api/v1/rewards", json=payload, headers=make.headers(world.institute_admin)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_hours_earn_points_by_the_policy_and_amendments_follow(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    admin = make.headers(make.platform_admin())
    policy = {"points_per_hour": 10, "five_star_bonus": 5, "category_weights": {"legal_aid": 2}}
    assert client.put("/api/v1/points/policy", json=policy, headers=admin).status_code == 200
    record = post(client, make, w.leader, entry(w, hours=2.5)).json()
    post(client, make, w.leader, entry(w, hours=1, category_code="legal_aid"))
    assert points(client, make, w).json()["balance"] == 25 + 20
    client.post(
        f"/api/v1/records/{record['id']}/amendments",
        json={"reason": "实际1小时", "hours": 1},
        headers=make.headers(w.leader),
    )
    body = points(client, make, w).json()
    assert body["balance"] == 10 + 20
    assert body["entries"][0]["delta"] == -15
    assert ledger_sum(db, w) == body["balance"]


def test_a_five_star_rating_gives_the_servers_a_bonus_once(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    order = ow.completed(hours=1)
    rated = client.post(
        f"/api/v1/orders/{order['id']}/rating", json={"stars": 5}, headers=make.headers(w.resident)
    )
    assert rated.status_code in (200, 201), rated.text
    kinds = [e["kind"] for e in points(client, make, w).json()["entries"]]
    assert sorted(kinds) == ["bonus", "earn"]
    assert points(client, make, w).json()["balance"] == 10 + 5


def test_redemptions_spend_points_and_stock_and_refuse_what_is_missing(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    post(client, make, w.leader, entry(w, hours=3))  # 30 points
    item = reward(client, make, w, stock=2)
    listed = client.get("/api/v1/rewards", headers=make.headers(w.member)).json()["items"]
    assert [i["id"] for i in listed] == [item["id"]]
    buy = client.post(
        "/api/v1/redemptions", json={"item_id": item["id"]}, headers=make.headers(w.member)
    )
    assert buy.status_code == 201, buy.text
    assert buy.json()["balance"] == 20
    too_many = client.post(
        "/api/v1/redemptions",
        json={"item_id": item["id"], "quantity": 2},
        headers=make.headers(w.member),
    )
    assert too_many.json()["code"] == "out_of_stock"
    pricey = reward(client, make, w, points=500, stock=5)
    poor = client.post(
        "/api/v1/redemptions", json={"item_id": pricey["id"]}, headers=make.headers(w.member)
    )
    assert poor.status_code == 409
    assert poor.json()["code"] == "insufficient_points"
    db.expire_all()
    stock = {
        i["id"]: i["stock"]
        for i in client.get("/api/v1/rewards", headers=make.headers(w.member)).json()["items"]
    }
    assert stock == {item["id"]: 1, pricey["id"]: 5}  # refusals took nothing
    assert ledger_sum(db, w) == 20
    assert db.get(PointsBalance, w.member_volunteer.id).balance == 20  # type: ignore[union-attr]


def test_scope_of_points_and_rewards(ow: OrderWorld, client: TestClient, make: Factory) -> None:
    w = ow.world
    other = make.world("140803000000")
    post(client, make, w.leader, entry(w, hours=3))
    for user in (other.member, other.center_admin, w.resident):
        assert points(client, make, w, user).status_code == 404
    assert points(client, make, w, w.leader).status_code == 200
    adjust = f"/api/v1/volunteers/{w.member_volunteer.id}/points/adjustments"
    body = {"points": 7, "reason": "优秀志愿者奖励"}
    assert client.post(adjust, json=body, headers=make.headers(w.leader)).status_code == 403
    assert (
        client.post(adjust, json=body, headers=make.headers(other.center_admin)).status_code == 404
    )
    assert client.post(adjust, json=body, headers=make.headers(w.station_admin)).status_code == 201
    overdraw = client.post(
        adjust, json={"points": -1000, "reason": "扣除"}, headers=make.headers(w.center_admin)
    )
    assert overdraw.status_code == 409
    assert points(client, make, w).json()["balance"] == 37
    item = reward(client, make, w)
    theirs = client.post(
        "/api/v1/redemptions", json={"item_id": item["id"]}, headers=make.headers(other.member)
    )
    assert theirs.status_code == 404  # not open to their region
    outside = client.post(
        "/api/v1/rewards",
        json={"name": "x", "points": 1, "stock": 1, "region_code": other.county},
        headers=make.headers(w.institute_admin),
    )
    assert outside.status_code == 403
    assert (
        client.post(
            "/api/v1/redemptions", json={"item_id": item["id"]}, headers=make.headers(w.resident)
        ).status_code
        == 403
    )
    policy = {"points_per_hour": 1, "five_star_bonus": 0, "category_weights": {}}
    assert (
        client.put(
            "/api/v1/points/policy", json=policy, headers=make.headers(w.center_admin)
        ).status_code
        == 403
    )
    bad = dict(policy, category_weights={"no_such": 1})
    admin = make.headers(make.platform_admin())
    assert client.put("/api/v1/points/policy", json=bad, headers=admin).status_code == 422


def test_the_points_board_ranks_points_awarded_in_a_region(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    w = ow.world
    other = make.world("140803000000")
    post(client, make, w.leader, entry(w, hours=3))  # 30 points
    post(client, make, w.leader, entry(w, volunteer_id=str(w.leader_volunteer.id), hours=1))
    post(client, make, other.leader, entry(other, hours=8))
    url = f"/api/v1/leaderboards/volunteers?by=points&period=all&region={w.county}"
    board = client.get(url, headers=make.headers(w.member)).json()
    assert board["period"] == "all"
    assert [(e["points"], e["minutes"]) for e in board["entries"]] == [(30, 180), (10, 60)]
    everywhere = client.get(
        "/api/v1/leaderboards/volunteers?by=points&period=all", headers=make.headers(w.member)
    ).json()
    assert [e["points"] for e in everywhere["entries"]] == [80, 30, 10]
