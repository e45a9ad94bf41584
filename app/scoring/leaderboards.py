"""Leaderboards by region subtree and period, read from the period totals (never the ledger).

Boards are public to signed-in users, as honour rolls are; volunteers' names are masked (王*)
except for admins over the volunteer's region and the volunteer themself.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Float, cast, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.auth.deps import AppSettings, CurrentPrincipal
from app.common.identity import mask_name
from app.config import Settings
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Invalid
from app.points.models import PointsBalance
from app.records.ledger import china_today
from app.regions.queries import get_region
from app.regions.scope import RegionScope
from app.scoring.models import PeriodKind, TeamStats, TeamTotal, VolunteerTotal
from app.scoring.totals import period_key
from app.teams.models import Team
from app.volunteers.models import Volunteer

router = APIRouter(prefix="/leaderboards", tags=["scoring"], responses=PROBLEM_RESPONSES)


class _Recent:
    """Boards kept for `DIANDAN_LEADERBOARD_CACHE_SECONDS`: many readers of one board cost one
    query, and readers who see it alike (names all masked, or all shown) share its encoded page.
    Per process."""

    def __init__(self, size: int = 512) -> None:
        self._rows: dict[tuple[object, ...], tuple[float, list[Any]]] = {}
        self._pages: dict[tuple[object, ...], tuple[float, bytes]] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(
        self, key: tuple[object, ...], ttl: float, load: Callable[[], list[Any]]
    ) -> tuple[float, list[Any]]:
        """The rows and when they were read."""
        now = time.monotonic()
        with self._lock:
            hit = self._rows.get(key)
        if ttl > 0 and hit is not None and now - hit[0] < ttl:
            return hit
        rows = load()
        if ttl > 0:
            with self._lock:
                if len(self._rows) >= self._size:
                    self._rows.clear()
                    self._pages.clear()
                self._rows[key] = (now, rows)
        return now, rows

    def page(
        self, key: tuple[object, ...], read_at: float, ttl: float, render: Callable[[], Board]
    ) -> Response:
        """The encoded board for this view of rows read at `read_at`, rendered once."""
        with self._lock:
            hit = self._pages.get(key)
        if hit is None or hit[0] != read_at:
            hit = (read_at, render().model_dump_json().encode())
            if ttl > 0:
                with self._lock:
                    self._pages[key] = hit
        return Response(content=hit[1], media_type="application/json")


def _boards(request: Request) -> _Recent:
    """One cache per app (and so per database)."""
    state = request.app.state
    if not hasattr(state, "board_cache"):
        state.board_cache = _Recent()
    cache: _Recent = state.board_cache
    return cache


BoardCache = Annotated[_Recent, Depends(_boards)]


class VolunteerBoardBy(StrEnum):
    HOURS = "hours"
    POINTS = "points"  # the current points balance (all time)


class TeamBoardBy(StrEnum):
    HOURS = "hours"
    RATING = "rating"  # Bayesian average of ratings (all time)


class BoardEntry(BaseModel):
    rank: int
    id: uuid.UUID
    name: str
    region_code: str
    hours: float
    minutes: int
    records: int
    rating: float | None = None
    ratings: int | None = None
    points: int | None = None


class Board(BaseModel):
    period: PeriodKind
    period_key: int = Field(description="0 (all), 2026, 20264 (2026 Q4) or 202611 (Nov 2026)")
    region_code: str | None
    by: str
    entries: list[BoardEntry]


_PATTERNS = {
    PeriodKind.YEAR: re.compile(r"^(\d{4})$"),
    PeriodKind.QUARTER: re.compile(r"^(\d{4})-Q([1-4])$"),
    PeriodKind.MONTH: re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
}


def parse_period(kind: PeriodKind, at: str | None) -> int:
    """`at` is a date (the period containing it), or the period itself: 2026, 2026-Q4, 2026-11."""
    if kind is PeriodKind.ALL:
        return 0
    if at is None:
        return period_key(kind, china_today())
    try:
        return period_key(kind, date.fromisoformat(at))
    except ValueError:
        pass
    found = _PATTERNS[kind].match(at)
    if found is None:
        raise Invalid(
            "无效的统计周期 / `at` must be a date or a period like 2026, 2026-Q4, 2026-11",
            code="bad_period",
        )
    parts = [int(g) for g in found.groups()]
    if kind is PeriodKind.YEAR:
        return parts[0]
    return parts[0] * (10 if kind is PeriodKind.QUARTER else 100) + parts[1]


Period = Annotated[PeriodKind, Query(description="month, quarter, year or all")]
At = Annotated[str | None, Query(max_length=10, description="A date, or 2026 / 2026-Q4 / 2026-11")]
Limit = Annotated[int, Query(ge=1, le=200)]


def _scope(session: DbSession, region: str | None) -> RegionScope:
    if region is None:
        return RegionScope(everything=True)
    return RegionScope.of([get_region(session, region).code])


def _volunteer_rows(
    session: Session, region: str | None, period: PeriodKind, key: int, limit: int
) -> list[Any]:
    total = VolunteerTotal
    return list(
        session.execute(
            sa_select(
                col(total.volunteer_id), col(total.region_code), col(total.minutes),
                col(total.records), col(Volunteer.real_name), col(Volunteer.user_id),
            )
            .join(Volunteer, col(Volunteer.id) == col(total.volunteer_id))
            .where(
                col(total.period_kind) == period.value,
                col(total.period) == key,
                _scope(session, region).filter(col(total.region_code)),
            )
            .order_by(col(total.minutes).desc(), col(total.volunteer_id))
            .limit(limit)
        ).all()
    )  # fmt: skip


def _points_rows(session: Session, region: str | None, limit: int) -> list[Any]:
    hours = (
        (col(VolunteerTotal.volunteer_id) == col(PointsBalance.volunteer_id))
        & (col(VolunteerTotal.period_kind) == PeriodKind.ALL.value)
        & (col(VolunteerTotal.period) == 0)
    )
    return list(
        session.execute(
            sa_select(
                col(Volunteer.id), col(Volunteer.region_code),
                func.coalesce(col(VolunteerTotal.minutes), 0),
                func.coalesce(col(VolunteerTotal.records), 0),
                col(Volunteer.real_name), col(Volunteer.user_id), col(PointsBalance.balance),
            )
            .join(Volunteer, col(Volunteer.id) == col(PointsBalance.volunteer_id))
            .outerjoin(VolunteerTotal, hours)
            .where(_scope(session, region).filter(col(Volunteer.region_code)))
            .order_by(col(PointsBalance.balance).desc(), col(Volunteer.id))
            .limit(limit)
        ).all()
    )  # fmt: skip


def _team_rows(
    session: Session, region: str | None, period: PeriodKind, key: int, limit: int
) -> list[Any]:
    return list(
        session.execute(
            sa_select(col(TeamTotal.team_id), col(Team.name), col(TeamTotal.region_code),
                      col(TeamTotal.minutes), col(TeamTotal.records))
            .join(Team, col(Team.id) == col(TeamTotal.team_id))
            .where(
                col(TeamTotal.period_kind) == period.value,
                col(TeamTotal.period) == key,
                _scope(session, region).filter(col(TeamTotal.region_code)),
            )
            .order_by(col(TeamTotal.minutes).desc(), col(TeamTotal.team_id))
            .limit(limit)
        ).all()
    )  # fmt: skip


def _rated_rows(session: Session, settings: Settings, region: str | None, limit: int) -> list[Any]:
    prior, weight = settings.score_rating_prior_mean, settings.score_rating_prior_weight
    rating = (prior * weight + cast(col(TeamStats.rating_sum), Float)) / (
        weight + col(TeamStats.rating_count)
    )
    return list(
        session.execute(
            sa_select(col(Team.id), col(Team.name), col(Team.region_code), rating,
                      col(TeamStats.rating_count))
            .join(TeamStats, col(TeamStats.team_id) == col(Team.id))
            .where(
                _scope(session, region).filter(col(Team.region_code)),
                col(TeamStats.rating_count) > 0,
            )
            .order_by(rating.desc(), col(Team.id))
            .limit(limit)
        ).all()
    )  # fmt: skip


@router.get("/volunteers", response_model=Board)
def volunteer_board(
    session: DbSession,
    settings: AppSettings,
    cache: BoardCache,
    caller: CurrentPrincipal,
    region: Annotated[str | None, Query(description="A region's subtree; none: everywhere")] = None,
    period: Period = PeriodKind.YEAR,
    at: At = None,
    by: VolunteerBoardBy = VolunteerBoardBy.HOURS,
    limit: Limit = 50,
) -> Response:
    """Volunteers by recorded hours (amendments included) in a region and period, or by points
    (`by=points`: the current balance, all time). Pages are served from memory for up to
    `DIANDAN_LEADERBOARD_CACHE_SECONDS` (10)."""
    ttl = settings.leaderboard_cache_seconds
    if by is VolunteerBoardBy.POINTS:
        period, key = PeriodKind.ALL, 0
        read_at, rows = cache.get(
            ("points", region, limit), ttl, lambda: _points_rows(session, region, limit)
        )
    else:
        key = parse_period(period, at)
        read_at, rows = cache.get(
            ("volunteers", region, period, key, limit),
            ttl,
            lambda: _volunteer_rows(session, region, period, key, limit),
        )
    # Row layout: id, region, minutes, records, name, user id[, points balance].
    admin = caller.admin_scope
    named = [row[5] == caller.id or admin.covers(row[1]) for row in rows]

    def render() -> Board:
        entries = [
            BoardEntry(
                rank=n,
                id=row[0],
                name=row[4] if show_name else mask_name(row[4]),
                region_code=row[1],
                hours=round(row[2] / 60, 2),
                minutes=row[2],
                records=row[3],
                points=row[6] if len(row) > 6 else None,
            )
            for n, (row, show_name) in enumerate(zip(rows, named, strict=True), 1)
        ]
        return Board(
            period=period, period_key=key, region_code=region, by=by.value, entries=entries
        )

    view = "named" if all(named) else "masked" if not any(named) else None
    return cache.page((by, region, period, key, limit, view), read_at, ttl if view else 0, render)


@router.get("/teams", response_model=Board)
def team_board(
    session: DbSession,
    settings: AppSettings,
    cache: BoardCache,
    _caller: CurrentPrincipal,
    region: Annotated[str | None, Query(description="A region's subtree; none: everywhere")] = None,
    period: Period = PeriodKind.YEAR,
    at: At = None,
    by: TeamBoardBy = TeamBoardBy.HOURS,
    limit: Limit = 50,
) -> Response:
    """Teams by recorded hours in a region and period, or by rating (a Bayesian average, so that
    one five-star rating does not beat forty 4.8s; all time)."""
    ttl = settings.leaderboard_cache_seconds
    if by is TeamBoardBy.RATING:
        read_at, rated = cache.get(
            ("rated", region, limit), ttl, lambda: _rated_rows(session, settings, region, limit)
        )

        def render_rated() -> Board:
            entries = [
                BoardEntry(rank=n, id=team_id, name=name, region_code=code, hours=0, minutes=0,
                           records=0, rating=round(float(value), 3), ratings=count)
                for n, (team_id, name, code, value, count) in enumerate(rated, 1)
            ]  # fmt: skip
            return Board(period=PeriodKind.ALL, period_key=0, region_code=region, by=by.value,
                         entries=entries)  # fmt: skip

        return cache.page(("rated", region, limit), read_at, ttl, render_rated)
    key = parse_period(period, at)
    read_at, rows = cache.get(
        ("teams", region, period, key, limit),
        ttl,
        lambda: _team_rows(session, region, period, key, limit),
    )

    def render() -> Board:
        entries = [
            BoardEntry(rank=n, id=team_id, name=name, region_code=code,
                       hours=round(minutes / 60, 2), minutes=minutes, records=records)
            for n, (team_id, name, code, minutes, records) in enumerate(rows, 1)
        ]  # fmt: skip
        return Board(
            period=period, period_key=key, region_code=region, by=by.value, entries=entries
        )

    return cache.page(("teams", region, period, key, limit), read_at, ttl, render)
