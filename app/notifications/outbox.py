"""Writing notifications: an outbox row in the same transaction as the change it reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from app.accounts.models import GrantedRole, RoleGrant
from app.notifications.models import OutboxMessage
from app.teams.models import MemberRole, TeamMember
from app.volunteers.models import Volunteer


def notify(
    session: Session, *, topic: str, recipients: Iterable[uuid.UUID], payload: dict[str, Any]
) -> None:
    for user_id in dict.fromkeys(recipients):
        session.add(OutboxMessage(topic=topic, recipient_user_id=user_id, payload=payload))


def team_leader_user_ids(session: Session, team_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    ids = list(team_ids)
    if not ids:
        return []
    return list(
        session.exec(
            select(Volunteer.user_id)
            .join(TeamMember, col(TeamMember.volunteer_id) == col(Volunteer.id))
            .where(col(TeamMember.team_id).in_(ids), TeamMember.role == MemberRole.LEADER.value)
        ).all()
    )


def site_admin_user_ids(session: Session, site_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.exec(
            select(RoleGrant.user_id).where(
                RoleGrant.site_id == site_id, RoleGrant.role == GrantedRole.SITE_ADMIN.value
            )
        ).all()
    )
