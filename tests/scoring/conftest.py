"""Shared data of the scoring tests: records in two periods of 2025 and two rated orders."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Factory, World
from tests.orders.conftest import OrderWorld, ow

__all__ = ["OrderWorld", "ow"]

FEB, MAY = date(2025, 2, 10), date(2025, 5, 10)


def record(
    client: TestClient, make: Factory, w: World, volunteer: Any, day: date, hours: float
) -> None:
    body = {
        "volunteer_id": str(volunteer.id), "team_id": str(w.team.id), "category_code": "care",
        "service_date": day.isoformat(), "hours": hours, "content": "入户探访独居老人",
    }  # fmt: skip
    response = client.post("/api/v1/records", json=body, headers=make.headers(w.leader))
    assert response.status_code == 201, response.text


def served_and_rated(ow: OrderWorld, hours: dict[Any, float], stars: int) -> None:
    """An order of the station team served by `hours` volunteers, rated by the requester."""
    w = ow.world
    order = ow.in_service()
    done = ow.client.post(
        f"/api/v1/orders/{order['id']}/complete",
        json={"report": "完成", "hours": [{"volunteer_id": str(v), "hours": h}
                                          for v, h in hours.items()]},
        headers=ow.as_(w.leader),
    )  # fmt: skip
    assert done.status_code == 200, done.text
    rated = ow.client.post(
        f"/api/v1/orders/{order['id']}/rating", json={"stars": stars}, headers=ow.as_(w.resident)
    )
    assert rated.status_code == 201, rated.text


@pytest.fixture
def boards(ow: OrderWorld, client: TestClient, make: Factory) -> tuple[World, World]:
    """Records in Feb and May 2025 (points at 10 an hour count on the service date); today two
    rated orders: 5 stars (member and leader, a 5-point bonus each) and 2 stars (member)."""
    w, other = ow.world, make.world("140803000000")
    record(client, make, w, w.member_volunteer, FEB, 3)
    record(client, make, w, w.member_volunteer, MAY, 1)
    record(client, make, w, w.leader_volunteer, MAY, 2)
    record(client, make, other, other.member_volunteer, MAY, 5)
    served_and_rated(ow, {w.member_volunteer.id: 1, w.leader_volunteer.id: 1}, 5)
    served_and_rated(ow, {w.member_volunteer.id: 1}, 2)
    return w, other
