from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.common.location import Location
from app.teams.models import Team
from tests.factories import Factory, World

VILLAGE_POINT = Location(lat=35.05, lng=110.91)


@dataclass
class OrderWorld:
    """World A from `make.world` plus teams at the township and county level."""

    world: World
    township_team: Team
    county_team: Team
    make: Factory
    client: TestClient

    def as_(self, user: Any) -> dict[str, str]:
        return self.make.headers(user)

    def place(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "category_code": "care",
            "title": "帮独居老人买药",
            "description": "老人腿脚不便,需要代购常用药",
            "address": "曲村3组12号",
            "location": {"lat": 35.051, "lng": 110.912, "coord_system": "wgs84"},
            "region_code": self.world.village,
            "contact_name": "张大爷",
            "contact_phone": "13912345678",
        }
        body.update(overrides)
        response = self.client.post(
            "/api/v1/orders", json=body, headers=self.as_(self.world.resident)
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def _post(self, path: str, user: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.as_(user))
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def accepted(self, **overrides: Any) -> dict[str, Any]:
        """Approved, offered to the station's team, and accepted by its leader."""
        w = self.world
        order = self.approved(**overrides)
        self._post(
            f"/api/v1/orders/{order['id']}/dispatch", w.station_admin, {"team_id": str(w.team.id)}
        )
        return self._post(f"/api/v1/orders/{order['id']}/accept", w.leader)

    def in_service(self, **overrides: Any) -> dict[str, Any]:
        order = self.accepted(**overrides)
        return self._post(f"/api/v1/orders/{order['id']}/start", self.world.leader)

    def completed(self, hours: float = 1.0, **overrides: Any) -> dict[str, Any]:
        """Served by the station team's member for `hours`."""
        w = self.world
        order = self.in_service(**overrides)
        return self._post(
            f"/api/v1/orders/{order['id']}/complete",
            w.leader,
            {
                "report": "完成",
                "hours": [{"volunteer_id": str(w.member_volunteer.id), "hours": hours}],
            },
        )

    def approved(self, **overrides: Any) -> dict[str, Any]:
        order = self.place(**overrides)
        response = self.client.post(
            f"/api/v1/orders/{order['id']}/approve", headers=self.as_(self.world.station_admin)
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def ow(make: Factory, client: TestClient) -> OrderWorld:
    world = make.world("140802000000")
    station_team = world.team
    station_team.wgs_lat, station_team.wgs_lng = 35.05, 110.91
    station_team.lat, station_team.lng, station_team.coord_system = 35.05, 110.91, "wgs84"
    township_leader = make.volunteer(world.township, name="镇队长")
    county_leader = make.volunteer(world.county, name="县队长")
    township_team = make.team(
        world.township,
        leader=township_leader,
        specialties=("care", "legal_aid"),
        location=Location(lat=35.06, lng=110.95),
    )
    county_team = make.team(
        world.county,
        leader=county_leader,
        specialties=("care",),
        location=Location(lat=35.02, lng=111.0),
    )
    make.session.flush()
    return OrderWorld(
        world=world, township_team=township_team, county_team=county_team, make=make, client=client
    )
