"""Importing volunteers and historical hours from national-platform exports (CSV and XLSX)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from app.accounts.models import User
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


def users(db: Session) -> int:
    db.expire_all()
    return int(db.exec(select(func.count()).select_from(User)).one())


def refuse_in_the_database(db: Session, national_code: str) -> None:
    """A trigger that makes the database itself refuse one volunteer, after the import has
    already written that row's user: a failure no check in Python foresees. DDL is
    transactional on both databases, so it goes with the test's transaction."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(
            text(
                "CREATE TRIGGER refuse_volunteer BEFORE INSERT ON volunteer "
                f"WHEN NEW.national_code = '{national_code}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )
    else:
        db.execute(
            text(
                "CREATE FUNCTION refuse_volunteer() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF NEW.national_code = '{national_code}' THEN "
                "RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'unique_violation'; "
                "END IF; RETURN NEW; END $$"
            )
        )
        db.execute(
            text(
                "CREATE TRIGGER refuse_volunteer BEFORE INSERT ON volunteer "
                "FOR EACH ROW EXECUTE FUNCTION refuse_volunteer()"
            )
        )
    db.commit()


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


def test_a_row_the_database_refuses_is_that_rows_error_and_the_file_goes_on(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    db.commit()
    refuse_in_the_database(db, "ZY0666")
    volunteers, people = count(db), users(db)
    refused = ["ZY0666", "钱志愿", "", "13912340666", VILLAGE, "已注册"]
    after = ["ZY0005", "孙志愿", "", "13912340005", VILLAGE, "已注册"]
    response = upload(client, make, w.center_admin, "volunteers", csv_bytes([GOOD, refused, after]))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["failed"]) == (2, 1), report
    [bad] = [r for r in report["rows"] if r["status"] == "error"]
    assert (bad["row"], bad["key"], bad["errors"][0]["field"]) == (3, "ZY0666", "row")
    assert "/" in bad["errors"][0]["message"]  # bilingual
    # The refused row's user, written before its volunteer, went with its savepoint.
    assert (count(db), users(db)) == (volunteers + 2, people + 2)
    codes = set(db.exec(select(Volunteer.national_code)).all())
    assert {"ZY0001", "ZY0005"} <= codes
    assert "ZY0666" not in codes


def test_failed_rows_leave_no_users_behind(client: TestClient, make: Factory, db: Session) -> None:
    w = make.world("140802000000")
    db.commit()
    volunteers, people = count(db), users(db)
    long_name = ["ZY0006", "长" * 51, "", "13912340006", VILLAGE, "已注册"]
    long_code = ["ZY" + "9" * 40, "李志愿", "", "13912340007", VILLAGE, "已注册"]
    report = upload(
        client, make, w.center_admin, "volunteers", csv_bytes([BAD_PHONE, long_name, long_code])
    ).json()
    assert report["failed"] == 3, report
    fields = [r["errors"][0]["field"] for r in report["rows"]]
    assert fields == ["mobile", "name", "volunteer_code"]
    assert (count(db), users(db)) == (volunteers, people)


def test_an_unknown_status_is_refused_not_taken_for_approved(
    client: TestClient, make: Factory, db: Session
) -> None:
    w = make.world("140802000000")
    db.commit()
    volunteers, people = count(db), users(db)
    rows = [
        ["ZY0010", "王志愿", "", "13912340010", VILLAGE, "已注销"],  # not one of ours
        ["ZY0011", "赵志愿", "", "13912340011", VILLAGE, "待审核"],
        ["ZY0012", "钱志愿", "", "13912340012", VILLAGE, "approved"],
        ["ZY0013", "孙志愿", "", "13912340013", VILLAGE, ""],
    ]
    report = upload(client, make, w.center_admin, "volunteers", csv_bytes(rows)).json()
    assert (report["created"], report["failed"]) == (3, 1), report
    assert report["rows"][0]["errors"][0]["field"] == "status"
    assert (count(db), users(db)) == (volunteers + 3, people + 3)
    db.expire_all()
    statuses = dict(
        db.exec(
            select(Volunteer.national_code, Volunteer.status).where(
                col(Volunteer.national_code).in_(["ZY0010", "ZY0011", "ZY0012", "ZY0013"])
            )
        ).all()
    )
    assert statuses == {"ZY0011": "pending", "ZY0012": "approved", "ZY0013": "approved"}


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
