from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import col, select

from app.auth.deps import AnyAdmin, CurrentPrincipal
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Forbidden
from app.regions.queries import check_code
from app.regions.scope import RegionScope
from app.teams import service
from app.teams.models import MemberRole, Team, TeamMember, TeamSpecialty, TeamStatus
from app.teams.queries import sees_team_inside, teams_out
from app.teams.schemas import MemberAdd, MemberOut, TeamCreate, TeamOut, TeamUpdate
from app.volunteers.models import Volunteer

router = APIRouter(prefix="/teams", tags=["teams"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=Page[TeamOut])
def list_teams(
    session: DbSession,
    caller: CurrentPrincipal,
    page: PageQuery,
    region: Annotated[
        str | None, Query(description="Teams whose home site is in this subtree")
    ] = None,
    category: Annotated[str | None, Query(max_length=40, description="Has this specialty")] = None,
    site_id: uuid.UUID | None = None,
    status_: Annotated[TeamStatus | None, Query(alias="status")] = None,
    q: Annotated[str | None, Query(max_length=50, description="Name contains")] = None,
) -> Page[TeamOut]:
    """The team directory: public profiles, with leaders' names masked outside the team."""
    stmt = select(Team)
    if region is not None:
        stmt = stmt.where(RegionScope.of([check_code(region)]).filter(col(Team.region_code)))
    if category is not None:
        has = select(TeamSpecialty.team_id).where(TeamSpecialty.category_code == category)
        stmt = stmt.where(col(Team.id).in_(has))
    if site_id is not None:
        stmt = stmt.where(Team.site_id == site_id)
    if status_ is not None:
        stmt = stmt.where(Team.status == status_.value)
    if q:
        stmt = stmt.where(col(Team.name).contains(q))
    rows, cursor = paginate(session, stmt, key=col(Team.id), params=page, parse_key=uuid.UUID)
    return Page(items=teams_out(session, caller, rows), next_cursor=cursor)


@router.post("", response_model=TeamOut, status_code=status.HTTP_201_CREATED)
def create_team(body: TeamCreate, session: DbSession, admin: AnyAdmin) -> TeamOut:
    """Found a team at a site inside the caller's region."""
    team = service.create_team(session=session, actor=admin, data=body)
    session.commit()
    return teams_out(session, admin, [team])[0]


@router.get("/{team_id}", response_model=TeamOut)
def read_team(team_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal) -> TeamOut:
    return teams_out(session, caller, [service.get_team(session, team_id)])[0]


@router.patch("/{team_id}", response_model=TeamOut)
def update_team(
    team_id: uuid.UUID, body: TeamUpdate, session: DbSession, caller: CurrentPrincipal
) -> TeamOut:
    """Leaders edit the profile; admins over the team's region also set status and leader."""
    team = service.update_team(
        session=session, actor=caller, team=service.get_team(session, team_id), data=body
    )
    session.commit()
    return teams_out(session, caller, [team])[0]


@router.get("/{team_id}/members", response_model=list[MemberOut])
def list_members(
    team_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal
) -> list[MemberOut]:
    """Members with masked phones; for the team's members and admins over its region."""
    team = service.get_team(session, team_id)
    if not sees_team_inside(caller, team):
        raise Forbidden(
            "只有队员和辖区管理员可以查看 / members and site admins only", code="not_team_member"
        )
    rows = session.exec(
        select(TeamMember, Volunteer)
        .join(Volunteer, col(Volunteer.id) == col(TeamMember.volunteer_id))
        .where(TeamMember.team_id == team.id)
        .order_by(col(TeamMember.role), col(TeamMember.joined_at))
    ).all()
    return [
        MemberOut(
            volunteer_id=v.id,
            real_name=v.real_name,
            phone=v.phone_masked,
            role=MemberRole(m.role),
            joined_at=m.joined_at,
        )
        for m, v in rows
    ]


@router.post("/{team_id}/members", response_model=MemberOut, status_code=status.HTTP_201_CREATED)
def add_member(
    team_id: uuid.UUID, body: MemberAdd, session: DbSession, caller: CurrentPrincipal
) -> MemberOut:
    """Add an approved volunteer. Leaders add from the team's region; admins appoint leaders."""
    team = service.get_team(session, team_id)
    membership = service.add_member(
        session=session, actor=caller, team=team, volunteer_id=body.volunteer_id, role=body.role
    )
    session.commit()
    volunteer = session.get(Volunteer, membership.volunteer_id)
    assert volunteer is not None
    return MemberOut(
        volunteer_id=volunteer.id,
        real_name=volunteer.real_name,
        phone=volunteer.phone_masked,
        role=MemberRole(membership.role),
        joined_at=membership.joined_at,
    )


@router.delete("/{team_id}/members/{volunteer_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    team_id: uuid.UUID, volunteer_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal
) -> None:
    team = service.get_team(session, team_id)
    service.remove_member(session=session, actor=caller, team=team, volunteer_id=volunteer_id)
    session.commit()
