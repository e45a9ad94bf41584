"""What a record shows (times, place, who recorded it, the order and its rating, the rule in force)
and one record per volunteer per order, whether it came from an activity or the completion."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.records.models import ServiceRecord
from tests.activities.test_activities import move_to_the_past, publish
from tests.factories import Factory
from tests.records.conftest import OrderWorld
from tests.records.test_ledger import DAY, entry, post
from tests.records.test_rules import at


def records_of(client: TestClient, make: Factory, volunteer_id: object, user: Any) -> list[Any]:
    response = client.get(f"/api/v1/volunteers/{volunteer_id}/records", headers=make.headers(user))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_the_list_shows_times_place_recorder_order_and_the_rating(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Any
) -> None:
    w = ow.world
    settings.service_time_rule = "服务时长不含路途 / travel excluded (test)"
    manual = post(
        client,
        make,
        w.center_admin,
        entry(w, hours=1, started_at=at(DAY, 1), ended_at=at(DAY, 2), place="曲村3组"),
    )
    assert manual.status_code == 201, manual.text
    order = ow.completed(hours=1.5)
    items = {r["id"]: r for r in records_of(client, make, w.member_volunteer.id, w.member)}
    shown = items[manual.json()["id"]]
    assert (shown["place"], shown["recorded_by_id"]) == ("曲村3组", str(w.center_admin.id))
    assert (shown["started_at"][:16], shown["ended_at"][:16]) == (at(DAY, 1)[:16], at(DAY, 2)[:16])
    assert (shown["order_id"], shown["activity_id"], shown["rating"]) == (None, None, None)
    assert shown["rule"] == settings.service_time_rule
    [served] = [r for r in items.values() if r["order_id"] == order["id"]]
    assert (served["rating"], served["place"], served["recorded_by_id"]) == (
        None,
        "曲村3组12号",
        str(w.leader.id),
    )
    rated = client.post(
        f"/api/v1/orders/{order['id']}/rating", json={"stars": 4}, headers=ow.as_(w.resident)
    )
    assert rated.status_code in (200, 201), rated.text
    items = {r["id"]: r for r in records_of(client, make, w.member_volunteer.id, w.leader)}
    assert items[served["id"]]["rating"] == 4
    detail = client.get(f"/api/v1/records/{served['id']}", headers=make.headers(w.member)).json()
    assert (detail["record"]["rating"], detail["rule"]) == (4, settings.service_time_rule)
    summary = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/records/summary",
        headers=make.headers(w.member),
    ).json()
    assert summary["rule"] == settings.service_time_rule
    # Others see nothing.
    for user in (make.world("140803000000").leader, w.resident):
        response = client.get(
            f"/api/v1/volunteers/{w.member_volunteer.id}/records", headers=make.headers(user)
        )
        assert response.status_code == 404, response.text


def test_an_activity_for_an_order_and_the_completion_record_a_volunteer_once(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    order = ow.accepted()
    activity = publish(client, make, w, order_id=order["id"])
    url = f"/api/v1/activities/{activity['id']}"
    assert client.post(f"{url}/signups", headers=make.headers(w.member)).status_code == 201
    move_to_the_past(db, activity["id"])
    confirm = client.post(
        f"{url}/confirm",
        json={"attendance": [{"volunteer_id": str(w.member_volunteer.id), "hours": 1.5}]},
        headers=make.headers(w.leader),
    )
    assert confirm.status_code == 200, confirm.text
    db.expire_all()
    [from_activity] = db.exec(
        select(ServiceRecord).where(ServiceRecord.activity_id == uuid.UUID(activity["id"]))
    ).all()
    assert from_activity.order_id == uuid.UUID(order["id"])
    started = client.post(f"/api/v1/orders/{order['id']}/start", headers=ow.as_(w.leader))
    assert started.status_code == 200, started.text
    complete = f"/api/v1/orders/{order['id']}/complete"

    def hours_of(*volunteers: object) -> dict[str, Any]:
        return {
            "report": "完成",
            "hours": [{"volunteer_id": str(v), "hours": 2} for v in volunteers],
        }

    twice = client.post(
        complete,
        json=hours_of(w.member_volunteer.id, w.leader_volunteer.id),
        headers=ow.as_(w.leader),
    )
    assert twice.status_code == 409, twice.text
    assert twice.json()["code"] == "already_recorded"
    assert str(w.member_volunteer.id) in twice.json()["detail"]
    done = client.post(complete, json=hours_of(w.leader_volunteer.id), headers=ow.as_(w.leader))
    assert done.status_code == 200, done.text
    db.expire_all()
    rows = db.exec(
        select(ServiceRecord.volunteer_id, ServiceRecord.minutes).where(
            ServiceRecord.order_id == uuid.UUID(order["id"])
        )
    ).all()
    assert sorted(rows, key=lambda r: r[1]) == [
        (w.member_volunteer.id, 90),
        (w.leader_volunteer.id, 120),
    ]


def test_a_unique_index_backs_one_record_per_volunteer_and_order(
    ow: OrderWorld, db: Session
) -> None:
    ow.completed(hours=1)
    db.expire_all()
    [record] = db.exec(select(ServiceRecord).where(col(ServiceRecord.order_id).is_not(None))).all()
    copy = ServiceRecord(
        **record.model_dump(exclude={"id", "external_ref", "created_at"}),
    )
    db.add(copy)
    with pytest.raises(IntegrityError), db.begin_nested():
        db.flush()
