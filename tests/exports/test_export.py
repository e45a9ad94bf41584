"""Exports in the national exchange format, through the API."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.config import Settings
from app.integrations.national.personal import PersonalData
from tests.exports.conftest import OrderWorld
from tests.factories import Factory

EXPORTS = "/api/v1/exports"


def lines(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def test_service_records_export_in_the_exchange_format(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    order = ow.completed(hours=2.5)
    response = client.get(
        f"{EXPORTS}/service_records", headers=make.headers(ow.world.station_admin)
    )
    assert response.headers["content-type"].startswith("application/x-ndjson")
    [record] = lines(response)
    assert record["volunteer_local_id"] == str(ow.world.member_volunteer.id)
    assert record["service_hours"] == "2.50"
    assert record["project_code"] == order["id"]
    assert record["service_type"] == "care"
    assert record["region_code"] == ow.world.village
    assert record["source"] == "order"


def test_volunteers_leave_masked_by_default(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    rows = lines(client.get(f"{EXPORTS}/volunteers", headers=make.headers(ow.world.center_admin)))
    member = next(r for r in rows if r["local_id"] == str(ow.world.member_volunteer.id))
    assert member["name"] == "李队员"
    assert member["id_type"] == "1"
    assert "*" in member["id_number"]
    assert "*" in member["mobile"]
    assert member["gender"] is None
    assert member["status"] == "已注册"


def test_full_numbers_only_for_platform_admins_where_configured(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings, db: Session
) -> None:
    admin = make.platform_admin()
    url = f"{EXPORTS}/volunteers?personal=full"
    refused = client.get(url, headers=make.headers(admin))
    assert refused.status_code == 403
    assert refused.json()["code"] == "personal_data_not_allowed"

    settings.export_personal_data = PersonalData.FULL
    site_admin = client.get(url, headers=make.headers(ow.world.center_admin))
    assert site_admin.status_code == 403
    rows = lines(client.get(url, headers=make.headers(admin)))
    member = next(r for r in rows if r["local_id"] == str(ow.world.member_volunteer.id))
    assert member["id_number"].isdigit() or member["id_number"][-1] == "X"
    assert len(member["id_number"]) == 18
    assert member["birth_date"] == (
        f"{member['id_number'][6:10]}-{member['id_number'][10:12]}-{member['id_number'][12:14]}"
    )
    assert member["gender"] in ("1", "2")
    assert member["mobile"].isdigit()
    audits = db.exec(select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert [a.detail["personal"] for a in audits] == ["full"]


def test_csv_with_chinese_headers_opens_in_excel(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    ow.completed(hours=1)
    response = client.get(
        f"{EXPORTS}/service_records?format=csv&headers=zh",
        headers=make.headers(ow.world.station_admin),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["记录编号", "志愿者编号", "志愿者本地编号"]
    assert table[1][table[0].index("服务时长")] == "1.00"


def test_teams_carry_their_service_types(ow: OrderWorld, client: TestClient, make: Factory) -> None:
    rows = lines(client.get(f"{EXPORTS}/teams", headers=make.headers(ow.world.station_admin)))
    [team] = [r for r in rows if r["team_code"] == str(ow.world.team.id)]
    assert team["service_types"] == ["care"]
    assert team["status"] == "正常"


def test_each_admin_exports_their_own_region(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    other = make.world("140803000000")
    ow.completed(hours=1)
    theirs = lines(client.get(f"{EXPORTS}/volunteers", headers=make.headers(other.center_admin)))
    assert {r["region_code"][:6] for r in theirs} == {"140803"}
    assert (
        lines(client.get(f"{EXPORTS}/service_records", headers=make.headers(other.center_admin)))
        == []
    )
    narrowed = client.get(
        f"{EXPORTS}/service_records?region={ow.world.village}",
        headers=make.headers(other.center_admin),
    )
    assert lines(narrowed) == []


@pytest.mark.parametrize("who", ["leader", "member", "resident"])
def test_non_admins_are_refused(
    ow: OrderWorld, client: TestClient, make: Factory, who: str
) -> None:
    response = client.get(f"{EXPORTS}/volunteers", headers=make.headers(getattr(ow.world, who)))
    assert response.status_code == 403
    assert response.json()["code"] == "admin_required"


def test_anonymous_and_unknown_kinds_are_refused(client: TestClient, make: Factory) -> None:
    assert client.get(f"{EXPORTS}/volunteers").status_code == 401
    unknown = client.get(f"{EXPORTS}/passwords", headers=make.headers(make.platform_admin()))
    assert unknown.status_code == 422


def test_activities_export_in_the_exchange_format(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    from datetime import timedelta

    from app.activities.models import Activity
    from app.common.clock import utcnow

    w = ow.world
    other = make.world("140803000000")
    for world in (w, other):
        db.add(
            Activity(
                team_id=world.team.id,
                region_code=world.village,
                title="义诊",
                category_code="care",
                place="广场",
                starts_at=utcnow() + timedelta(days=1),
                ends_at=utcnow() + timedelta(days=1, hours=2),
                signup_deadline=utcnow() + timedelta(days=1),
                capacity=10,
                created_by_id=world.leader.id,
            )
        )
    db.commit()
    rows = lines(client.get(f"{EXPORTS}/activities", headers=make.headers(w.center_admin)))
    assert [(r["team_code"], r["status"], r["recruits"]) for r in rows] == [
        (str(w.team.id), "招募中", 10)
    ]
    zh = client.get(
        f"{EXPORTS}/activities?format=csv&headers=zh", headers=make.headers(w.center_admin)
    )
    assert zh.text.splitlines()[0].lstrip("\ufeff").startswith("活动编号,志愿团体编号")


def test_since_without_an_offset_is_refused_before_streaming(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    response = client.get(
        f"{EXPORTS}/service_records?since=2026-10-01T00:00:00",
        headers=make.headers(ow.world.center_admin),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "naive_datetime"
    ok = client.get(
        f"{EXPORTS}/service_records",
        params={"since": "2026-10-01T00:00:00+08:00"},
        headers=make.headers(ow.world.center_admin),
    )
    assert ok.status_code == 200
