"""Times without an offset are refused with a problem answer, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Factory

NAIVE = "2030-01-01T09:00:00"


def test_times_without_an_offset_are_refused(client: TestClient, make: Factory) -> None:
    w = make.world("140802000000")
    leader = make.headers(w.leader)
    calls = [
        (f"/api/v1/teams/{w.team.id}/activities", leader,
         {"title": "活动", "category_code": "care", "place": "广场", "capacity": 3,
          "starts_at": NAIVE, "ends_at": "2030-01-01T11:00:00+08:00"}),
        ("/api/v1/records", leader,
         {"volunteer_id": str(w.member_volunteer.id), "team_id": str(w.team.id),
          "category_code": "care", "service_date": "2026-01-05", "hours": 1,
          "content": "服务", "started_at": NAIVE, "ended_at": "2030-01-01T10:00:00+08:00"}),
        ("/api/v1/api-keys", make.headers(make.platform_admin()),
         {"name": "x", "scopes": ["changes:read"], "expires_at": NAIVE}),
    ]  # fmt: skip
    for path, headers, body in calls:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    listed = client.get(
        f"/api/v1/activities?starting_after={NAIVE}", headers=make.headers(w.member)
    )
    assert listed.status_code == 422
