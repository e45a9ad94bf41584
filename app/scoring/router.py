from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.auth.deps import AppSettings, CurrentPrincipal
from app.common.clock import utcnow
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Forbidden
from app.scoring import stars
from app.scoring.models import TeamStats
from app.scoring.schemas import ScorePart, TeamScoreOut
from app.scoring.team_stats import breakdown, counts_of
from app.teams.service import get_team
from app.volunteers.service import get_visible

router = APIRouter(tags=["scoring"], responses=PROBLEM_RESPONSES)


@router.get("/teams/{team_id}/score", response_model=TeamScoreOut)
def read_team_score(
    team_id: uuid.UUID, session: DbSession, settings: AppSettings, _caller: CurrentPrincipal
) -> TeamScoreOut:
    """The team's score and how it is made: a Bayesian average of its ratings, its completion
    rate, how soon it accepts offers, and how regularly it served over the last 12 months."""
    team = get_team(session, team_id)
    stats = session.get(TeamStats, team.id)
    now = utcnow()
    counts = counts_of(stats, now)
    result = breakdown(stats, settings, now)
    weights = settings.score_settings
    mean_hours = counts.accept_seconds_sum / counts.accepts / 3600 if counts.accepts else None
    return TeamScoreOut(
        team_id=team.id,
        score=result.score,
        scored=stats is not None,
        bayesian_rating=result.bayesian_rating,
        ratings=counts.rating_count,
        parts={
            "rating": ScorePart(
                value=result.rating,
                weight=weights.weight_rating,
                detail=f"{counts.rating_count} 个评价,贝叶斯均值 {result.bayesian_rating:.2f} 星 / "
                f"{counts.rating_count} ratings, Bayesian mean {result.bayesian_rating:.2f} stars",
            ),
            "completion": ScorePart(
                value=result.completion,
                weight=weights.weight_completion,
                detail=f"完成 {counts.orders_completed},被改派 {counts.orders_released} / "
                f"{counts.orders_completed} completed, {counts.orders_released} taken away",
            ),
            "speed": ScorePart(
                value=result.speed,
                weight=weights.weight_speed,
                detail="暂无接单记录 / no accepts yet"
                if mean_hours is None
                else f"平均 {mean_hours:.1f} 小时接单 / accepts in {mean_hours:.1f} h on average",
            ),
            "regularity": ScorePart(
                value=result.regularity,
                weight=weights.weight_regularity,
                detail=f"近12个月中 {counts.months_served_last_year} 个月有服务 / served in "
                f"{counts.months_served_last_year} of the last 12 months",
            ),
        },
    )


class StarGrantIn(BaseModel):
    level: int = Field(ge=0, le=10)
    reason: str = Field(min_length=2, max_length=300)


class StarGrantOut(BaseModel):
    id: uuid.UUID
    level: int
    previous_level: int
    eligible_level: int
    reason: str
    granted_by_id: uuid.UUID | None
    created_at: datetime


class StarsOut(BaseModel):
    volunteer_id: uuid.UUID
    eligible_level: int = Field(description="What the recorded hours qualify for")
    granted_level: int = Field(description="What has been granted (the latest decision)")
    above_eligible: bool = Field(
        description="The grant exceeds what the hours now qualify for (after an amendment): "
        "it stands until an admin lowers it"
    )
    auto_grant: bool
    history: list[StarGrantOut]


def _stars(session: DbSession, settings: AppSettings, volunteer_id: uuid.UUID) -> StarsOut:
    eligible = stars.eligible_level(session, settings, volunteer_id)
    granted = stars.granted_level(session, volunteer_id)
    return StarsOut(
        volunteer_id=volunteer_id,
        eligible_level=eligible,
        granted_level=granted,
        above_eligible=granted > eligible,
        auto_grant=settings.star_auto_grant,
        history=[
            StarGrantOut.model_validate(g, from_attributes=True)
            for g in stars.history(session, volunteer_id)
        ],
    )


@router.get("/volunteers/{volunteer_id}/stars", response_model=StarsOut)
def read_stars(
    volunteer_id: uuid.UUID, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> StarsOut:
    """Eligible (computed from hours) and granted (decided) star levels, with the history."""
    volunteer = get_visible(session, caller, volunteer_id)
    return _stars(session, settings, volunteer.id)


@router.post("/volunteers/{volunteer_id}/stars", response_model=StarsOut, status_code=201)
def grant_stars(
    volunteer_id: uuid.UUID,
    body: StarGrantIn,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> StarsOut:
    """An admin over the volunteer's region grants a level up to the eligible one, or lowers it
    (with a reason). The volunteer is notified; every decision is kept."""
    volunteer = get_visible(session, caller, volunteer_id)
    if not caller.admin_scope.covers(volunteer.region_code):
        raise Forbidden("只有辖区管理员可以授予星级 / site admins only", code="admin_required")
    stars.set_level(
        session, settings, volunteer, body.level, reason=body.reason, actor_id=caller.id
    )
    session.commit()
    return _stars(session, settings, volunteer.id)
