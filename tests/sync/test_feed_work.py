"""Every write to orders, activities and service records reaches the feed, also the ones that
bypass the ORM: order moves (compare-and-set), batch dispatch (bulk statements), the activity's
sign-up counter and its confirmation, and the team's count of orders in hand."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.dispatch.batch import MOVED
from tests.activities.test_activities import move_to_the_past, publish
from tests.factories import Factory
from tests.records.test_ledger import entry
from tests.sync.conftest import Change, Feed, OrderWorld

API = "/api/v1"


def post(client: TestClient, make: Factory, user: Any, path: str, body: Any = None) -> Any:
    response = client.post(f"{API}{path}", json=body, headers=make.headers(user))
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_each_order_move_is_one_change_and_the_team_counter_follows(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory
) -> None:
    w = ow.world
    team = str(w.team.id)
    feed.start()
    order = ow.place()
    oid = order["id"]
    assert feed.step() == [("order", oid, "create")]
    post(client, make, w.station_admin, f"/orders/{oid}/approve")
    assert feed.step() == [("order", oid, "update")]
    post(client, make, w.station_admin, f"/orders/{oid}/dispatch", {"team_id": team})
    assert feed.step() == [("order", oid, "update")]

    post(client, make, w.leader, f"/orders/{oid}/accept")
    accepted = feed.changes()
    assert sorted((c["entity"], c["entity_id"], c["op"]) for c in accepted) == [
        ("order", oid, "update"),
        ("team", team, "update"),
    ]
    held = next(c for c in accepted if c["entity"] == "team")
    assert (held["fields"], held["region_code"]) == (["active_orders"], w.village)

    post(client, make, w.leader, f"/orders/{oid}/start")
    assert feed.step() == [("order", oid, "update")]
    post(
        client,
        make,
        w.leader,
        f"/orders/{oid}/complete",
        {"report": "完成", "hours": [{"volunteer_id": str(w.member_volunteer.id), "hours": 1}]},
    )
    completed = feed.step()
    assert sorted(e for e, _, _ in completed) == ["order", "service_record", "team"]
    assert {("order", oid, "update"), ("team", team, "update")} <= set(completed)
    feed.replay()


def test_a_cancelled_order_releases_its_team(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory
) -> None:
    w = ow.world
    oid = ow.accepted()["id"]
    feed.start()
    post(client, make, w.station_admin, f"/orders/{oid}/cancel", {"reason": "居民已自行解决"})
    assert sorted(feed.step()) == [("order", oid, "update"), ("team", str(w.team.id), "update")]
    feed.replay()


def test_batch_dispatch_reports_every_order_it_moves(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory
) -> None:
    w = ow.world
    ids = sorted(ow.approved()["id"] for _ in range(3))
    feed.start()
    body = post(client, make, w.center_admin, "/dispatch/batch", {})
    assert sorted(a["order_id"] for a in body["assigned"]) == ids
    changes = feed.changes()
    assert [(c["entity"], c["entity_id"], c["op"]) for c in changes] == [
        ("order", i, "update") for i in ids
    ]
    assert {(tuple(c["fields"]), c["region_code"]) for c in changes} == {
        (tuple(sorted(MOVED)), w.village)
    }
    # Nothing left to move: the second batch moves and reports nothing.
    assert post(client, make, w.center_admin, "/dispatch/batch", {})["assigned"] == []
    assert feed.step() == []
    feed.replay()


def test_an_activity_from_publication_to_its_record(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    feed.start()
    activity = publish(client, make, w)
    aid = activity["id"]
    assert feed.step() == [("activity", aid, "create")]
    counted: Change = ("activity", aid, "update")
    for user in (w.member, w.leader):
        post(client, make, user, f"/activities/{aid}/signups")
        [change] = feed.changes()
        assert (change["entity_id"], change["fields"], change["region_code"]) == (
            aid,
            ["signed_up"],
            w.village,
        )
    left = client.delete(f"{API}/activities/{aid}/signups/me", headers=make.headers(w.member))
    assert left.status_code == 204, left.text
    assert feed.step() == [counted]
    post(client, make, w.member, f"/activities/{aid}/signups")
    assert feed.step() == [counted]

    move_to_the_past(db, aid)
    attendance = [
        {"volunteer_id": str(w.member_volunteer.id), "hours": 1.5},
        {"volunteer_id": str(w.leader_volunteer.id), "hours": 1},
    ]
    post(client, make, w.leader, f"/activities/{aid}/confirm", {"attendance": attendance})
    confirmed = feed.changes()
    assert [(c["entity"], c["op"]) for c in confirmed] == [
        ("activity", "update"),
        ("service_record", "create"),
        ("service_record", "create"),
    ]
    assert (confirmed[0]["entity_id"], confirmed[0]["fields"]) == (aid, ["confirmed_at", "status"])

    report = {
        "organiser": "曲村新时代文明实践站",
        "leading_official": "王书记",
        "party_members": 2,
        "unit_party_members": 12,
        "report": "为村民义诊",
    }
    filed = client.put(
        f"{API}/activities/{aid}/report", json=report, headers=make.headers(w.leader)
    )
    assert filed.status_code == 200, filed.text
    assert feed.step() == [counted]
    feed.replay()


def test_a_full_activity_reports_no_sign_up(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory
) -> None:
    w = ow.world
    aid = publish(client, make, w, capacity=1)["id"]
    post(client, make, w.leader, f"/activities/{aid}/signups")
    feed.start()
    full = client.post(f"{API}/activities/{aid}/signups", headers=make.headers(w.member))
    assert full.status_code == 409
    assert full.json()["code"] == "activity_full"
    assert feed.step() == []


def test_a_record_and_its_amendment(
    ow: OrderWorld, feed: Feed, client: TestClient, make: Factory
) -> None:
    w = ow.world
    feed.start()
    record = post(client, make, w.leader, "/records", entry(w))
    assert feed.step() == [("service_record", record["id"], "create")]
    post(
        client,
        make,
        w.leader,
        f"/records/{record['id']}/amendments",
        {"reason": "实为1小时", "hours": 1},
    )
    assert feed.step() == [("service_record", record["id"], "update")]
    feed.replay()
