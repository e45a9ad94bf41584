"""Keeping team counters and the stored score current. Services flush; routes commit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.common.clock import utcnow
from app.config import Settings
from app.scoring.models import TeamStats
from app.scoring.rules import ScoreBreakdown, TeamCounts, team_score

MONTHS_KEPT = 12


CHINA = timedelta(hours=8)  # months are China's calendar months


def _month(when: datetime) -> str:
    china = when.astimezone(UTC) + CHINA
    return f"{china.year:04d}-{china.month:02d}"


def _recent_months(months: list[str], now: datetime) -> int:
    china = now.astimezone(UTC) + CHINA
    index_now = china.year * 12 + china.month - 1
    recent = 0
    for month in set(months):
        year, number = (int(part) for part in month.split("-"))
        if 0 <= index_now - (year * 12 + number - 1) < MONTHS_KEPT:
            recent += 1
    return recent


def counts_of(stats: TeamStats | None, now: datetime) -> TeamCounts:
    if stats is None:
        return TeamCounts()
    return TeamCounts(
        rating_count=stats.rating_count,
        rating_sum=stats.rating_sum,
        orders_completed=stats.orders_completed,
        orders_released=stats.orders_released,
        accepts=stats.accepts,
        accept_seconds_sum=stats.accept_seconds_sum,
        months_served_last_year=_recent_months(stats.served_months, now),
    )


def breakdown(stats: TeamStats | None, settings: Settings, now: datetime) -> ScoreBreakdown:
    return team_score(counts_of(stats, now), settings.score_settings)


def _locked_stats(session: Session, team_id: uuid.UUID) -> TeamStats:
    stats = session.get(TeamStats, team_id, with_for_update=True)
    if stats is not None:
        return stats
    try:
        with session.begin_nested():
            session.add(TeamStats(team_id=team_id))
    except IntegrityError:
        pass  # created by a concurrent transaction a moment ago
    stats = session.get(TeamStats, team_id, with_for_update=True, populate_existing=True)
    assert stats is not None
    return stats


def _rescore(stats: TeamStats, settings: Settings, now: datetime) -> None:
    stats.score = breakdown(stats, settings, now).score
    stats.updated_at = now


def record_rating(session: Session, settings: Settings, team_id: uuid.UUID, stars: int) -> None:
    now = utcnow()
    stats = _locked_stats(session, team_id)
    stats.rating_count += 1
    stats.rating_sum += stars
    _rescore(stats, settings, now)


def record_accept(session: Session, settings: Settings, team_id: uuid.UUID, seconds: float) -> None:
    now = utcnow()
    stats = _locked_stats(session, team_id)
    stats.accepts += 1
    stats.accept_seconds_sum += max(0.0, seconds)
    _rescore(stats, settings, now)


def _mark_month(stats: TeamStats, month: str) -> None:
    if month not in stats.served_months:
        stats.served_months = sorted([*stats.served_months, month])[-MONTHS_KEPT:]


def record_completion(session: Session, settings: Settings, team_id: uuid.UUID) -> None:
    now = utcnow()
    stats = _locked_stats(session, team_id)
    stats.orders_completed += 1
    _mark_month(stats, _month(now))
    _rescore(stats, settings, now)


def record_activity(
    session: Session, settings: Settings, team_id: uuid.UUID, held_on: date
) -> None:
    """A confirmed activity: the month it was held in (China time) counts for regularity."""
    now = utcnow()
    stats = _locked_stats(session, team_id)
    _mark_month(stats, f"{held_on.year:04d}-{held_on.month:02d}")
    _rescore(stats, settings, now)


def record_release(session: Session, settings: Settings, team_id: uuid.UUID) -> None:
    """An admin took an accepted order away from the team (re-dispatch)."""
    now = utcnow()
    stats = _locked_stats(session, team_id)
    stats.orders_released += 1
    _rescore(stats, settings, now)
