"""Importing volunteers and historical hours from national-platform exports (CSV and XLSX)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlmodel import Session, func, select

from app.config import Settings
from app.integrations.national.personal import PersonalData
from app.records.models import ServiceRecord
from app.volunteers.models import Volunteer
from tests.factories import Factory, World

VILLAGE = "140802100200"
HEADERS_ZH = ["志愿者编号", "姓名", "证件号码", "手机号码", "所在地区代码", "状态"]


def csv_bytes(rows: list[list[str]], header: list[str] = HEADERS_ZH) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()


def upload(client: TestClient, make: Factory, user: Any, kind: str, data: bytes,
           name: str = "export.csv", **params: Any) -> Any:  # fmt: skip
    return client.post(
        f"/api/v1/imports/{kind}",
        params=params,
        files={"file": (name, data)},
        headers=make.headers(user),
    )


GOOD = ["ZY0001", "周志愿", "", "13912340001", VILLAGE, "已注册"]
BAD_PHONE = ["ZY0002", "吴志愿", "", "1391234", VILLAGE, "已注册"]
OUTSIDE = ["ZY0003", "郑志愿", "", "13912340003", "140803100200", "已注册"]
MASKED = ["ZY0004", "冯志愿", "", "139****0004", VILLAGE, "已注册"]


def count(db: Session) -> int:
    db.expire_all()
    return int(db.exec(select(func.count()).select_from(Volunteer)).one())


def test_a_dry_run_reports_every_row_and_changes_nothing(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    make.region("140803100200")
    before = count(db)
    data = csv_bytes([GOOD, BAD_PHONE, OUTSIDE, MASKED])
    response = upload(client, make, w.center_admin, "volunteers", data, dry_run="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["failed"], report["dry_run"]) == (1, 3, True)
    errors = {r["row"]: r["errors"][0]["field"] for r in report["rows"] if r["status"] == "error"}
    assert errors == {3: "mobile", 4: "region_code", 5: "mobile"}
    assert count(db) == before


def test_good_rows_land_bad_rows_do_not_and_a_reimport_changes_nothing(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    before = count(db)
    data = csv_bytes([GOOD, BAD_PHONE])
    first = upload(client, make, w.center_admin, "volunteers", data).json()
    assert (first["created"], first["failed"]) == (1, 1)
    assert count(db) == before + 1
    again = upload(client, make, w.center_admin, "volunteers", data).json()
    assert (again["created"], again["unchanged"], again["failed"]) == (0, 1, 1)
    assert count(db) == before + 1
    renamed = upload(
        client,
        make,
        w.center_admin,
        "volunteers",
        csv_bytes([["ZY0001", "周志愿者", "", "13912340001", VILLAGE, ""]]),
    ).json()
    assert renamed["updated"] == 1
    imported = db.exec(select(Volunteer).where(Volunteer.national_code == "ZY0001")).one()
    assert (imported.real_name, imported.status, imported.phone_masked) == (
        "周志愿者", "approved", "139****0001"
    )  # fmt: skip


def test_xlsx_with_english_headers(client: TestClient, make: Factory, db: Session) -> None:
    w = make.world("140802000000")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["volunteer_code", "name", "mobile", "region_code"])
    sheet.append(["ZY0100", "陈志愿", 13912340100, VILLAGE])
    sheet.append(["ZY0101", "", 13912340101, VILLAGE])
    buffer = io.BytesIO()
    book.save(buffer)
    report = upload(
        client, make, w.station_admin, "volunteers", buffer.getvalue(), name="people.xlsx"
    ).json()
    assert (report["created"], report["failed"]) == (1, 1)
    assert report["rows"][1]["errors"][0]["field"] == "name"


def test_historical_hours_land_once_through_the_ledger(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    w.member_volunteer.national_code = "ZY0200"
    db.add(w.member_volunteer)
    db.commit()
    header = ["record_code", "volunteer_code", "service_date", "service_hours", "service_type",
              "content"]  # fmt: skip
    rows = [
        ["R1", "ZY0200", "2024-05-05", "2.5", "care", "入户探访"],
        ["R2", "ZY0200", "2024-05-06", "-1", "care", "错误"],
        ["R3", "NOBODY", "2024-05-07", "1", "care", "无此人"],
        ["R4", "ZY0200", "5/8/2024", "1", "care", "日期错"],
        ["", "ZY0200", "2024-05-09", "1.5", "legal_aid", "普法"],
    ]
    data = csv_bytes(rows, header)
    report = upload(
        client, make, w.center_admin, "service_records", data, team_id=str(w.team.id)
    ).json()
    assert (report["created"], report["failed"]) == (2, 3), report
    fields = [r["errors"][0]["field"] for r in report["rows"] if r["errors"]]
    assert fields == ["service_hours", "volunteer_code", "service_date"]
    again = upload(
        client, make, w.center_admin, "service_records", data, team_id=str(w.team.id)
    ).json()
    assert (again["created"], again["unchanged"]) == (0, 2)
    db.expire_all()
    minutes = db.exec(
        select(func.sum(ServiceRecord.minutes)).where(
            ServiceRecord.volunteer_id == w.member_volunteer.id
        )
    ).one()
    assert minutes == 150 + 90
    summary = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/records/summary",
        headers=make.headers(w.member),
    ).json()
    assert summary["total_minutes"] == 240


def test_an_export_imports_back_unchanged(
    client: TestClient, make: Factory, db: Session, settings: Settings
) -> None:
    w: World = make.world("140802000000")
    for n, volunteer in enumerate((w.member_volunteer, w.leader_volunteer)):
        volunteer.national_code = f"ZY09{n}"
        db.add(volunteer)
    db.commit()
    settings.export_personal_data = PersonalData.FULL
    admin = make.platform_admin()
    exported = client.get(
        "/api/v1/exports/volunteers?format=csv&headers=zh&personal=full&region=140802100200",
        headers=make.headers(admin),
    )
    assert exported.status_code == 200
    report = upload(client, make, admin, "volunteers", exported.content).json()
    coded = [r for r in report["rows"] if r["key"] in ("ZY090", "ZY091")]
    assert [r["status"] for r in coded] == ["unchanged", "unchanged"], report


def test_who_may_import(client: TestClient, make: Factory) -> None:
    w = make.world("140802000000")
    data = csv_bytes([GOOD])
    for user in (w.resident, w.member, w.leader):
        assert upload(client, make, user, "volunteers", data).status_code == 403
    other = make.world("140803000000")
    theirs = upload(client, make, other.center_admin, "volunteers", data).json()
    assert theirs["failed"] == 1
    assert theirs["rows"][0]["errors"][0]["field"] == "region_code"
    assert upload(client, make, w.center_admin, "volunteers", b"").status_code == 422
    assert (
        upload(client, make, w.center_admin, "volunteers", b"a,b\n1,2\n").json()["code"]
        == "bad_header"
    )
    assert upload(client, make, w.center_admin, "nonsense", data).status_code == 422
    big = b"x" * (10 * 1024 * 1024 + 1)
    assert upload(client, make, w.center_admin, "volunteers", big).status_code == 413
    assert (
        client.post("/api/v1/imports/volunteers", files={"file": ("a.csv", data)}).status_code
        == 401
    )
