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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from app.auth.deps import AppSettings, CurrentPrincipal
from app.common.identity import mask_name
from app.config import Settings
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Invalid
from app.records.ledger import china_today
from app.regions.queries import get_region
from app.regions.scope import RegionScope
from app.scoring.board_queries import BoardBy, BoardRow, board_rows
from app.scoring.models import PeriodKind
from app.scoring.totals import period_key

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


async def _boards(request: Request) -> _Recent:
    """One cache per app (and so per database). Async: a sync dependency would cost every
    page a hop into the threadpool."""
    state = request.app.state
    if not hasattr(state, "board_cache"):
        state.board_cache = _Recent()
    cache: _Recent = state.board_cache
    return cache


BoardCache = Annotated[_Recent, Depends(_boards)]


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


Region = Annotated[str | None, Query(description="A region's subtree; none: everywhere")]
By = Annotated[BoardBy, Query(description="hours, points (awarded in the period) or rating")]


def _entries(rows: list[BoardRow], names: list[str]) -> list[BoardEntry]:
    return [
        BoardEntry(
            rank=n, id=row.id, name=name, region_code=row.region_code,
            hours=round(row.minutes / 60, 2), minutes=row.minutes, records=row.records,
            points=row.points, rating=row.rating, ratings=row.ratings,
        )
        for n, (row, name) in enumerate(zip(rows, names, strict=True), 1)
    ]  # fmt: skip


def _read(
    session: DbSession,
    settings: Settings,
    cache: _Recent,
    *,
    volunteers: bool,
    by: BoardBy,
    region: str | None,
    period: PeriodKind,
    key: int,
    limit: int,
) -> tuple[float, list[BoardRow]]:
    prior = (settings.score_rating_prior_mean, settings.score_rating_prior_weight)
    return cache.get(
        ("volunteers" if volunteers else "teams", by, region, period, key, limit),
        settings.leaderboard_cache_seconds,
        lambda: board_rows(session, volunteers=volunteers, by=by, scope=_scope(session, region),
                           period=period, key=key, limit=limit, prior=prior),
    )  # fmt: skip


@router.get("/volunteers", response_model=Board)
def volunteer_board(
    session: DbSession,
    settings: AppSettings,
    cache: BoardCache,
    caller: CurrentPrincipal,
    region: Region = None,
    period: Period = PeriodKind.YEAR,
    at: At = None,
    by: By = BoardBy.HOURS,
    limit: Limit = 50,
) -> Response:
    """Volunteers of a region subtree in a period (month, quarter, year, all) by recorded hours
    (amendments included), by points awarded in the period (records count on their service
    date; spending does not lower it) or by rating (a Bayesian average of the ratings of the
    orders they served). Pages are served from memory for up to
    `DIANDAN_LEADERBOARD_CACHE_SECONDS` (10)."""
    key = parse_period(period, at)
    read_at, rows = _read(session, settings, cache, volunteers=True, by=by, region=region,
                          period=period, key=key, limit=limit)  # fmt: skip
    admin = caller.admin_scope
    named = [row.user_id == caller.id or admin.covers(row.region_code) for row in rows]

    def render() -> Board:
        names = [
            row.name if show else mask_name(row.name) for row, show in zip(rows, named, strict=True)
        ]
        return Board(period=period, period_key=key, region_code=region, by=by.value,
                     entries=_entries(rows, names))  # fmt: skip

    view = "named" if all(named) else "masked" if not any(named) else None
    ttl = settings.leaderboard_cache_seconds
    return cache.page(
        ("volunteers", by, region, period, key, limit, view), read_at, ttl if view else 0, render
    )


@router.get("/teams", response_model=Board)
def team_board(
    session: DbSession,
    settings: AppSettings,
    cache: BoardCache,
    _caller: CurrentPrincipal,
    region: Region = None,
    period: Period = PeriodKind.YEAR,
    at: At = None,
    by: By = BoardBy.HOURS,
    limit: Limit = 50,
) -> Response:
    """Teams of a region subtree in a period by recorded hours, points their service earned, or
    rating (a Bayesian average, so that one five-star rating does not beat forty 4.8s)."""
    key = parse_period(period, at)
    read_at, rows = _read(session, settings, cache, volunteers=False, by=by, region=region,
                          period=period, key=key, limit=limit)  # fmt: skip

    def render() -> Board:
        return Board(period=period, period_key=key, region_code=region, by=by.value,
                     entries=_entries(rows, [row.name for row in rows]))  # fmt: skip

    return cache.page(
        ("teams", by, region, period, key, limit), read_at, settings.leaderboard_cache_seconds,
        render,
    )  # fmt: skip
