"""Applying for a star level (星级申请): the volunteer applies for a level their hours qualify for;
an admin over the volunteer's region approves (the level is granted, with history) or rejects.
Decisions are compare-and-set on the pending state, so two admins cannot both decide."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.common.clock import utcnow
from app.config import Settings
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.notifications.outbox import notify, region_admin_user_ids
from app.scoring import stars
from app.scoring.star_models import StarApplication, StarApplicationStatus
from app.volunteers.models import Volunteer, VolunteerStatus

PENDING = StarApplicationStatus.PENDING.value


def _pending_conflict() -> Conflict:
    return Conflict(
        "已有待审核的星级申请 / an application is already waiting for review",
        code="application_pending",
        current_state=PENDING,
    )


def apply(
    *,
    session: Session,
    settings: Settings,
    actor: Principal,
    volunteer: Volunteer,
    level: int | None,
    note: str,
) -> StarApplication:
    if volunteer.user_id != actor.id:
        raise Forbidden(
            "只能为本人申请星级 / volunteers apply for themselves", code="not_applicant"
        )
    if volunteer.status != VolunteerStatus.APPROVED.value:
        raise Conflict(
            "志愿者尚未通过审核 / the volunteer is not approved yet",
            code="volunteer_not_approved",
            current_state=volunteer.status,
        )
    eligible = stars.eligible_level(session, settings, volunteer.id)
    granted = stars.granted_level(session, volunteer.id)
    wanted = eligible if level is None else level
    if wanted > eligible:
        raise Invalid(
            f"服务时长只够{eligible}星 / hours qualify for {eligible} stars only",
            code="not_eligible",
            eligible_level=eligible,
        )
    if wanted <= granted:
        raise Invalid(
            f"已授予{granted}星 / {granted} stars are granted already",
            code="already_granted",
            granted_level=granted,
        )
    open_one = session.exec(
        select(StarApplication.id).where(
            StarApplication.volunteer_id == volunteer.id, StarApplication.status == PENDING
        )
    ).first()
    if open_one is not None:
        raise _pending_conflict()
    application = StarApplication(
        volunteer_id=volunteer.id, level=wanted, eligible_level=eligible, note=note
    )
    try:
        with session.begin_nested():  # the partial unique index settles a race
            session.add(application)
    except IntegrityError:
        raise _pending_conflict() from None
    notify(
        session,
        topic="star.application.submitted",
        recipients=region_admin_user_ids(session, volunteer.region_code),
        payload={
            "volunteer_id": str(volunteer.id),
            "application_id": str(application.id),
            "level": wanted,
            "region_code": volunteer.region_code,
        },
    )
    session.flush()
    return application


def get(session: Session, volunteer: Volunteer, application_id: uuid.UUID) -> StarApplication:
    application = session.get(StarApplication, application_id)
    if application is None or application.volunteer_id != volunteer.id:
        raise NotFound("未找到该申请 / no such application", code="application_not_found")
    return application


def listed(session: Session, volunteer_id: uuid.UUID) -> list[StarApplication]:
    return list(
        session.exec(
            select(StarApplication)
            .where(StarApplication.volunteer_id == volunteer_id)
            .order_by(col(StarApplication.created_at).desc(), col(StarApplication.id).desc())
        ).all()
    )


def decide(
    *,
    session: Session,
    settings: Settings,
    actor: Principal,
    volunteer: Volunteer,
    application: StarApplication,
    approve: bool,
    reason: str,
) -> StarApplication:
    if not actor.admin_scope.covers(volunteer.region_code):
        raise Forbidden("只有辖区管理员可以审核 / site admins only", code="admin_required")
    decision = StarApplicationStatus.APPROVED if approve else StarApplicationStatus.REJECTED
    result = session.execute(
        update(StarApplication)
        .where(col(StarApplication.id) == application.id, col(StarApplication.status) == PENDING)
        .values(
            status=decision.value,
            decided_by_id=actor.id,
            decided_at=utcnow(),
            decision_reason=reason,
        )
    )
    session.refresh(application)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "该申请已审核 / the application has been decided",
            code="invalid_state",
            current_state=application.status,
        )
    if approve:
        if stars.granted_level(session, volunteer.id) >= application.level:
            raise Conflict(
                "该星级已授予 / that level is granted already",
                code="already_granted",
                current_state=application.status,
            )
        grant = stars.set_level(
            session, settings, volunteer, application.level, reason=reason, actor_id=actor.id
        )
        application.grant_id = grant.id
        session.add(application)
    else:
        notify(
            session,
            topic="star.application.rejected",
            recipients=[volunteer.user_id],
            payload={
                "volunteer_id": str(volunteer.id),
                "application_id": str(application.id),
                "reason": reason,
            },
        )
    session.flush()
    return application
