from __future__ import annotations

import pytest

from app.scoring.rules import (
    ScoreSettings,
    TeamCounts,
    bayesian_average,
    star_standing,
    team_score,
)


def test_one_five_star_rating_does_not_beat_forty_4_8s() -> None:
    one = team_score(TeamCounts(rating_count=1, rating_sum=5))
    forty = team_score(TeamCounts(rating_count=40, rating_sum=192))  # 4.8 each
    assert one.bayesian_rating == pytest.approx((5 * 4.0 + 5) / 6, abs=1e-4)
    assert forty.bayesian_rating == pytest.approx((5 * 4.0 + 192) / 45, abs=1e-4)
    assert forty.score > one.score


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (TeamCounts(), (4.0, 0.75, 0.8, 0.5, 0.0)),
        (TeamCounts(orders_completed=7, orders_released=0), (4.0, 0.75, 0.94, 0.5, 0.0)),
        (TeamCounts(accepts=2, accept_seconds_sum=2 * 7200), (4.0, 0.75, 0.8, 0.5, 0.0)),
        (TeamCounts(accepts=1, accept_seconds_sum=0), (4.0, 0.75, 0.8, 1.0, 0.0)),
        (TeamCounts(months_served_last_year=6), (4.0, 0.75, 0.8, 0.5, 0.5)),
        (TeamCounts(months_served_last_year=30), (4.0, 0.75, 0.8, 0.5, 1.0)),
    ],
    ids=["nothing-yet", "completes", "slow-2h", "instant", "half-year", "capped"],
)
def test_parts(counts: TeamCounts, expected: tuple[float, float, float, float, float]) -> None:
    b = team_score(counts)
    assert (b.bayesian_rating, b.rating, b.completion, b.speed, b.regularity) == pytest.approx(
        expected
    )
    weights = ScoreSettings()
    assert b.score == pytest.approx(
        0.5 * b.rating + 0.2 * b.completion + 0.15 * b.speed + 0.15 * b.regularity, abs=1e-6
    )
    assert weights.weight_rating == 0.5


def test_priors_and_weights_are_configurable() -> None:
    strict = ScoreSettings(
        rating_prior_mean=3.0,
        rating_prior_weight=1.0,
        weight_rating=1.0,
        weight_completion=0.0,
        weight_speed=0.0,
        weight_regularity=0.0,
    )
    b = team_score(TeamCounts(rating_count=1, rating_sum=5), strict)
    assert b.bayesian_rating == pytest.approx(4.0)
    assert b.score == pytest.approx(0.75)
    assert bayesian_average(0, 0, prior_mean=3.5, prior_weight=2) == 3.5


@pytest.mark.parametrize(
    ("minutes", "level", "next_hours", "to_next"),
    [
        (0, 0, 100, 100.0),
        (99 * 60 + 59, 0, 100, 0.02),
        (100 * 60, 1, 300, 200.0),
        (600 * 60, 3, 1000, 400.0),
        (1500 * 60, 5, None, None),
        (9000 * 60, 5, None, None),
    ],
)
def test_star_standing_on_the_national_scale(
    minutes: int, level: int, next_hours: int | None, to_next: float | None
) -> None:
    standing = star_standing(minutes)
    assert (standing.level, standing.next_level_hours, standing.hours_to_next) == (
        level,
        next_hours,
        to_next,
    )


def test_star_thresholds_are_configurable() -> None:
    beijing = (100, 200, 500, 800, 1000)
    assert star_standing(250 * 60, beijing).level == 2
    assert star_standing(250 * 60).level == 1
