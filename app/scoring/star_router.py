"""Star thresholds per region and star applications (the review step before a grant)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from sqlmodel import col, select

from app.auth.deps import AnyAdmin, AppSettings, CurrentPrincipal
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.regions.queries import get_region
from app.scoring import star_applications, star_thresholds, stars
from app.scoring.star_models import StarApplication, StarApplicationStatus
from app.volunteers.models import Volunteer
from app.volunteers.service import get_visible

router = APIRouter(tags=["scoring"], responses=PROBLEM_RESPONSES)


class ThresholdsIn(BaseModel):
    hours: list[int] = Field(
        min_length=1,
        max_length=star_thresholds.MAX_LEVELS,
        description="Hours for 1★, 2★ …, ascending",
        examples=[[100, 300, 600, 1000, 1500]],
    )


class ThresholdsOut(BaseModel):
    region_code: str
    hours: list[int] = Field(description="What applies in this region")
    source_region_code: str | None = Field(
        description="The region whose thresholds apply (itself or an ancestor); null: the default"
    )


class ApplicationIn(BaseModel):
    level: int | None = Field(default=None, ge=1, le=10, description="Default: the eligible level")
    note: str = Field(default="", max_length=300)


class DecisionIn(BaseModel):
    reason: str = Field(min_length=2, max_length=300, examples=["服务时长核实无误,同意授予"])


class ApplicationOut(BaseModel):
    id: uuid.UUID
    volunteer_id: uuid.UUID
    level: int
    eligible_level: int
    note: str
    status: str
    decided_by_id: uuid.UUID | None
    decided_at: datetime | None
    decision_reason: str | None
    grant_id: uuid.UUID | None
    created_at: datetime


def _thresholds(session: DbSession, settings: AppSettings, code: str) -> ThresholdsOut:
    found = star_thresholds.effective(session, settings, code)
    return ThresholdsOut(
        region_code=code, hours=list(found.hours), source_region_code=found.source_region_code
    )


def _application(application: StarApplication) -> ApplicationOut:
    return ApplicationOut.model_validate(application, from_attributes=True)


@router.get("/regions/{code}/star-thresholds", response_model=ThresholdsOut)
def read_thresholds(
    code: str, session: DbSession, settings: AppSettings, _caller: CurrentPrincipal
) -> ThresholdsOut:
    """The star thresholds that apply in a region: its own, else the nearest ancestor's, else
    the default (`DIANDAN_STAR_THRESHOLDS_HOURS`)."""
    return _thresholds(session, settings, get_region(session, code).code)


@router.put("/regions/{code}/star-thresholds", response_model=ThresholdsOut)
def write_thresholds(
    code: str, body: ThresholdsIn, session: DbSession, settings: AppSettings, caller: AnyAdmin
) -> ThresholdsOut:
    """Set the thresholds of a region's subtree: the platform admin anywhere, an admin of a
    county-level (or higher) site within their subtree. Eligibility follows at once: volunteers
    whose level the new thresholds reach are told (and granted, with automatic grants) in the
    same transaction; granted levels are never lowered."""
    region = get_region(session, code)
    star_thresholds.put(session, caller, region.code, body.hours)
    stars.thresholds_changed(session, settings, region.code)
    session.commit()
    return _thresholds(session, settings, region.code)


@router.delete("/regions/{code}/star-thresholds", status_code=status.HTTP_204_NO_CONTENT)
def remove_thresholds(
    code: str, session: DbSession, settings: AppSettings, caller: AnyAdmin
) -> Response:
    """The region falls back to its nearest ancestor's thresholds (or the default); volunteers
    whose level these reach are told (and granted, with automatic grants) at once."""
    region = get_region(session, code)
    star_thresholds.remove(session, caller, region.code)
    stars.thresholds_changed(session, settings, region.code)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/volunteers/{volunteer_id}/star-applications",
    response_model=ApplicationOut,
    status_code=status.HTTP_201_CREATED,
)
def apply_for_stars(
    volunteer_id: uuid.UUID,
    body: ApplicationIn,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> ApplicationOut:
    """The volunteer applies for a level their hours qualify for (one open application at a
    time); an admin over their region reviews it."""
    volunteer = get_visible(session, caller, volunteer_id)
    application = star_applications.apply(
        session=session,
        settings=settings,
        actor=caller,
        volunteer=volunteer,
        level=body.level,
        note=body.note,
    )
    session.commit()
    return _application(application)


@router.get("/volunteers/{volunteer_id}/star-applications", response_model=list[ApplicationOut])
def list_star_applications(
    volunteer_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal
) -> list[ApplicationOut]:
    """The volunteer's applications and their decisions, newest first."""
    volunteer = get_visible(session, caller, volunteer_id)
    return [_application(a) for a in star_applications.listed(session, volunteer.id)]


def _decide(
    volunteer_id: uuid.UUID,
    application_id: uuid.UUID,
    body: DecisionIn,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
    *,
    approve: bool,
) -> ApplicationOut:
    volunteer = get_visible(session, caller, volunteer_id)
    application = star_applications.get(session, volunteer, application_id)
    star_applications.decide(
        session=session,
        settings=settings,
        actor=caller,
        volunteer=volunteer,
        application=application,
        approve=approve,
        reason=body.reason,
    )
    session.commit()
    return _application(application)


@router.post(
    "/volunteers/{volunteer_id}/star-applications/{application_id}/approve",
    response_model=ApplicationOut,
)
def approve_star_application(
    volunteer_id: uuid.UUID,
    application_id: uuid.UUID,
    body: DecisionIn,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> ApplicationOut:
    """Grant the level applied for (still within what the hours qualify for); kept as history
    and notified."""
    return _decide(volunteer_id, application_id, body, session, settings, caller, approve=True)


@router.post(
    "/volunteers/{volunteer_id}/star-applications/{application_id}/reject",
    response_model=ApplicationOut,
)
def reject_star_application(
    volunteer_id: uuid.UUID,
    application_id: uuid.UUID,
    body: DecisionIn,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> ApplicationOut:
    """Refuse the application with a reason; the volunteer is told and may apply again."""
    return _decide(volunteer_id, application_id, body, session, settings, caller, approve=False)


@router.get("/star-applications", response_model=Page[ApplicationOut])
def star_application_queue(
    session: DbSession,
    caller: AnyAdmin,
    page: PageQuery,
    status_: Annotated[StarApplicationStatus | None, Query(alias="status")] = (
        StarApplicationStatus.PENDING
    ),
) -> Page[ApplicationOut]:
    """An admin's review queue: applications of the volunteers in their region (pending by
    default), oldest first."""
    stmt = (
        select(StarApplication)
        .join(Volunteer, col(Volunteer.id) == col(StarApplication.volunteer_id))
        .where(caller.admin_scope.filter(col(Volunteer.region_code)))
    )
    if status_ is not None:
        stmt = stmt.where(StarApplication.status == status_.value)
    rows, cursor = paginate(
        session, stmt, key=col(StarApplication.id), params=page, parse_key=uuid.UUID
    )
    return Page(items=[_application(a) for a in rows], next_cursor=cursor)
