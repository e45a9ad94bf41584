"""Bad input gets a clear problem response, never a 500, and leaves nothing half-written."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.teams.models import Team
from tests.factories import Factory

PROBLEM = "application/problem+json"


def test_malformed_json_is_a_422_problem(client: TestClient, make: Factory) -> None:
    admin = make.platform_admin()
    response = client.post(
        "/api/v1/teams",
        content=b"{not json",
        headers={**make.headers(admin), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"]


def test_unknown_path_and_wrong_method_are_problems(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)
    assert missing.json()["code"] == "not_found"
    wrong = client.delete("/api/v1/categories")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


def test_oversized_text_is_refused_with_the_field_named(client: TestClient, make: Factory) -> None:
    admin = make.platform_admin()
    site = make.site("140802100200")
    response = client.post(
        "/api/v1/teams",
        json={"name": "队" * 101, "site_id": str(site.id), "specialties": ["care"]},
        headers=make.headers(admin),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "name"]


def test_a_failed_write_leaves_nothing_behind(
    client: TestClient, make: Factory, db: Session
) -> None:
    admin = make.platform_admin()
    site = make.site("140802100200")
    before = db.exec(select(func.count()).select_from(Team)).one()
    response = client.post(
        "/api/v1/teams",
        json={"name": "新队", "site_id": str(site.id), "specialties": ["care", "no_such_thing"]},
        headers=make.headers(admin),
    )
    assert (response.status_code, response.json()["code"]) == (422, "unknown_category")
    assert db.exec(select(func.count()).select_from(Team)).one() == before


def test_problem_bodies_are_bilingual(client: TestClient, make: Factory) -> None:
    response = client.get("/api/v1/regions/999999999999")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "未找到" in detail
    assert "no region" in detail
