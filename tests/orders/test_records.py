"""Service records from completed orders: the volunteer's list, hours and star eligibility."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.config import Environment, Settings
from tests.orders.conftest import OrderWorld


def _complete(ow: OrderWorld, client: TestClient, member_hours: float) -> str:
    return str(ow.completed(member_hours)["id"])


def test_a_volunteer_sees_records_hours_and_star_standing(
    ow: OrderWorld, client: TestClient
) -> None:
    w = ow.world
    first = _complete(ow, client, 1.5)
    _complete(ow, client, 2.25)
    records = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/records", headers=ow.as_(w.member)
    ).json()["items"]
    assert [(r["minutes"], r["hours"]) for r in records] == [(90, 1.5), (135, 2.25)]
    assert records[0]["order_id"] == first
    assert records[0]["team_id"] == str(w.team.id)
    summary = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/records/summary", headers=ow.as_(w.member)
    ).json()
    assert (summary["records"], summary["total_minutes"], summary["total_hours"]) == (2, 225, 3.75)
    assert summary["star"] == {"eligible_level": 0, "next_level_hours": 100, "hours_to_next": 96.25}
    assert summary["thresholds_hours"] == [100, 300, 600, 1000, 1500]
    assert "不含往返" in summary["rule"]


def test_records_are_scoped(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    _complete(ow, client, 1)
    path = f"/api/v1/volunteers/{w.member_volunteer.id}/records"
    for insider in (w.member, w.leader, w.station_admin, w.center_admin):
        assert client.get(path, headers=ow.as_(insider)).status_code == 200
    other = ow.make.world("140803000000")
    for outsider in (other.station_admin, other.leader, other.member, w.resident):
        response = client.get(path, headers=ow.as_(outsider))
        assert (response.status_code, response.json()["code"]) == (404, "volunteer_not_found")
        summary = client.get(path + "/summary", headers=ow.as_(outsider))
        assert summary.status_code == 404


def test_records_filter_by_date(ow: OrderWorld, client: TestClient) -> None:
    w = ow.world
    _complete(ow, client, 1)
    path = f"/api/v1/volunteers/{w.member_volunteer.id}/records"
    assert client.get(path + "?since=2000-01-01", headers=ow.as_(w.member)).json()["items"]
    assert client.get(path + "?until=2000-01-01", headers=ow.as_(w.member)).json()["items"] == []
    bad = client.get(path + "?since=yesterday", headers=ow.as_(w.member))
    assert bad.status_code == 422


@pytest.mark.parametrize("stars", [[], [100, 100], [300, 100], [0, 100]])
def test_star_thresholds_must_rise(stars: list[int]) -> None:
    with pytest.raises(ValidationError):
        Settings(env=Environment.TEST, database_url="sqlite://", star_thresholds_hours=stars)
