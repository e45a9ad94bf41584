"""Score formulas. Pure: counts in, numbers out.

A team's score (0..1) weighs four parts:
- rating: the Bayesian average of its stars, so that one five-star rating does not beat forty
  4.8s: (prior_weight × prior_mean + Σ stars) / (prior_weight + n), mapped from 1..5 onto 0..1;
- completion: orders completed out of orders it held to the end (completed, or taken away by an
  admin's re-dispatch), smoothed the same way towards a prior rate;
- speed: how soon it accepts offers, 1 / (1 + mean hours / target hours);
- regularity: the share of the last 12 months in which it served.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreSettings:
    rating_prior_mean: float = 4.0
    rating_prior_weight: float = 5.0
    completion_prior_rate: float = 0.8
    completion_prior_weight: float = 3.0
    accept_target_hours: float = 2.0
    weight_rating: float = 0.5
    weight_completion: float = 0.2
    weight_speed: float = 0.15
    weight_regularity: float = 0.15


@dataclass(frozen=True)
class TeamCounts:
    rating_count: int = 0
    rating_sum: int = 0
    orders_completed: int = 0
    orders_released: int = 0
    accepts: int = 0
    accept_seconds_sum: float = 0.0
    months_served_last_year: int = 0


@dataclass(frozen=True)
class ScoreBreakdown:
    score: float
    bayesian_rating: float  # in stars, 1..5
    rating: float
    completion: float
    speed: float
    regularity: float


def bayesian_average(total: float, count: int, *, prior_mean: float, prior_weight: float) -> float:
    return (prior_weight * prior_mean + total) / (prior_weight + count)


def team_score(counts: TeamCounts, settings: ScoreSettings = ScoreSettings()) -> ScoreBreakdown:
    stars = bayesian_average(
        counts.rating_sum,
        counts.rating_count,
        prior_mean=settings.rating_prior_mean,
        prior_weight=settings.rating_prior_weight,
    )
    rating = (stars - 1.0) / 4.0
    completion = bayesian_average(
        counts.orders_completed,
        counts.orders_completed + counts.orders_released,
        prior_mean=settings.completion_prior_rate,
        prior_weight=settings.completion_prior_weight,
    )
    if counts.accepts:
        mean_hours = counts.accept_seconds_sum / counts.accepts / 3600.0
        speed = 1.0 / (1.0 + mean_hours / settings.accept_target_hours)
    else:
        speed = 0.5
    regularity = min(counts.months_served_last_year, 12) / 12.0
    total = (
        settings.weight_rating * rating
        + settings.weight_completion * completion
        + settings.weight_speed * speed
        + settings.weight_regularity * regularity
    )
    weights = (
        settings.weight_rating
        + settings.weight_completion
        + settings.weight_speed
        + settings.weight_regularity
    )
    return ScoreBreakdown(
        score=round(total / weights, 6),
        bayesian_rating=round(stars, 4),
        rating=round(rating, 6),
        completion=round(completion, 6),
        speed=round(speed, 6),
        regularity=round(regularity, 6),
    )


DEFAULT_STAR_HOURS = (100, 300, 600, 1000, 1500)  # the common national scale, 1★ … 5★


@dataclass(frozen=True)
class StarStanding:
    level: int  # 0 … len(thresholds)
    next_level_hours: int | None  # None at the top
    hours_to_next: float | None


def star_standing(
    minutes: int, thresholds_hours: tuple[int, ...] = DEFAULT_STAR_HOURS
) -> StarStanding:
    """The star level recorded hours make a volunteer eligible for (granting is a separate step)."""
    hours = minutes / 60
    level = sum(1 for threshold in thresholds_hours if hours >= threshold)
    if level >= len(thresholds_hours):
        return StarStanding(level=level, next_level_hours=None, hours_to_next=None)
    target = thresholds_hours[level]
    return StarStanding(
        level=level, next_level_hours=target, hours_to_next=round(target - hours, 2)
    )
