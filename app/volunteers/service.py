"""Volunteer registration and review. Services flush; routes commit."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.accounts.service import PHONE_CONTEXT, parse_phone
from app.audit import service as audit
from app.auth.principal import Principal
from app.catalog.service import check_active_categories
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.common.identity import mask_id_number, mask_phone, normalize_id_number
from app.errors import Conflict, Invalid, NotFound
from app.regions.queries import get_region
from app.sync.capture import report_core_write
from app.teams.models import TeamMember
from app.volunteers.models import Volunteer, VolunteerStatus
from app.volunteers.schemas import VolunteerCreate, VolunteerPersonal, VolunteerUpdate

ID_CONTEXT = "id_number"
REVIEWABLE_FROM = {
    VolunteerStatus.APPROVED: (VolunteerStatus.PENDING, VolunteerStatus.REJECTED),
    VolunteerStatus.REJECTED: (VolunteerStatus.PENDING,),
}
REVIEWED = ("status", "review_reason", "reviewed_by_id", "reviewed_at", "updated_at")


def can_see(principal: Principal, volunteer: Volunteer, session: Session) -> bool:
    """Self, admins over the volunteer's region, and leaders of a team the volunteer is in."""
    if volunteer.user_id == principal.id or principal.admin_scope.covers(volunteer.region_code):
        return True
    if not principal.led_team_ids:
        return False
    shared = session.exec(
        select(TeamMember.id).where(
            TeamMember.volunteer_id == volunteer.id,
            col(TeamMember.team_id).in_(principal.led_team_ids),
        )
    ).first()
    return shared is not None


def get_visible(session: Session, principal: Principal, volunteer_id: uuid.UUID) -> Volunteer:
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None or not can_see(principal, volunteer, session):
        raise NotFound("未找到该志愿者 / no such volunteer", code="volunteer_not_found")
    return volunteer


def _parse_id_number(raw: str) -> str:
    try:
        return normalize_id_number(raw)
    except ValueError as exc:
        raise Invalid(str(exc), code="invalid_id_number") from None


def register(
    *, session: Session, codec: SensitiveCodec, actor: Principal, data: VolunteerCreate
) -> Volunteer:
    if actor.volunteer is not None:
        raise Conflict(
            "您已提交过志愿者注册 / you have already registered as a volunteer",
            code="already_registered",
            current_state=actor.volunteer.status,
        )
    get_region(session, data.region_code)
    phone = parse_phone(data.phone)
    id_number = _parse_id_number(data.id_number) if data.id_number else None
    id_hash = codec.lookup_hash(id_number, context=ID_CONTEXT) if id_number else None
    if (
        id_hash
        and session.exec(select(Volunteer.id).where(Volunteer.id_number_hash == id_hash)).first()
    ):
        raise Conflict(
            "该身份证号已注册志愿者 / a volunteer with this ID number exists",
            code="id_number_taken",
        )
    if (
        data.national_code
        and session.exec(
            select(Volunteer.id).where(Volunteer.national_code == data.national_code)
        ).first()
    ):
        raise Conflict(
            "该志愿者编号已被使用 / that national code is in use", code="national_code_taken"
        )
    volunteer = Volunteer(
        user_id=actor.id,
        real_name=data.real_name.strip(),
        phone_cipher=codec.encrypt(phone, context=PHONE_CONTEXT),
        phone_hash=codec.lookup_hash(phone, context=PHONE_CONTEXT),
        phone_masked=mask_phone(phone),
        region_code=data.region_code,
        skills=check_active_categories(session, data.skills),
        national_code=data.national_code,
    )
    if id_number:
        volunteer.id_number_cipher = codec.encrypt(id_number, context=ID_CONTEXT)
        volunteer.id_number_hash = id_hash
        volunteer.id_number_masked = mask_id_number(id_number)
    session.add(volunteer)
    session.flush()
    return volunteer


def update_profile(
    *, session: Session, actor: Principal, volunteer: Volunteer, data: VolunteerUpdate
) -> Volunteer:
    is_admin = actor.admin_scope.covers(volunteer.region_code)
    if volunteer.user_id != actor.id and not is_admin:
        raise NotFound("未找到该志愿者 / no such volunteer", code="volunteer_not_found")
    if data.skills is not None:
        volunteer.skills = check_active_categories(session, data.skills)
    if data.national_code is not None:
        clash = session.exec(
            select(Volunteer.id).where(
                Volunteer.national_code == data.national_code, Volunteer.id != volunteer.id
            )
        ).first()
        if clash:
            raise Conflict(
                "该志愿者编号已被使用 / that national code is in use", code="national_code_taken"
            )
        volunteer.national_code = data.national_code
    volunteer.updated_at = utcnow()
    session.flush()
    return volunteer


def review(
    *,
    session: Session,
    actor: Principal,
    volunteer_id: uuid.UUID,
    decision: VolunteerStatus,
    reason: str | None,
) -> Volunteer:
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None or not actor.admin_scope.covers(volunteer.region_code):
        raise NotFound("未找到该志愿者 / no such volunteer", code="volunteer_not_found")
    allowed_from = [s.value for s in REVIEWABLE_FROM[decision]]
    now = utcnow()
    # Compare-and-set: two admins deciding at once cannot both win.
    result = session.execute(
        update(Volunteer)
        .where(col(Volunteer.id) == volunteer.id, col(Volunteer.status).in_(allowed_from))
        .values(
            status=decision.value,
            review_reason=reason,
            reviewed_by_id=actor.id,
            reviewed_at=now,
            updated_at=now,
        )
    )
    session.refresh(volunteer)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"当前状态不允许此操作 / cannot {decision.value} a volunteer who is {volunteer.status}",
            code="invalid_state",
            current_state=volunteer.status,
        )
    report_core_write(session, Volunteer, [volunteer.id], fields=REVIEWED)
    return volunteer


def reveal_personal(
    *, session: Session, codec: SensitiveCodec, actor: Principal, volunteer: Volunteer
) -> VolunteerPersonal:
    """Unmasked numbers for the volunteer or an admin over them, written to the audit log."""
    if volunteer.user_id != actor.id and not actor.admin_scope.covers(volunteer.region_code):
        raise NotFound("未找到该志愿者 / no such volunteer", code="volunteer_not_found")
    audit.record(
        session,
        actor_id=actor.id,
        action="volunteer.personal_data.read",
        subject_type="volunteer",
        subject_id=volunteer.id,
    )
    session.flush()
    id_number = (
        codec.decrypt(volunteer.id_number_cipher, context=ID_CONTEXT)
        if volunteer.id_number_cipher
        else None
    )
    return VolunteerPersonal(
        id=volunteer.id,
        real_name=volunteer.real_name,
        phone=codec.decrypt(volunteer.phone_cipher, context=PHONE_CONTEXT),
        id_number=id_number,
    )
