"""Star levels: eligible from hours, granted by an admin (or automatically), kept as history."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.notifications.models import OutboxMessage
from tests.factories import Factory
from tests.records.conftest import OrderWorld
from tests.records.test_ledger import DAY, entry, post


def test_an_admin_grants_up_to_the_eligible_level_and_the_volunteer_is_told(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    settings.star_thresholds_hours = [1, 3, 6, 10, 15]
    w = ow.world
    post(client, make, w.leader, entry(w, hours=3.5))
    url = f"/api/v1/volunteers/{w.member_volunteer.id}/stars"
    stars = client.get(url, headers=make.headers(w.member)).json()
    assert (stars["eligible_level"], stars["granted_level"]) == (2, 0)
    too_high = client.post(
        url, json={"level": 3, "reason": "申请三星"}, headers=make.headers(w.station_admin)
    )
    assert too_high.status_code == 422
    assert too_high.json()["code"] == "not_eligible"
    granted = client.post(
        url, json={"level": 2, "reason": "审核通过"}, headers=make.headers(w.station_admin)
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["granted_level"] == 2
    lowered = client.post(
        url, json={"level": 1, "reason": "记录更正后降级"}, headers=make.headers(w.center_admin)
    )
    history = lowered.json()["history"]
    assert [(h["level"], h["previous_level"]) for h in history] == [(1, 2), (2, 0)]
    told = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "star.changed")).all()
    assert [m.recipient_user_id for m in told] == [w.member.id, w.member.id]


def test_only_admins_over_the_volunteer_grant(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings
) -> None:
    settings.star_thresholds_hours = [1, 3, 6, 10, 15]
    w = ow.world
    post(client, make, w.leader, entry(w, hours=2))
    url = f"/api/v1/volunteers/{w.member_volunteer.id}/stars"
    body = {"level": 1, "reason": "自己申请"}
    assert client.post(url, json=body, headers=make.headers(w.member)).status_code == 403
    assert client.post(url, json=body, headers=make.headers(w.leader)).status_code == 403
    other = make.world("140803000000")
    for user in (other.center_admin, other.member):
        assert client.post(url, json=body, headers=make.headers(user)).status_code == 404
        assert client.get(url, headers=make.headers(user)).status_code == 404
    assert client.post(url, json=body).status_code == 401


def test_auto_grant_raises_the_level_as_hours_qualify(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings
) -> None:
    settings.star_thresholds_hours = [1, 3, 6, 10, 15]
    settings.star_auto_grant = True
    w = ow.world
    post(client, make, w.leader, entry(w, hours=1.5))
    post(client, make, w.leader, entry(w, hours=2, service_date=(DAY - timedelta(1)).isoformat()))
    stars = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/stars", headers=make.headers(w.member)
    ).json()
    assert stars["granted_level"] == 2
    assert [h["granted_by_id"] for h in stars["history"]] == [None, None]
