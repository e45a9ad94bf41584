"""Moving a volunteer to another region or team (迁移). The history moves with them: records,
points, stars and certificates belong to the volunteer, and their totals (which carry the region
that boards filter on) follow them to the new region in the same transaction.

Who may move a volunteer: an admin whose scope covers both the volunteer's current region and
the destination (a county admin within the county, a city admin between its counties, the
platform admin anywhere). Services flush; the route commits.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.principal import Principal
from app.common.clock import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.notifications.outbox import notify
from app.regions.queries import get_region
from app.scoring.totals import move_volunteer
from app.teams.models import MemberRole, Team, TeamMember, TeamStatus
from app.volunteers.models import Volunteer, VolunteerStatus, VolunteerTransfer
from app.volunteers.schemas import TransferIn


def _locked(session: Session, volunteer_id: uuid.UUID) -> Volunteer:
    """The volunteer row, locked (PostgreSQL) and re-read, so that two moves queue up."""
    return session.exec(
        select(Volunteer)
        .where(col(Volunteer.id) == volunteer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _destination_team(session: Session, actor: Principal, team_id: uuid.UUID) -> Team:
    team = session.get(Team, team_id)
    if team is None or not actor.admin_scope.covers(team.region_code):
        raise NotFound("未找到该服务队 / no such team", code="team_not_found")
    if team.status != TeamStatus.ACTIVE.value:
        raise Conflict(
            "该队未在活动状态 / the team is not active",
            code="team_not_active",
            current_state=team.status,
        )
    return team


def _move_memberships(
    session: Session, volunteer: Volunteer, team: Team | None, *, leave: bool
) -> list[uuid.UUID]:
    """Leave the old teams (not one the volunteer leads) and join the new one; the teams left."""
    memberships = session.exec(
        select(TeamMember).where(TeamMember.volunteer_id == volunteer.id)
    ).all()
    keep = team.id if team else None
    leaving = [m for m in memberships if leave and m.team_id != keep]
    if any(m.role == MemberRole.LEADER.value for m in leaving):
        raise Conflict(
            "该志愿者是队长,请先更换队长 / the volunteer leads a team: appoint a new leader first",
            code="leads_a_team",
        )
    for membership in leaving:
        session.delete(membership)  # through the ORM, so the change feed reports it
    if team is not None and all(m.team_id != team.id for m in memberships):
        session.add(TeamMember(team_id=team.id, volunteer_id=volunteer.id))
    return [m.team_id for m in leaving]


def transfer(
    *, session: Session, actor: Principal, volunteer: Volunteer, data: TransferIn
) -> VolunteerTransfer:
    if not actor.admin_scope.covers(volunteer.region_code):
        raise Forbidden(
            "只有辖区管理员可以迁移志愿者 / site admins over the volunteer only",
            code="admin_required",
        )
    destination = get_region(session, data.region_code)
    if not actor.admin_scope.covers(destination.code):
        raise Forbidden(
            "迁入地不在您的辖区内 / the destination is outside your region",
            code="outside_scope",
        )
    volunteer = _locked(session, volunteer.id)
    origin = volunteer.region_code
    team = _destination_team(session, actor, data.team_id) if data.team_id else None
    if team is not None and volunteer.status != VolunteerStatus.APPROVED.value:
        raise Conflict(
            "志愿者尚未通过审核,不能加入服务队 / the volunteer is not approved yet",
            code="volunteer_not_approved",
            current_state=volunteer.status,
        )
    if origin == destination.code and team is None:
        raise Invalid("迁入地与现居地相同 / nothing to move", code="nothing_to_move")
    left = _move_memberships(session, volunteer, team, leave=data.leave_teams)
    if origin != destination.code:
        volunteer.region_code = destination.code
        volunteer.updated_at = utcnow()
        session.add(volunteer)
        move_volunteer(session, volunteer.id, destination.code)
    move = VolunteerTransfer(
        volunteer_id=volunteer.id,
        from_region_code=origin,
        to_region_code=destination.code,
        left_team_ids=[str(t) for t in left],
        to_team_id=team.id if team else None,
        reason=data.reason,
        moved_by_id=actor.id,
    )
    session.add(move)
    audit.record(
        session,
        actor_id=actor.id,
        action="volunteer.transfer",
        subject_type="volunteer",
        subject_id=volunteer.id,
        detail={"from": origin, "to": destination.code, "reason": data.reason},
    )
    notify(
        session,
        topic="volunteer.transferred",
        recipients=[volunteer.user_id],
        payload={
            "volunteer_id": str(volunteer.id),
            "from_region_code": origin,
            "to_region_code": destination.code,
            "team_id": str(team.id) if team else None,
        },
    )
    session.flush()
    return move


def history(session: Session, volunteer_id: uuid.UUID) -> list[VolunteerTransfer]:
    return list(
        session.exec(
            select(VolunteerTransfer)
            .where(VolunteerTransfer.volunteer_id == volunteer_id)
            .order_by(col(VolunteerTransfer.created_at).desc(), col(VolunteerTransfer.id).desc())
        ).all()
    )
