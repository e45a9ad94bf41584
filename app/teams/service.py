"""Team writes: creation, profile changes, leader and members. Services flush; routes commit."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlmodel import Session, select

from app.auth.principal import Principal
from app.catalog.service import check_active_categories
from app.common.clock import utcnow
from app.common.location import location_columns
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.regions.codes import in_subtree
from app.sites.service import get_site, require_site_admin_over
from app.teams.models import MemberRole, Team, TeamMember, TeamSpecialty, TeamStatus
from app.teams.schemas import TeamCreate, TeamUpdate
from app.volunteers.models import Volunteer, VolunteerStatus

ADMIN_ONLY_FIELDS = {"status", "leader_volunteer_id"}


def get_team(session: Session, team_id: uuid.UUID) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("未找到该服务队 / no such team", code="team_not_found")
    return team


def _require_manager(actor: Principal, team: Team) -> bool:
    """True for an admin over the team's region; leaders pass as non-admins; others are refused."""
    if actor.admin_scope.covers(team.region_code):
        return True
    if team.id in actor.led_team_ids:
        return False
    raise Forbidden(
        "只有队长或辖区管理员可以管理该队 / only the leader or a site admin can",
        code="not_team_manager",
    )


def _set_specialties(session: Session, team: Team, codes: list[str]) -> None:
    session.execute(delete(TeamSpecialty).where(TeamSpecialty.team_id == team.id))  # type: ignore[arg-type]
    for code in check_active_categories(session, codes):
        session.add(TeamSpecialty(team_id=team.id, category_code=code))


def _approved_volunteer(
    session: Session, actor: Principal, team: Team, volunteer_id: uuid.UUID, *, as_admin: bool
) -> Volunteer:
    """The volunteer if within the actor's reach (404 otherwise, before anything about them is
    revealed) and approved (409 with their state otherwise)."""
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise NotFound("未找到该志愿者 / no such volunteer", code="volunteer_not_found")
    _check_volunteer_reach(actor, team, volunteer, as_admin=as_admin)
    if volunteer.status != VolunteerStatus.APPROVED.value:
        raise Conflict(
            "志愿者尚未通过审核 / the volunteer has not been approved",
            code="volunteer_not_approved",
            current_state=volunteer.status,
        )
    return volunteer


def _set_leader(session: Session, team: Team, volunteer: Volunteer) -> None:
    current = session.exec(
        select(TeamMember).where(
            TeamMember.team_id == team.id, TeamMember.role == MemberRole.LEADER.value
        )
    ).first()
    if current is not None and current.volunteer_id == volunteer.id:
        return
    if current is not None:
        current.role = MemberRole.MEMBER.value
        session.flush()
    membership = session.exec(
        select(TeamMember).where(
            TeamMember.team_id == team.id, TeamMember.volunteer_id == volunteer.id
        )
    ).first()
    if membership is None:
        session.add(
            TeamMember(team_id=team.id, volunteer_id=volunteer.id, role=MemberRole.LEADER.value)
        )
    else:
        membership.role = MemberRole.LEADER.value
    session.flush()


def create_team(*, session: Session, actor: Principal, data: TeamCreate) -> Team:
    site = get_site(session, data.site_id)
    require_site_admin_over(actor, site.region_code)
    team = Team(
        name=data.name.strip(),
        site_id=site.id,
        region_code=site.region_code,
        brand=data.brand,
        description=data.description,
        service_radius_km=data.service_radius_km,
        capacity=data.capacity,
        founded_on=data.founded_on,
        **location_columns(data.location),
    )
    session.add(team)
    session.flush()
    _set_specialties(session, team, data.specialties)
    if data.leader_volunteer_id is not None:
        leader = _approved_volunteer(session, actor, team, data.leader_volunteer_id, as_admin=True)
        _set_leader(session, team, leader)
    session.flush()
    return team


def update_team(*, session: Session, actor: Principal, team: Team, data: TeamUpdate) -> Team:
    as_admin = _require_manager(actor, team)
    given = data.model_fields_set
    if not as_admin and given & ADMIN_ONLY_FIELDS:
        raise Forbidden(
            "队长不能修改状态或队长 / leaders cannot change status or leader",
            code="admin_only_field",
        )
    simple = data.model_dump(
        include={"name", "brand", "description", "service_radius_km", "capacity", "founded_on"},
        exclude_unset=True,
    )
    if ("name" in simple and simple["name"] is None) or (
        "capacity" in simple and simple["capacity"] is None
    ):
        raise Invalid("名称和容量不能为空 / name and capacity cannot be null", code="null_field")
    team.sqlmodel_update(simple)
    if "location" in given:
        team.sqlmodel_update(location_columns(data.location))
    if data.specialties is not None:
        _set_specialties(session, team, data.specialties)
    if data.status is not None:
        team.status = data.status.value
    if data.leader_volunteer_id is not None:
        leader = _approved_volunteer(session, actor, team, data.leader_volunteer_id, as_admin=True)
        _set_leader(session, team, leader)
    team.updated_at = utcnow()
    session.flush()
    return team


def _check_volunteer_reach(
    actor: Principal, team: Team, volunteer: Volunteer, *, as_admin: bool
) -> None:
    """Admins add volunteers from their region; leaders from the team's own region subtree."""
    reach = actor.admin_scope.covers(volunteer.region_code) if as_admin else False
    if not reach and not in_subtree(volunteer.region_code, team.region_code):
        raise NotFound("未找到该志愿者 / no such volunteer", code="volunteer_not_found")


def add_member(
    *, session: Session, actor: Principal, team: Team, volunteer_id: uuid.UUID, role: MemberRole
) -> TeamMember:
    as_admin = _require_manager(actor, team)
    if role is MemberRole.LEADER and not as_admin:
        raise Forbidden(
            "只有管理员可以任命队长 / only admins appoint leaders", code="admin_only_field"
        )
    if team.status != TeamStatus.ACTIVE.value:
        raise Conflict(
            "该队未在活动状态 / the team is not active",
            code="team_not_active",
            current_state=team.status,
        )
    volunteer = _approved_volunteer(session, actor, team, volunteer_id, as_admin=as_admin)
    existing = session.exec(
        select(TeamMember).where(
            TeamMember.team_id == team.id, TeamMember.volunteer_id == volunteer.id
        )
    ).first()
    if role is MemberRole.LEADER:
        _set_leader(session, team, volunteer)
    elif existing is None:
        session.add(TeamMember(team_id=team.id, volunteer_id=volunteer.id))
    else:
        raise Conflict("已是该队成员 / already a member", code="already_member")
    team.updated_at = utcnow()
    session.flush()
    membership = session.exec(
        select(TeamMember).where(
            TeamMember.team_id == team.id, TeamMember.volunteer_id == volunteer.id
        )
    ).one()
    return membership


def remove_member(
    *, session: Session, actor: Principal, team: Team, volunteer_id: uuid.UUID
) -> None:
    as_admin = _require_manager(actor, team)
    membership = session.exec(
        select(TeamMember).where(
            TeamMember.team_id == team.id, TeamMember.volunteer_id == volunteer_id
        )
    ).first()
    if membership is None:
        raise NotFound("不是该队成员 / not a member of this team", code="not_member")
    if membership.role == MemberRole.LEADER.value and not as_admin:
        raise Forbidden(
            "队长不能移除自己 / a leader cannot remove the leader", code="admin_only_field"
        )
    session.delete(membership)
    team.updated_at = utcnow()
    session.flush()
