"""Leaderboards: volunteers and teams × hours, points and rating × month, quarter, year and all
time, in a region subtree, through the API; and the points and rating totals behind them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.records.ledger import china_today
from app.scoring import rebuild
from app.scoring.models import PeriodKind
from tests.factories import Factory, World


def board(client: TestClient, make: Factory, user: Any, url: str) -> list[tuple[str, Any]]:
    response = client.get(url, headers=make.headers(user))
    assert response.status_code == 200, response.text
    body = response.json()
    by = {"hours": "minutes", "points": "points", "rating": "rating"}[body["by"]]
    return [(e["id"], e[by]) for e in body["entries"]]


def test_every_board_honours_its_period(
    boards: tuple[World, World], client: TestClient, make: Factory
) -> None:
    w, other = boards
    member, leader, far = (str(v.id) for v in (w.member_volunteer, w.leader_volunteer,
                                               other.member_volunteer))  # fmt: skip
    team, far_team = str(w.team.id), str(other.team.id)
    today = china_today()
    now = {kind: f"{kind.value}&at={today.isoformat()}" for kind in PeriodKind}
    member_rating, leader_rating = round((4 * 5 + 7) / 7, 3), round((4 * 5 + 5) / 6, 3)
    team_rating = member_rating
    expected: dict[tuple[str, str, str], list[tuple[str, Any]]] = {
        # Volunteers by hours (minutes).
        ("volunteers", "hours", "month&at=2025-02"): [(member, 180)],
        ("volunteers", "hours", "month&at=2025-05-31"): [(far, 300), (leader, 120), (member, 60)],
        ("volunteers", "hours", "quarter&at=2025-Q1"): [(member, 180)],
        ("volunteers", "hours", "quarter&at=2025-Q2"): [(far, 300), (leader, 120), (member, 60)],
        ("volunteers", "hours", "year&at=2025"): [(far, 300), (member, 240), (leader, 120)],
        ("volunteers", "hours", "all"): [(member, 360), (far, 300), (leader, 180)],
        ("volunteers", "hours", now[PeriodKind.MONTH]): [(member, 120), (leader, 60)],
        # By points awarded in the period (records on their service date, bonuses today).
        ("volunteers", "points", "month&at=2025-02"): [(member, 30)],
        ("volunteers", "points", "month&at=2025-05"): [(far, 50), (leader, 20), (member, 10)],
        ("volunteers", "points", "quarter&at=2025-Q1"): [(member, 30)],
        ("volunteers", "points", "quarter&at=2025-04-01"): [(far, 50), (leader, 20), (member, 10)],
        ("volunteers", "points", "year&at=2025"): [(far, 50), (member, 40), (leader, 20)],
        ("volunteers", "points", "all"): [(member, 65), (far, 50), (leader, 35)],
        ("volunteers", "points", now[PeriodKind.QUARTER]): [(member, 25), (leader, 15)],
        # By rating: the leader's one 5 beats the member's 5 and 2 (Bayesian, prior 4 × 5).
        ("volunteers", "rating", "month&at=2025-05"): [],
        ("volunteers", "rating", "quarter&at=2025-Q2"): [],
        ("volunteers", "rating", "year&at=2025"): [],
        ("volunteers", "rating", "all"): [(leader, leader_rating), (member, member_rating)],
        ("volunteers", "rating", now[PeriodKind.MONTH]): [
            (leader, leader_rating),
            (member, member_rating),
        ],
        ("volunteers", "rating", now[PeriodKind.QUARTER]): [
            (leader, leader_rating),
            (member, member_rating),
        ],
        ("volunteers", "rating", now[PeriodKind.YEAR]): [
            (leader, leader_rating),
            (member, member_rating),
        ],
        # Teams.
        ("teams", "hours", "month&at=2025-02"): [(team, 180)],
        ("teams", "hours", "quarter&at=2025-Q2"): [(far_team, 300), (team, 180)],
        ("teams", "hours", "year&at=2025"): [(team, 360), (far_team, 300)],
        ("teams", "hours", "all"): [(team, 540), (far_team, 300)],
        ("teams", "hours", now[PeriodKind.QUARTER]): [(team, 180)],
        ("teams", "points", "month&at=2025-05"): [(far_team, 50), (team, 30)],
        ("teams", "points", "quarter&at=2025-Q1"): [(team, 30)],
        ("teams", "points", "year&at=2025"): [(team, 60), (far_team, 50)],
        ("teams", "points", "all"): [(team, 100), (far_team, 50)],  # 60 + 30 + bonuses 2 × 5
        ("teams", "points", now[PeriodKind.MONTH]): [(team, 40)],
        ("teams", "rating", "month&at=2025-05"): [],
        ("teams", "rating", "quarter&at=2025-Q2"): [],
        ("teams", "rating", "year&at=2025"): [],
        ("teams", "rating", "all"): [(team, team_rating)],
        ("teams", "rating", now[PeriodKind.MONTH]): [(team, team_rating)],
        ("teams", "rating", now[PeriodKind.QUARTER]): [(team, team_rating)],
        ("teams", "rating", now[PeriodKind.YEAR]): [(team, team_rating)],
    }
    for subject in ("volunteers", "teams"):
        for by in ("hours", "points", "rating"):
            kinds = {p.split("&")[0] for (s, b, p) in expected if (s, b) == (subject, by)}
            assert kinds == {"month", "quarter", "year", "all"}, (subject, by)
    for (subject, by, period), rows in expected.items():
        url = f"/api/v1/leaderboards/{subject}?by={by}&period={period}"
        assert board(client, make, w.resident, url) == rows, url
    quarter = client.get(
        "/api/v1/leaderboards/teams?by=points&period=quarter&at=2025-Q2",
        headers=make.headers(w.member),
    ).json()
    assert (quarter["period"], quarter["period_key"], quarter["by"]) == ("quarter", 20252, "points")
    entry = quarter["entries"][1]
    assert (entry["rank"], entry["minutes"], entry["points"], entry["ratings"]) == (2, 180, 30, 0)


@pytest.mark.parametrize("by", ["hours", "points", "rating"])
def test_boards_keep_to_the_region_subtree(
    boards: tuple[World, World], client: TestClient, make: Factory, by: str
) -> None:
    w, other = boards
    for subject, ours, theirs in (
        ("volunteers", {str(w.member_volunteer.id), str(w.leader_volunteer.id)},
         {str(other.member_volunteer.id)}),
        ("teams", {str(w.team.id)}, {str(other.team.id)}),
    ):  # fmt: skip
        for region, wanted in ((w.county, ours), (w.village, ours), (other.county, theirs)):
            url = f"/api/v1/leaderboards/{subject}?by={by}&period=all&region={region}"
            found = {i for i, _ in board(client, make, w.member, url)}
            if by == "rating":
                wanted = wanted & ours  # only the station team's orders were rated
            assert found == wanted, url
    for subject in ("volunteers", "teams"):
        unknown = client.get(
            f"/api/v1/leaderboards/{subject}?by={by}&region=140899000000",
            headers=make.headers(w.member),
        )
        assert (unknown.status_code, unknown.json()["code"]) == (404, "region_not_found")
        bad = client.get(
            f"/api/v1/leaderboards/{subject}?by={by}&period=quarter&at=2025-Q5",
            headers=make.headers(w.member),
        )
        assert (bad.status_code, bad.json()["code"]) == (422, "bad_period")
        assert client.get(f"/api/v1/leaderboards/{subject}?by={by}").status_code == 401


def test_volunteer_names_stay_masked_on_every_board(
    boards: tuple[World, World], client: TestClient, make: Factory
) -> None:
    w, _ = boards
    for by in ("hours", "points", "rating"):
        url = f"/api/v1/leaderboards/volunteers?by={by}&period=all&region={w.village}"
        resident = client.get(url, headers=make.headers(w.resident)).json()["entries"]
        admin = client.get(url, headers=make.headers(w.station_admin)).json()["entries"]
        assert {e["name"] for e in resident} == {"王**", "李**"}, by
        assert {e["name"] for e in admin} == {"王队长", "李队员"}, by


def test_the_score_totals_agree_with_the_ledgers(
    boards: tuple[World, World], db: Session, client: TestClient, make: Factory
) -> None:
    w, _ = boards
    spent = client.post(
        f"/api/v1/volunteers/{w.member_volunteer.id}/points/adjustments",
        json={"points": -3, "reason": "更正积分"},
        headers=make.headers(w.station_admin),
    )
    assert spent.status_code == 201, spent.text
    assert rebuild.mismatches(db) == {"volunteer_total": 0, "team_total": 0}
    counts = rebuild.recompute(db)
    # The station team: all, 2 years, 3 quarters, 3 months (9); the other: all, 2025, Q2, May.
    assert counts["team_total"] == 9 + 4
    assert rebuild.mismatches(db) == {"volunteer_total": 0, "team_total": 0}
