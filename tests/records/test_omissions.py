"""Omissions (补录): a volunteer asks for a service that was not recorded; the team leader or an
admin over the team decides, and approval lands the record with every rule of the ledger."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.records.ledger import china_today
from app.records.models import CorrectionRequest, ServiceRecord
from tests.activities.test_activities import move_to_the_past, publish
from tests.factories import Factory
from tests.records.conftest import OrderWorld
from tests.records.test_ledger import DAY, entry, post, totals
from tests.records.test_rules import at

URL = "/api/v1/correction-requests"


def omission(ow: OrderWorld, **overrides: Any) -> dict[str, Any]:
    return {
        "team_id": str(ow.world.team.id),
        "category_code": "care",
        "service_date": DAY.isoformat(),
        "hours": 2,
        "started_at": at(DAY, 1),
        "ended_at": at(DAY, 3),
        "content": "协助社区核酸检测点秩序维护",
        "place": "曲村广场",
        "reason": "当天队长忘记登记",
        **overrides,
    }


def ask(client: TestClient, make: Factory, user: Any, body: dict[str, Any]) -> Any:
    return client.post(URL, json=body, headers=make.headers(user))


def decide(
    client: TestClient, make: Factory, user: Any, request_id: str, verb: str, reason: str = ""
) -> Any:
    body = {"reason": reason} if reason else {}
    return client.post(f"{URL}/{request_id}/{verb}", json=body, headers=make.headers(user))


def test_an_approved_omission_lands_as_a_record_with_the_totals(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    asked = ask(client, make, w.member, omission(ow))
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert (request["omission"], request["record_id"], request["status"]) == (
        True,
        None,
        "pending",
    )
    assert totals(db, w) == 0
    pending = client.get(f"{URL}?status=pending", headers=make.headers(w.leader)).json()["items"]
    assert [r["id"] for r in pending] == [request["id"]]
    mine = client.get(URL, headers=make.headers(w.member)).json()["items"]
    assert [r["id"] for r in mine] == [request["id"]]
    approved = decide(client, make, w.station_admin, request["id"], "approve", "核实无误")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    record_id = approved.json()["record_id"]
    db.expire_all()
    record = db.get(ServiceRecord, uuid.UUID(record_id))
    assert record is not None
    assert (record.minutes, record.source, record.volunteer_id, record.recorded_by_id) == (
        120,
        "manual",
        w.member_volunteer.id,
        w.station_admin.id,
    )
    assert (record.place, record.content) == ("曲村广场", "协助社区核酸检测点秩序维护")
    assert totals(db, w) == 120
    again = decide(client, make, w.leader, request["id"], "approve")
    assert (again.status_code, again.json()["code"]) == (409, "already_decided")


def test_approval_runs_the_ledger_rules_and_a_rejection_keeps_the_request(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    request = ask(client, make, w.member, omission(ow)).json()
    # Meanwhile the leader records the same morning: the omission would overlap it.
    assert post(client, make, w.leader, entry(w, hours=2, started_at=at(DAY, 2),
                                             ended_at=at(DAY, 4))).status_code == 201  # fmt: skip
    clash = decide(client, make, w.leader, request["id"], "approve")
    assert (clash.status_code, clash.json()["code"]) == (422, "overlapping_times")
    db.expire_all()
    assert db.get(CorrectionRequest, uuid.UUID(request["id"])).status == "pending"  # type: ignore[union-attr]
    no_reason = decide(client, make, w.leader, request["id"], "reject")
    assert no_reason.json()["code"] == "reason_required"
    rejected = decide(client, make, w.leader, request["id"], "reject", "已另行登记")
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decision_reason"]) == (
        "rejected",
        "已另行登记",
    )
    db.expire_all()
    kept = db.get(CorrectionRequest, uuid.UUID(request["id"]))
    assert kept is not None
    assert (kept.status, kept.decided_by_id, kept.record_id) == ("rejected", w.leader.id, None)
    assert totals(db, w) == 120
    # What a new record may not be, an omission may not ask for either.
    tomorrow = china_today() + timedelta(days=1)
    for overrides, status, code in (
        ({"service_date": tomorrow.isoformat(), "started_at": None, "ended_at": None}, 422,
         "future_date"),
        ({"started_at": at(DAY, 20), "ended_at": at(DAY, 22)}, 422, "date_mismatch"),
        ({"hours": 5}, 422, "hours_exceed_times"),
        ({"category_code": None}, 422, "category_required"),
        ({"category_code": "no_such"}, 422, "unknown_category"),
    ):  # fmt: skip
        future = ask(client, make, w.member, omission(ow, **overrides))
        if future.status_code == 201:
            future = decide(client, make, w.leader, future.json()["id"], "approve")
        assert (future.status_code, future.json()["code"]) == (status, code), overrides


def test_only_the_team_leader_or_an_admin_over_the_team_decides(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    other = make.world("140803000000")
    request = ask(client, make, w.member, omission(ow)).json()
    for user in (other.leader, other.center_admin, w.resident):
        for verb in ("approve", "reject"):
            response = decide(client, make, user, request["id"], verb, "乙方处理")
            assert (response.status_code, response.json()["code"]) == (
                404,
                "correction_not_found",
            )
    assert client.get(URL, headers=make.headers(other.leader)).json()["items"] == []
    assert client.get(URL, headers=make.headers(other.center_admin)).json()["items"] == []
    # The volunteer sees their request but cannot decide it.
    own = decide(client, make, w.member, request["id"], "approve")
    assert (own.status_code, own.json()["code"]) == (403, "not_record_keeper")
    # Not a member of the team, not a volunteer at all: no request.
    refused = ask(client, make, other.member, omission(ow))
    assert (refused.status_code, refused.json()["code"]) == (403, "not_team_member")
    resident = ask(client, make, w.resident, omission(ow))
    assert (resident.status_code, resident.json()["code"]) == (403, "not_a_volunteer")
    db.expire_all()
    assert db.exec(select(ServiceRecord)).all() == []
    approved = decide(client, make, w.center_admin, request["id"], "approve")
    assert approved.status_code == 200, approved.text


def test_an_omission_of_an_activity_carries_the_activity_and_its_order(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    order = ow.accepted()
    activity = publish(client, make, w, order_id=order["id"], category_code="tutoring")
    move_to_the_past(db, activity["id"])
    body = omission(ow, activity_id=activity["id"], category_code=None, started_at=None,
                    ended_at=None, service_date=china_today().isoformat(), hours=1)  # fmt: skip
    request = ask(client, make, w.member, body).json()
    assert request["category_code"] == "tutoring"
    approved = decide(client, make, w.leader, request["id"], "approve")
    assert approved.status_code == 200, approved.text
    db.expire_all()
    record = db.get(ServiceRecord, uuid.UUID(approved.json()["record_id"]))
    assert record is not None
    assert (record.activity_id, record.order_id, record.source) == (
        uuid.UUID(activity["id"]),
        uuid.UUID(order["id"]),
        "activity",
    )
    foreign = make.world("140803000000")
    wrong_team = ask(client, make, foreign.member, omission(
        ow, team_id=str(foreign.team.id), activity_id=activity["id"]))  # fmt: skip
    assert (wrong_team.status_code, wrong_team.json()["code"]) == (404, "activity_not_found")
