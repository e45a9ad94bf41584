"""Star levels (星级): eligible by hours (computed), granted by an admin or automatically."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlmodel import Session, col, select

from app.config import Settings
from app.errors import Invalid
from app.notifications.outbox import notify
from app.scoring.models import PeriodKind, StarGrant, VolunteerTotal
from app.scoring.rules import star_standing
from app.volunteers.models import Volunteer


def total_minutes(session: Session, volunteer_id: uuid.UUID) -> int:
    row = session.get(VolunteerTotal, (volunteer_id, PeriodKind.ALL.value, 0))
    return row.minutes if row else 0


def eligible_level(session: Session, settings: Settings, volunteer_id: uuid.UUID) -> int:
    thresholds = tuple(settings.star_thresholds_hours)
    return star_standing(total_minutes(session, volunteer_id), thresholds).level


def history(session: Session, volunteer_id: uuid.UUID) -> list[StarGrant]:
    return list(
        session.exec(
            select(StarGrant)
            .where(StarGrant.volunteer_id == volunteer_id)
            .order_by(col(StarGrant.created_at).desc(), col(StarGrant.id).desc())
        ).all()
    )


def granted_level(session: Session, volunteer_id: uuid.UUID) -> int:
    latest = session.exec(
        select(StarGrant.level)
        .where(StarGrant.volunteer_id == volunteer_id)
        .order_by(col(StarGrant.created_at).desc(), col(StarGrant.id).desc())
        .limit(1)
    ).first()
    return latest or 0


def set_level(
    session: Session,
    settings: Settings,
    volunteer: Volunteer,
    level: int,
    *,
    reason: str,
    actor_id: uuid.UUID | None,
) -> StarGrant:
    """Grant up to the eligible level, or lower a level (with a reason); the volunteer is told."""
    eligible = eligible_level(session, settings, volunteer.id)
    current = granted_level(session, volunteer.id)
    if level > eligible:
        raise Invalid(
            f"服务时长只够{eligible}星 / hours qualify for {eligible} stars only",
            code="not_eligible",
            eligible_level=eligible,
        )
    if level == current:
        raise Invalid("星级未变 / already at that level", code="unchanged", granted_level=current)
    grant = StarGrant(
        volunteer_id=volunteer.id,
        level=level,
        previous_level=current,
        eligible_level=eligible,
        reason=reason,
        granted_by_id=actor_id,
    )
    session.add(grant)
    notify(
        session,
        topic="star.changed",
        recipients=[volunteer.user_id],
        payload={"volunteer_id": str(volunteer.id), "level": level, "previous_level": current},
    )
    session.flush()
    return grant


def auto_grant(session: Session, settings: Settings, volunteer_ids: Iterable[uuid.UUID]) -> None:
    """Where `DIANDAN_STAR_AUTO_GRANT` is on: raise each volunteer to the level they qualify for."""
    if not settings.star_auto_grant:
        return
    for volunteer_id in sorted(set(volunteer_ids)):
        eligible = eligible_level(session, settings, volunteer_id)
        if eligible > granted_level(session, volunteer_id):
            volunteer = session.get(Volunteer, volunteer_id)
            assert volunteer is not None
            set_level(
                session, settings, volunteer, eligible, reason="自动授予 / auto", actor_id=None
            )
