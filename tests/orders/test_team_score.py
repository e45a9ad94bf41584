"""Ratings and service flow into the team score, and the score into the dispatch ranking."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.common.clock import utcnow
from app.common.location import Location
from app.config import Settings
from app.dispatch.matching import NEUTRAL_SCORE
from app.scoring.models import TeamStats
from app.scoring.team_stats import breakdown
from tests.orders.conftest import OrderWorld


def _serve_and_rate(ow: OrderWorld, client: TestClient, stars: int) -> None:
    order = ow.completed()
    rated = client.post(
        f"/api/v1/orders/{order['id']}/rating",
        json={"stars": stars},
        headers=ow.as_(ow.world.resident),
    )
    assert rated.status_code == 201


def test_a_new_team_scores_its_priors(ow: OrderWorld, client: TestClient) -> None:
    response = client.get(
        f"/api/v1/teams/{ow.world.team.id}/score", headers=ow.as_(ow.world.resident)
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["scored"], body["ratings"], body["score"]) == (False, 0, NEUTRAL_SCORE)
    assert set(body["parts"]) == {"rating", "completion", "speed", "regularity"}


def test_service_and_ratings_move_the_score(ow: OrderWorld, client: TestClient) -> None:
    _serve_and_rate(ow, client, 5)
    body = client.get(
        f"/api/v1/teams/{ow.world.team.id}/score", headers=ow.as_(ow.world.resident)
    ).json()
    assert body["scored"] is True
    assert body["ratings"] == 1
    assert body["bayesian_rating"] == round((5 * 4.0 + 5) / 6, 4)
    assert body["parts"]["completion"]["value"] == round((3 * 0.8 + 1) / 4, 6)
    assert body["parts"]["regularity"]["value"] == round(1 / 12, 6)
    assert body["parts"]["speed"]["value"] > 0.99  # accepted within seconds
    assert body["score"] > NEUTRAL_SCORE
    _serve_and_rate(ow, client, 1)
    worse = client.get(
        f"/api/v1/teams/{ow.world.team.id}/score", headers=ow.as_(ow.world.resident)
    ).json()
    assert worse["ratings"] == 2
    assert worse["score"] < body["score"]


def test_ranking_prefers_forty_4_8s_to_one_five_star(
    ow: OrderWorld, client: TestClient, db: Session, settings: Settings
) -> None:
    w, make = ow.world, ow.make
    point = Location(lat=35.0512, lng=110.9122)
    one_rating = make.team(w.township, specialties=("care",), location=point)
    forty = make.team(w.township, specialties=("care",), location=point)
    for team, count, total in ((one_rating, 1, 5), (forty, 40, 192)):
        stats = TeamStats(team_id=team.id, rating_count=count, rating_sum=total)
        stats.score = breakdown(stats, settings, utcnow()).score
        db.add(stats)
    db.flush()
    order = ow.approved()
    ranked = client.get(
        f"/api/v1/orders/{order['id']}/candidates", headers=ow.as_(w.station_admin)
    ).json()
    township = [c["team"]["id"] for c in ranked if c["level_distance"] == 1]
    assert township.index(str(forty.id)) < township.index(str(one_rating.id))
    forty_row = next(c for c in ranked if c["team"]["id"] == str(forty.id))
    assert any("评分" in r for r in forty_row["reasons"])


def test_score_needs_sign_in_and_a_real_team(ow: OrderWorld, client: TestClient) -> None:
    assert client.get(f"/api/v1/teams/{ow.world.team.id}/score").status_code == 401
    missing = client.get(
        "/api/v1/teams/00000000-0000-7000-8000-000000000000/score",
        headers=ow.as_(ow.world.resident),
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "team_not_found")
