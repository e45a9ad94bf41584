from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import ColumnElement, or_
from sqlmodel import col, select

from app.auth.deps import AnyAdmin, Codec, CurrentPrincipal
from app.auth.principal import Principal
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.regions.queries import check_code
from app.regions.scope import RegionScope
from app.teams.models import TeamMember
from app.volunteers import service, transfer
from app.volunteers.models import Volunteer, VolunteerStatus
from app.volunteers.schemas import (
    ApproveVolunteer,
    RejectVolunteer,
    TransferIn,
    TransferOut,
    VolunteerCreate,
    VolunteerOut,
    VolunteerPersonal,
    VolunteerUpdate,
)

router = APIRouter(prefix="/volunteers", tags=["volunteers"], responses=PROBLEM_RESPONSES)


def volunteer_out(v: Volunteer) -> VolunteerOut:
    return VolunteerOut(
        id=v.id,
        user_id=v.user_id,
        real_name=v.real_name,
        phone=v.phone_masked,
        id_number=v.id_number_masked,
        region_code=v.region_code,
        skills=v.skills,
        national_code=v.national_code,
        status=VolunteerStatus(v.status),
        review_reason=v.review_reason,
        reviewed_at=v.reviewed_at,
        created_at=v.created_at,
    )


def _visible_to(principal: Principal) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = [
        col(Volunteer.user_id) == principal.id,
        principal.admin_scope.filter(col(Volunteer.region_code)),
    ]
    if principal.led_team_ids:
        members = select(TeamMember.volunteer_id).where(
            col(TeamMember.team_id).in_(principal.led_team_ids)
        )
        clauses.append(col(Volunteer.id).in_(members))
    return or_(*clauses)


@router.post("", response_model=VolunteerOut, status_code=status.HTTP_201_CREATED)
def register_volunteer(
    body: VolunteerCreate, session: DbSession, caller: CurrentPrincipal, codec: Codec
) -> VolunteerOut:
    """Register yourself as a volunteer; a site admin of your region reviews the application."""
    volunteer = service.register(session=session, codec=codec, actor=caller, data=body)
    session.commit()
    return volunteer_out(volunteer)


@router.get("", response_model=Page[VolunteerOut])
def list_volunteers(
    session: DbSession,
    caller: CurrentPrincipal,
    page: PageQuery,
    region: Annotated[str | None, Query(description="Only this region's subtree")] = None,
    status_: Annotated[VolunteerStatus | None, Query(alias="status")] = None,
) -> Page[VolunteerOut]:
    """Volunteers the caller may see: admins their region, leaders their members, and self."""
    stmt = select(Volunteer).where(_visible_to(caller))
    if region is not None:
        stmt = stmt.where(RegionScope.of([check_code(region)]).filter(col(Volunteer.region_code)))
    if status_ is not None:
        stmt = stmt.where(Volunteer.status == status_.value)
    rows, cursor = paginate(session, stmt, key=col(Volunteer.id), params=page, parse_key=uuid.UUID)
    return Page(items=[volunteer_out(v) for v in rows], next_cursor=cursor)


@router.get("/{volunteer_id}", response_model=VolunteerOut)
def read_volunteer(
    volunteer_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal
) -> VolunteerOut:
    return volunteer_out(service.get_visible(session, caller, volunteer_id))


@router.patch("/{volunteer_id}", response_model=VolunteerOut)
def update_volunteer(
    volunteer_id: uuid.UUID, body: VolunteerUpdate, session: DbSession, caller: CurrentPrincipal
) -> VolunteerOut:
    volunteer = service.get_visible(session, caller, volunteer_id)
    service.update_profile(session=session, actor=caller, volunteer=volunteer, data=body)
    session.commit()
    return volunteer_out(volunteer)


@router.get("/{volunteer_id}/personal", response_model=VolunteerPersonal)
def read_personal_data(
    volunteer_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal, codec: Codec
) -> VolunteerPersonal:
    """Unmasked phone and ID number, for the volunteer and admins over them. Audit-logged."""
    volunteer = service.get_visible(session, caller, volunteer_id)
    personal = service.reveal_personal(
        session=session, codec=codec, actor=caller, volunteer=volunteer
    )
    session.commit()
    return personal


@router.post("/{volunteer_id}/approve", response_model=VolunteerOut)
def approve_volunteer(
    volunteer_id: uuid.UUID,
    session: DbSession,
    admin: AnyAdmin,
    body: ApproveVolunteer | None = None,
) -> VolunteerOut:
    volunteer = service.review(
        session=session,
        actor=admin,
        volunteer_id=volunteer_id,
        decision=VolunteerStatus.APPROVED,
        reason=body.note if body else None,
    )
    session.commit()
    return volunteer_out(volunteer)


@router.post("/{volunteer_id}/reject", response_model=VolunteerOut)
def reject_volunteer(
    volunteer_id: uuid.UUID, body: RejectVolunteer, session: DbSession, admin: AnyAdmin
) -> VolunteerOut:
    volunteer = service.review(
        session=session,
        actor=admin,
        volunteer_id=volunteer_id,
        decision=VolunteerStatus.REJECTED,
        reason=body.reason,
    )
    session.commit()
    return volunteer_out(volunteer)


@router.post(
    "/{volunteer_id}/transfer", response_model=TransferOut, status_code=status.HTTP_201_CREATED
)
def transfer_volunteer(
    volunteer_id: uuid.UUID, body: TransferIn, session: DbSession, caller: CurrentPrincipal
) -> TransferOut:
    """Move a volunteer to another region (and optionally into a team there), leaving the old
    place's teams unless `leave_teams` is false. Their records, totals, points, stars and
    certificates move with them; leaderboards of the new region list them at once. The caller
    must be an admin over both the current region and the destination (the platform admin
    anywhere). The move is kept in the transfer history and the volunteer is notified."""
    volunteer = service.get_visible(session, caller, volunteer_id)
    move = transfer.transfer(session=session, actor=caller, volunteer=volunteer, data=body)
    session.commit()
    return TransferOut.model_validate(move, from_attributes=True)


@router.get("/{volunteer_id}/transfers", response_model=list[TransferOut])
def list_transfers(
    volunteer_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal
) -> list[TransferOut]:
    """The volunteer's moves, newest first (for whoever may see the volunteer)."""
    volunteer = service.get_visible(session, caller, volunteer_id)
    return [
        TransferOut.model_validate(m, from_attributes=True)
        for m in transfer.history(session, volunteer.id)
    ]
