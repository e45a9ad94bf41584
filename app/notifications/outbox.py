"""Writing notifications: an outbox row in the same transaction as the change it reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.accounts.models import GrantedRole, RoleGrant, User
from app.common.clock import utcnow
from app.common.ids import new_id
from app.notifications.models import OutboxMessage, OutboxStatus
from app.regions.codes import ancestors
from app.sites.models import Site
from app.teams.models import MemberRole, TeamMember
from app.volunteers.models import Volunteer


def notify(
    session: Session, *, topic: str, recipients: Iterable[uuid.UUID], payload: dict[str, Any]
) -> None:
    """One outbox row per recipient, in one statement (after any pending rows it may refer to)."""
    rows = outbox_rows(topic=topic, recipients=recipients, payload=payload)
    if rows:
        if session.new:  # a recipient created in this transaction
            session.flush()
        session.connection().execute(insert(OutboxMessage), rows)


def outbox_rows(
    *, topic: str, recipients: Iterable[uuid.UUID], payload: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows `notify` inserts, for a caller that inserts them in a statement of its own."""
    now = utcnow()
    return [
        {
            "id": new_id(),
            "topic": topic,
            "recipient_user_id": user_id,
            "payload": payload,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "available_at": now,
            "locked_until": None,
            "locked_by": None,
            "last_error": None,
            "created_at": now,
            "sent_at": None,
        }
        for user_id in dict.fromkeys(recipients)
    ]


_TEAM_LEADERS = (
    sa_select(col(Volunteer.user_id))
    .join(TeamMember, col(TeamMember.volunteer_id) == col(Volunteer.id))
    .where(
        col(TeamMember.team_id).in_(bindparam("team_ids", expanding=True)),
        col(TeamMember.role) == MemberRole.LEADER.value,
    )
)


def team_leader_user_ids(session: Session, team_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    ids = list(team_ids)
    if not ids:
        return []
    return list(session.scalars(_TEAM_LEADERS, {"team_ids": ids}).all())


def site_admin_user_ids(session: Session, site_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.exec(
            select(RoleGrant.user_id).where(
                RoleGrant.site_id == site_id, RoleGrant.role == GrantedRole.SITE_ADMIN.value
            )
        ).all()
    )


def region_admin_user_ids(session: Session, region_code: str) -> list[uuid.UUID]:
    """The active admins whose scope covers the region: the site admins of it and of every
    region above it, and the platform admins (as `Principal.admin_scope` decides)."""
    site_admin = and_(
        col(RoleGrant.role) == GrantedRole.SITE_ADMIN.value,
        col(Site.region_code).in_([region_code, *ancestors(region_code)]),
    )
    return list(
        session.exec(
            select(RoleGrant.user_id)
            .join(User, col(User.id) == col(RoleGrant.user_id))
            .outerjoin(Site, col(Site.id) == col(RoleGrant.site_id))
            .where(
                col(User.is_active),
                or_(col(RoleGrant.role) == GrantedRole.PLATFORM_ADMIN.value, site_admin),
            )
            .distinct()
            .order_by(col(RoleGrant.user_id))
        ).all()
    )
