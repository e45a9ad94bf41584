"""Manual records, amendments and correction requests; totals, leaderboards and the recompute."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.records.ledger import china_today
from app.scoring.models import VolunteerTotal
from app.scoring.rebuild import mismatches, recompute
from tests.factories import Factory, World
from tests.records.conftest import OrderWorld

DAY = china_today() - timedelta(days=3)


def entry(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "volunteer_id": str(world.member_volunteer.id),
        "team_id": str(world.team.id),
        "category_code": "care",
        "service_date": DAY.isoformat(),
        "hours": 2.5,
        "content": "入户探访独居老人",
        **overrides,
    }


def post(client: TestClient, make: Factory, user: Any, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/records", json=body, headers=make.headers(user))


def totals(db: Session, world: World, kind: str = "all") -> int:
    db.expire_all()
    row = db.exec(
        select(VolunteerTotal).where(
            VolunteerTotal.volunteer_id == world.member_volunteer.id,
            VolunteerTotal.period_kind == kind,
        )
    ).first()
    return row.minutes if row else 0


def test_a_leader_records_hours_and_the_totals_follow(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    response = post(client, make, w.leader, entry(w))
    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["minutes"], record["source"], record["region_code"]) == (
        150,
        "manual",
        w.village,
    )
    assert totals(db, w) == 150
    assert totals(db, w, "month") == 150
    summary = client.get(
        f"/api/v1/volunteers/{w.member_volunteer.id}/records/summary",
        headers=make.headers(w.member),
    ).json()
    assert (summary["records"], summary["total_minutes"]) == (1, 150)


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"hours": 0}, 422, None),
        ({"hours": -1}, 422, None),
        ({"hours": 25}, 422, None),
        ({"service_date": (china_today() + timedelta(days=1)).isoformat()}, 422, "future_date"),
        ({"category_code": "no_such"}, 422, "unknown_category"),
        ({"content": ""}, 422, None),
        ({"team_id": "00000000-0000-0000-0000-000000000000"}, 404, "team_not_found"),
    ],
)
def test_impossible_records_are_refused(
    ow: OrderWorld,
    client: TestClient,
    make: Factory,
    db: Session,
    overrides: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    response = post(client, make, ow.world.leader, entry(ow.world, **overrides))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if code:
        assert response.json()["code"] == code
    assert totals(db, ow.world) == 0


def test_non_members_and_unapproved_volunteers_get_no_records(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    w = ow.world
    outsider = make.volunteer(w.village)
    for volunteer_id in (outsider.id, w.pending.id):
        response = post(client, make, w.leader, entry(w, volunteer_id=str(volunteer_id)))
        assert response.status_code == 422
        assert response.json()["code"] == "not_a_member"


def test_one_day_holds_at_most_24_hours_and_times_do_not_overlap(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    assert post(client, make, w.leader, entry(w, hours=20)).status_code == 201
    over = post(client, make, w.leader, entry(w, hours=4.5))
    assert over.status_code == 422
    assert over.json()["code"] == "day_limit"
    other_day = (DAY - timedelta(days=1)).isoformat()
    timed = {
        "service_date": other_day,
        "hours": 2,
        "started_at": f"{other_day}T01:00:00Z",
        "ended_at": f"{other_day}T03:00:00Z",
    }
    assert post(client, make, w.leader, entry(w, **timed)).status_code == 201
    clash = dict(timed, started_at=f"{other_day}T02:00:00Z", ended_at=f"{other_day}T04:00:00Z")
    response = post(client, make, w.leader, entry(w, **clash))
    assert response.status_code == 422
    assert response.json()["code"] == "overlapping_times"
    assert totals(db, w) == 22 * 60


def test_only_the_leader_and_admins_over_the_team_record(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    w = ow.world
    other = make.world("140803000000")
    for user in (w.member, w.resident, other.leader, other.center_admin):
        response = post(client, make, user, entry(w))
        assert response.status_code == 403, user.display_name
    assert post(client, make, w.center_admin, entry(w)).status_code == 201
    assert client.post("/api/v1/records", json=entry(w)).status_code == 401


def test_an_amendment_keeps_the_original_and_moves_the_totals(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    record = post(client, make, w.leader, entry(w)).json()
    url = f"/api/v1/records/{record['id']}/amendments"
    response = client.post(
        url, json={"reason": "实际服务1小时", "hours": 1}, headers=make.headers(w.leader)
    )
    assert response.status_code == 201, response.text
    assert (response.json()["minutes"], response.json()["amends_id"]) == (-90, record["id"])
    assert totals(db, w) == 60
    detail = client.get(f"/api/v1/records/{record['id']}", headers=make.headers(w.member)).json()
    assert detail["record"]["minutes"] == 150  # the original stays as entered
    assert detail["effective_minutes"] == 60
    assert [a["reason"] for a in detail["amendments"]] == ["实际服务1小时"]
    # Voiding, and the refusals.
    void = client.post(
        url, json={"reason": "未实际参加", "hours": 0}, headers=make.headers(w.leader)
    )
    assert void.status_code == 201
    assert totals(db, w) == 0
    same = client.post(url, json={"reason": "再次", "hours": 0}, headers=make.headers(w.leader))
    assert same.json()["code"] == "nothing_to_amend"
    by_member = client.post(
        url, json={"reason": "我改", "hours": 3}, headers=make.headers(w.member)
    )
    assert by_member.status_code == 403
    other = make.world("140803000000")
    hidden = client.post(
        url, json={"reason": "x改", "hours": 3}, headers=make.headers(other.leader)
    )
    assert hidden.status_code == 404
    of_amendment = client.post(
        f"/api/v1/records/{void.json()['id']}/amendments",
        json={"reason": "更正更正", "hours": 1},
        headers=make.headers(w.leader),
    )
    assert of_amendment.json()["code"] == "amend_the_original"


def test_a_volunteer_asks_for_a_correction_and_the_leader_decides(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    record = post(client, make, w.leader, entry(w, hours=1)).json()
    ask = client.post(
        f"/api/v1/records/{record['id']}/correction-requests",
        json={"reason": "漏记了一小时", "hours": 2},
        headers=make.headers(w.member),
    )
    assert ask.status_code == 201, ask.text
    request_id = ask.json()["id"]
    by_other = client.post(
        f"/api/v1/records/{record['id']}/correction-requests",
        json={"reason": "代为申请", "hours": 3},
        headers=make.headers(w.leader),
    )
    assert by_other.status_code == 403
    pending = client.get(
        "/api/v1/correction-requests?status=pending", headers=make.headers(w.leader)
    ).json()["items"]
    assert [r["id"] for r in pending] == [request_id]
    other = make.world("140803000000")
    assert (
        client.get("/api/v1/correction-requests", headers=make.headers(other.center_admin)).json()[
            "items"
        ]
        == []
    )
    refused = client.post(
        f"/api/v1/correction-requests/{request_id}/approve",
        json={},
        headers=make.headers(other.leader),
    )
    assert refused.status_code == 404
    no_reason = client.post(
        f"/api/v1/correction-requests/{request_id}/reject", json={}, headers=make.headers(w.leader)
    )
    assert no_reason.json()["code"] == "reason_required"
    approved = client.post(
        f"/api/v1/correction-requests/{request_id}/approve",
        json={"reason": "核实无误"},
        headers=make.headers(w.leader),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["amendment_id"]
    assert totals(db, w) == 120
    again = client.post(
        f"/api/v1/correction-requests/{request_id}/approve", json={}, headers=make.headers(w.leader)
    )
    assert again.status_code == 409


def test_order_records_land_in_the_totals_and_the_recompute_agrees(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    w = ow.world
    ow.completed(hours=1.5)
    post(client, make, w.leader, entry(w, service_date=date(2024, 3, 9).isoformat()))
    record = post(client, make, w.leader, entry(w, service_date=date(2025, 12, 31).isoformat()))
    client.post(
        f"/api/v1/records/{record.json()['id']}/amendments",
        json={"reason": "更正", "hours": 0.5},
        headers=make.headers(w.leader),
    )
    assert totals(db, w) == 90 + 150 + 30
    assert mismatches(db) == {"volunteer_total": 0, "team_total": 0}
    before = {
        (t.period_kind, t.period, t.minutes, t.records)
        for t in db.exec(select(VolunteerTotal)).all()
    }
    recompute(db)
    db.flush()
    db.expire_all()
    after = {
        (t.period_kind, t.period, t.minutes, t.records)
        for t in db.exec(select(VolunteerTotal)).all()
    }
    assert before == after
    assert ("year", 2025, 30, 1) in after
    assert ("quarter", 20241, 150, 1) in after
    # A total changed behind the ledger's back is caught.
    row = db.exec(select(VolunteerTotal).where(VolunteerTotal.period_kind == "all")).first()
    assert row is not None
    row.minutes += 1
    db.add(row)
    db.flush()
    assert mismatches(db)["volunteer_total"] == 2


def test_leaderboards_rank_by_region_and_period(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    w = ow.world
    other = make.world("140803000000")
    post(client, make, w.leader, entry(w, hours=3))
    post(client, make, w.leader, entry(w, volunteer_id=str(w.leader_volunteer.id), hours=5))
    post(client, make, other.leader, entry(other, hours=8))
    year = DAY.year
    url = f"/api/v1/leaderboards/volunteers?period=year&at={year}&region={w.county}"
    board = client.get(url, headers=make.headers(w.resident)).json()
    assert [e["minutes"] for e in board["entries"]] == [300, 180]
    assert board["entries"][0]["name"] == "王**"  # masked for a resident
    admin_view = client.get(url, headers=make.headers(w.center_admin)).json()
    assert admin_view["entries"][0]["name"] == "王队长"
    everywhere = client.get(
        "/api/v1/leaderboards/volunteers?period=all", headers=make.headers(w.resident)
    ).json()
    assert [e["minutes"] for e in everywhere["entries"]] == [480, 300, 180]
    last_year = client.get(
        f"/api/v1/leaderboards/volunteers?period=year&at={year - 1}", headers=make.headers(w.member)
    ).json()
    assert last_year["entries"] == []
    teams = client.get(
        f"/api/v1/leaderboards/teams?period=month&at={DAY.isoformat()}",
        headers=make.headers(w.member),
    ).json()
    assert [e["minutes"] for e in teams["entries"]] == [480, 480]
    for bad in ("period=year&at=20x6", "period=month&at=2026-13", "period=week", "region=99"):
        response = client.get(
            f"/api/v1/leaderboards/volunteers?{bad}", headers=make.headers(w.member)
        )
        assert response.status_code in (404, 422), bad
    assert client.get("/api/v1/leaderboards/volunteers").status_code == 401


def test_a_board_page_is_served_from_memory_within_its_ttl(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Any
) -> None:
    w = ow.world
    settings.leaderboard_cache_seconds = 60
    url = f"/api/v1/leaderboards/volunteers?period=all&region={w.village}&limit=7"
    post(client, make, w.leader, entry(w, hours=1))
    first = client.get(url, headers=make.headers(w.member)).json()["entries"]
    post(client, make, w.leader, entry(w, hours=2, service_date=(DAY - timedelta(1)).isoformat()))
    cached = client.get(url, headers=make.headers(w.center_admin)).json()["entries"]
    assert [e["minutes"] for e in cached] == [e["minutes"] for e in first] == [60]
    assert cached[0]["name"] == "李队员"  # masking is per caller, after the cache
    assert first[0]["name"] == "李队员"  # the volunteer sees their own name
    settings.leaderboard_cache_seconds = 0
    fresh = client.get(url, headers=make.headers(w.member)).json()["entries"]
    assert [e["minutes"] for e in fresh] == [180]


def test_cached_pages_never_show_a_name_to_a_caller_who_may_not_see_it(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Any
) -> None:
    """Encoded pages are shared per view (all names shown, all masked): whoever reads first,
    the others still get their own view."""
    w = ow.world
    settings.leaderboard_cache_seconds = 60
    url = f"/api/v1/leaderboards/volunteers?period=all&region={w.village}"
    post(client, make, w.leader, entry(w, hours=1))
    names: dict[str, set[str]] = {}
    for who in ("center_admin", "resident", "member", "resident", "center_admin"):
        entries = client.get(url, headers=make.headers(getattr(w, who))).json()["entries"]
        assert [e["minutes"] for e in entries] == [60]
        names.setdefault(who, set()).add(entries[0]["name"])
    assert names == {"center_admin": {"李队员"}, "member": {"李队员"}, "resident": {"李**"}}


def test_the_migration_backfill_computes_what_the_recompute_does(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    """The totals migration writes its own SQL (migrations do not import app code): with the
    later ones that added points and ratings, it must agree with `recompute` on real data."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import delete

    from app.scoring.models import TeamTotal
    from tests.conftest import load_migration

    w = ow.world
    ow.completed(hours=1.5)
    record = post(client, make, w.leader, entry(w, service_date=date(2024, 3, 9).isoformat()))
    client.post(
        f"/api/v1/records/{record.json()['id']}/amendments",
        json={"reason": "更正", "hours": 0.5},
        headers=make.headers(w.leader),
    )
    db.execute(delete(VolunteerTotal))
    db.execute(delete(TeamTotal))
    assert mismatches(db)["volunteer_total"] > 0
    with Operations.context(MigrationContext.configure(db.connection())):
        load_migration("record_amendments_and_totals")._backfill_totals()
        load_migration("boards_score_totals").upgrade()
        load_migration("merged_period_totals").merge_score_tables()
    assert mismatches(db) == {"volunteer_total": 0, "team_total": 0}
