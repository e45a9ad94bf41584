from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.common.identity import mask_name
from app.teams.models import MemberRole, Team, TeamMember, TeamSpecialty, TeamStatus
from app.teams.schemas import TeamLeaderOut, TeamOut
from app.volunteers.models import Volunteer


def sees_team_inside(principal: Principal, team: Team) -> bool:
    """Members, and admins over the team's region, see names and member lists unmasked."""
    return team.id in principal.member_team_ids or principal.admin_scope.covers(team.region_code)


def teams_out(session: Session, principal: Principal, teams: Sequence[Team]) -> list[TeamOut]:
    ids = [t.id for t in teams]
    if not ids:
        return []
    specialties: dict[uuid.UUID, list[str]] = defaultdict(list)
    for team_id, code in session.exec(
        select(TeamSpecialty.team_id, TeamSpecialty.category_code)
        .where(col(TeamSpecialty.team_id).in_(ids))
        .order_by(col(TeamSpecialty.category_code))
    ).all():
        specialties[team_id].append(code)
    leaders = {
        team_id: (volunteer_id, name)
        for team_id, volunteer_id, name in session.exec(
            select(TeamMember.team_id, TeamMember.volunteer_id, Volunteer.real_name)
            .join(Volunteer, col(Volunteer.id) == col(TeamMember.volunteer_id))
            .where(col(TeamMember.team_id).in_(ids), TeamMember.role == MemberRole.LEADER.value)
        ).all()
    }
    counts = dict(
        session.exec(
            select(TeamMember.team_id, func.count())
            .where(col(TeamMember.team_id).in_(ids))
            .group_by(col(TeamMember.team_id))
        ).all()
    )
    result = []
    for team in teams:
        leader = leaders.get(team.id)
        leader_out = None
        if leader is not None:
            name = leader[1] if sees_team_inside(principal, team) else mask_name(leader[1])
            leader_out = TeamLeaderOut(volunteer_id=leader[0], name=name)
        result.append(
            TeamOut(
                id=team.id,
                name=team.name,
                site_id=team.site_id,
                region_code=team.region_code,
                brand=team.brand,
                description=team.description,
                specialties=specialties.get(team.id, []),
                location=team.location(),
                service_radius_km=team.service_radius_km,
                capacity=team.capacity,
                status=TeamStatus(team.status),
                founded_on=team.founded_on,
                leader=leader_out,
                member_count=counts.get(team.id, 0),
                created_at=team.created_at,
            )
        )
    return result
