"""Amendments that correct the date, times or category: the same rules as a new record, and the
period totals move with the date."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.records.ledger import china_today
from app.scoring.models import PeriodKind, VolunteerTotal
from app.scoring.rebuild import mismatches
from app.scoring.totals import period_key
from tests.factories import Factory
from tests.records.conftest import OrderWorld
from tests.records.test_ledger import DAY, entry, post, totals
from tests.records.test_rules import at

JAN = date(2025, 1, 31)
FEB = date(2025, 2, 3)


def amend(client: TestClient, make: Factory, user: Any, record: dict[str, Any], **body: Any) -> Any:
    return client.post(
        f"/api/v1/records/{record['id']}/amendments",
        json={"reason": "更正记录", **body},
        headers=make.headers(user),
    )


def month_minutes(db: Session, ow: OrderWorld, day: date) -> int:
    db.expire_all()
    row = db.exec(
        select(VolunteerTotal).where(
            VolunteerTotal.volunteer_id == ow.world.member_volunteer.id,
            VolunteerTotal.period_kind == PeriodKind.MONTH.value,
            VolunteerTotal.period == period_key(PeriodKind.MONTH, day),
        )
    ).first()
    return row.minutes if row else 0


def test_a_new_date_moves_the_minutes_to_the_other_period(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    record = post(client, make, w.leader, entry(w, service_date=JAN.isoformat(), hours=2)).json()
    assert (month_minutes(db, ow, JAN), month_minutes(db, ow, FEB)) == (120, 0)
    moved = amend(client, make, w.leader, record, service_date=FEB.isoformat(), hours=1.5)
    assert moved.status_code == 201, moved.text
    assert (moved.json()["service_date"], moved.json()["minutes"]) == (FEB.isoformat(), 90)
    assert (month_minutes(db, ow, JAN), month_minutes(db, ow, FEB)) == (0, 90)
    assert totals(db, w) == 90
    detail = client.get(f"/api/v1/records/{record['id']}", headers=make.headers(w.member)).json()
    assert detail["record"]["service_date"] == JAN.isoformat()  # the original as entered
    assert [(a["source"], a["service_date"], a["minutes"]) for a in detail["amendments"]] == [
        ("reversal", JAN.isoformat(), -120),
        ("amendment", FEB.isoformat(), 90),
    ]
    assert (detail["effective_minutes"], detail["effective_service_date"]) == (
        90,
        FEB.isoformat(),
    )
    # A later change of hours stays on the new day; the recompute agrees.
    assert amend(client, make, w.leader, record, hours=1).status_code == 201
    assert (month_minutes(db, ow, JAN), month_minutes(db, ow, FEB)) == (0, 60)
    assert mismatches(db) == {"volunteer_total": 0, "team_total": 0}


def test_corrected_times_and_category_follow_the_rules_of_a_new_record(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    other_day = DAY - timedelta(days=1)
    first = post(
        client, make, w.leader, entry(w, hours=2, started_at=at(DAY, 1), ended_at=at(DAY, 3))
    ).json()
    second = post(
        client, make, w.leader, entry(w, hours=2, started_at=at(DAY, 4), ended_at=at(DAY, 6))
    ).json()
    full_day = post(
        client, make, w.leader, entry(w, hours=23, service_date=other_day.isoformat())
    ).json()
    tomorrow = china_today() + timedelta(days=1)
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"started_at": at(DAY, 2), "ended_at": at(DAY, 5)}, "overlapping_times"),
        ({"service_date": other_day.isoformat()}, "date_mismatch"),  # the times are still DAY's
        (
            {"service_date": other_day.isoformat(), "started_at": at(other_day, 1),
             "ended_at": at(other_day, 3)},
            "day_limit",
        ),
        ({"service_date": tomorrow.isoformat()}, "future_date"),
        ({"started_at": at(DAY, 3), "ended_at": at(DAY, 2)}, "bad_times"),
        ({"hours": 3}, "hours_exceed_times"),
        ({"category_code": "no_such"}, "unknown_category"),
        ({"hours": 0, "service_date": other_day.isoformat()}, "non_positive_hours"),
    ]  # fmt: skip
    for body, code in refusals:
        response = amend(client, make, w.leader, second, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == code, body
    assert totals(db, w) == (2 + 2 + 23) * 60
    # Its own old times do not block a record; a voided neighbour's times are free.
    shifted = amend(client, make, w.leader, second, started_at=at(DAY, 5), ended_at=at(DAY, 7))
    assert shifted.status_code == 201, shifted.text
    assert amend(client, make, w.leader, first, hours=0).status_code == 201
    into_void = amend(client, make, w.leader, second, started_at=at(DAY, 1), ended_at=at(DAY, 3))
    assert into_void.status_code == 201, into_void.text
    # A new category is a new category of points: the minutes leave the old one.
    recategorised = amend(client, make, w.leader, full_day, category_code="tutoring", hours=20)
    assert recategorised.status_code == 201, recategorised.text
    detail = client.get(f"/api/v1/records/{full_day['id']}", headers=make.headers(w.leader)).json()
    assert detail["effective_category_code"] == "tutoring"
    assert [a["minutes"] for a in detail["amendments"]] == [-23 * 60, 20 * 60]
    assert totals(db, w) == (2 + 20) * 60
    assert mismatches(db) == {"volunteer_total": 0, "team_total": 0}


def test_only_the_leader_or_an_admin_over_the_team_corrects_dates(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    other = make.world("140803000000")
    record = post(client, make, w.leader, entry(w, service_date=JAN.isoformat())).json()
    for user, status in ((w.member, 403), (other.leader, 404), (other.center_admin, 404)):
        response = amend(client, make, user, record, service_date=FEB.isoformat())
        assert response.status_code == status, user.display_name
    assert month_minutes(db, ow, JAN) == 150
    by_admin = amend(client, make, w.center_admin, record, service_date=FEB.isoformat())
    assert by_admin.status_code == 201, by_admin.text
    assert month_minutes(db, ow, FEB) == 150


def test_a_volunteer_asks_for_a_new_date_and_the_approval_moves_the_record(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    record = post(client, make, w.leader, entry(w, service_date=JAN.isoformat(), hours=1)).json()
    asked = client.post(
        f"/api/v1/records/{record['id']}/correction-requests",
        json={
            "reason": "日期登记错了",
            "service_date": FEB.isoformat(),
            "category_code": "tutoring",
        },
        headers=make.headers(w.member),
    )
    assert asked.status_code == 201, asked.text
    assert (asked.json()["service_date"], asked.json()["omission"]) == (FEB.isoformat(), False)
    other = make.world("140803000000")
    refused = client.post(
        f"/api/v1/correction-requests/{asked.json()['id']}/approve",
        json={},
        headers=make.headers(other.center_admin),
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "correction_not_found")
    approved = client.post(
        f"/api/v1/correction-requests/{asked.json()['id']}/approve",
        json={},
        headers=make.headers(w.leader),
    )
    assert approved.status_code == 200, approved.text
    assert (month_minutes(db, ow, JAN), month_minutes(db, ow, FEB)) == (0, 60)
    detail = client.get(f"/api/v1/records/{record['id']}", headers=make.headers(w.member)).json()
    assert (detail["effective_service_date"], detail["effective_category_code"]) == (
        FEB.isoformat(),
        "tutoring",
    )
    assert approved.json()["amendment_id"] == detail["amendments"][-1]["id"]


def _board(client: TestClient, make: Factory, w: Any, subject: str, query: str) -> list[Any]:
    response = client.get(
        f"/api/v1/leaderboards/{subject}?by=hours&{query}", headers=make.headers(w.member)
    )
    assert response.status_code == 200, response.text
    return [(e["minutes"], e["records"]) for e in response.json()["entries"] if e["minutes"]]


def test_a_record_moved_to_another_year_counts_there_and_the_recompute_agrees(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    december = date(2024, 12, 30)
    record = post(client, make, w.leader, entry(w, service_date=december.isoformat(), hours=2))
    assert record.status_code == 201, record.text
    assert post(client, make, w.leader, entry(w, service_date=JAN.isoformat())).status_code == 201
    periods = ("period=month&at=2024-12", "period=year&at=2024", "period=month&at=2025-02",
               "period=quarter&at=2025-Q1", "period=year&at=2025", "period=all")  # fmt: skip
    before = [[(120, 1)], [(120, 1)], [], [(150, 1)], [(150, 1)], [(270, 2)]]
    for subject in ("volunteers", "teams"):
        assert [_board(client, make, w, subject, p) for p in periods] == before, subject

    moved = amend(client, make, w.leader, record.json(), service_date=FEB.isoformat(), hours=1)
    assert moved.status_code == 201, moved.text
    after = [[], [], [(60, 1)], [(210, 2)], [(210, 2)], [(210, 2)]]
    for subject in ("volunteers", "teams"):
        assert [_board(client, make, w, subject, p) for p in periods] == after, subject
    # A change of hours on the new day and a void keep the record where it is now.
    assert amend(client, make, w.leader, record.json(), hours=3).status_code == 201
    assert amend(client, make, w.leader, record.json(), hours=0).status_code == 201
    assert _board(client, make, w, "volunteers", "period=month&at=2025-02") == []
    db.expire_all()
    row = db.exec(
        select(VolunteerTotal).where(
            VolunteerTotal.volunteer_id == w.member_volunteer.id,
            VolunteerTotal.period_kind == PeriodKind.MONTH.value,
            VolunteerTotal.period == 202502,
        )
    ).one()
    assert (row.minutes, row.records) == (0, 1)
    assert mismatches(db) == {"volunteer_total": 0, "team_total": 0}
