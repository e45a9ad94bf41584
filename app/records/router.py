from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func
from sqlmodel import col, select

from app.auth.deps import AppSettings, CurrentPrincipal
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.records.models import ServiceRecord
from app.records.schemas import SERVICE_TIME_RULE, RecordOut, RecordSummaryOut, StarOut
from app.scoring.rules import star_standing
from app.volunteers.service import get_visible

router = APIRouter(tags=["records"], responses=PROBLEM_RESPONSES)


@router.get(
    "/volunteers/{volunteer_id}/records",
    response_model=Page[RecordOut],
    description=f"Service records (志愿服务记录), newest last. Service time: {SERVICE_TIME_RULE}.",
)
def list_records(
    volunteer_id: uuid.UUID,
    session: DbSession,
    caller: CurrentPrincipal,
    page: PageQuery,
    since: Annotated[date | None, Query(description="From this service date")] = None,
    until: Annotated[date | None, Query(description="Up to this service date")] = None,
) -> Page[RecordOut]:
    """For the volunteer, admins over their region, and leaders of their teams."""
    volunteer = get_visible(session, caller, volunteer_id)
    stmt = select(ServiceRecord).where(ServiceRecord.volunteer_id == volunteer.id)
    if since is not None:
        stmt = stmt.where(col(ServiceRecord.service_date) >= since)
    if until is not None:
        stmt = stmt.where(col(ServiceRecord.service_date) <= until)
    rows, cursor = paginate(
        session, stmt, key=col(ServiceRecord.id), params=page, parse_key=uuid.UUID
    )
    return Page(
        items=[
            RecordOut(
                id=r.id,
                service_date=r.service_date,
                minutes=r.minutes,
                hours=round(r.minutes / 60, 2),
                category_code=r.category_code,
                team_id=r.team_id,
                order_id=r.order_id,
                region_code=r.region_code,
                content=r.content,
                recorded_at=r.created_at,
            )
            for r in rows
        ],
        next_cursor=cursor,
    )


@router.get("/volunteers/{volunteer_id}/records/summary", response_model=RecordSummaryOut)
def records_summary(
    volunteer_id: uuid.UUID, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> RecordSummaryOut:
    """Total recorded hours and the star level they make the volunteer eligible for. Granting a
    star (where a jurisdiction reviews applications) is a separate, later step."""
    volunteer = get_visible(session, caller, volunteer_id)
    count, minutes = session.exec(
        select(func.count(), func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
            ServiceRecord.volunteer_id == volunteer.id
        )
    ).one()
    thresholds = tuple(settings.star_thresholds_hours)
    standing = star_standing(int(minutes), thresholds)
    return RecordSummaryOut(
        volunteer_id=volunteer.id,
        records=int(count),
        total_minutes=int(minutes),
        total_hours=round(int(minutes) / 60, 2),
        star=StarOut(
            eligible_level=standing.level,
            next_level_hours=standing.next_level_hours,
            hours_to_next=standing.hours_to_next,
        ),
        thresholds_hours=list(thresholds),
    )
