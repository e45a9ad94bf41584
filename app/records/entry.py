"""Manual records, amendments and correction requests: who may, and the transactions."""

from __future__ import annotations

import math
import uuid

from sqlmodel import Session, col, select

from app.audit.service import record as audit
from app.auth.principal import Principal
from app.catalog.service import category_exists
from app.common.clock import utcnow
from app.config import Settings
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.records.ledger import RecordDraft, amend, land_records
from app.records.models import CorrectionRequest, CorrectionStatus, RecordSource, ServiceRecord
from app.records.schemas import AmendmentCreate, CorrectionCreate, RecordCreate
from app.teams.models import Team
from app.teams.service import get_team
from app.volunteers.models import Volunteer
from app.volunteers.service import can_see


def to_minutes(hours: float) -> int:
    return math.floor(hours * 60 + 0.5)


def may_record_for(caller: Principal, team: Team) -> bool:
    return team.id in caller.led_team_ids or caller.admin_scope.covers(team.region_code)


def _require_recorder(caller: Principal, team: Team) -> None:
    if not may_record_for(caller, team):
        raise Forbidden(
            "只有队长或辖区管理员可以录入或更正记录 / only the team leader or a site admin",
            code="not_record_keeper",
        )


def create_record(
    session: Session, settings: Settings, caller: Principal, data: RecordCreate
) -> ServiceRecord:
    team = get_team(session, data.team_id)
    _require_recorder(caller, team)
    if not category_exists(session, data.category_code):
        raise Invalid("未知的服务类别 / unknown category", code="unknown_category")
    minutes = to_minutes(data.hours)
    if data.started_at and data.ended_at:
        span = (data.ended_at - data.started_at).total_seconds() / 60
        if minutes > span + 0.5:
            raise Invalid(
                "服务时长超过起止时间 / hours exceed the time between start and end",
                code="hours_exceed_times",
            )
    [record] = land_records(
        session,
        settings,
        [
            RecordDraft(
                volunteer_id=data.volunteer_id,
                team_id=team.id,
                category_code=data.category_code,
                region_code=team.region_code,
                service_date=data.service_date,
                minutes=minutes,
                content=data.content,
                recorded_by_id=caller.id,
                source=RecordSource.MANUAL,
                started_at=data.started_at,
                ended_at=data.ended_at,
                place=data.place,
            )
        ],
    )
    return record


def get_record(session: Session, caller: Principal, record_id: uuid.UUID) -> ServiceRecord:
    """A record the caller may see (the volunteer, leaders of its team, admins over it);
    others get 404."""
    record = session.get(ServiceRecord, record_id)
    if record is not None:
        volunteer = session.get(Volunteer, record.volunteer_id)
        team = session.get(Team, record.team_id)
        if (volunteer is not None and can_see(caller, volunteer, session)) or (
            team is not None and may_record_for(caller, team)
        ):
            return record
    raise NotFound("未找到该记录 / no such record", code="record_not_found")


def amendments_of(session: Session, record: ServiceRecord) -> list[ServiceRecord]:
    return list(
        session.exec(
            select(ServiceRecord)
            .where(col(ServiceRecord.amends_id) == record.id)
            .order_by(col(ServiceRecord.created_at), col(ServiceRecord.id))
        ).all()
    )


def amend_record(
    session: Session,
    settings: Settings,
    caller: Principal,
    record: ServiceRecord,
    data: AmendmentCreate,
) -> ServiceRecord:
    _require_recorder(caller, get_team(session, record.team_id))
    amendment = amend(
        session,
        settings,
        record,
        minutes=None if data.hours is None else to_minutes(data.hours),
        content=data.content,
        reason=data.reason,
        actor_id=caller.id,
    )
    audit(
        session,
        actor_id=caller.id,
        action="record.amend",
        subject_type="service_record",
        subject_id=record.id,
        detail={"change_minutes": str(amendment.minutes), "reason": data.reason[:200]},
    )
    return amendment


def request_correction(
    session: Session, caller: Principal, record: ServiceRecord, data: CorrectionCreate
) -> CorrectionRequest:
    volunteer = session.get(Volunteer, record.volunteer_id)
    if volunteer is None or volunteer.user_id != caller.id:
        raise Forbidden(
            "只有本人可以申请更正 / only the volunteer may ask for a correction",
            code="not_own_record",
        )
    if record.amends_id is not None:
        raise Invalid(
            "请针对原始记录申请 / ask about the original record", code="amend_the_original"
        )
    if data.hours is None and data.content is None:
        raise Invalid("请说明更正内容 / say what should change", code="nothing_to_amend")
    request = CorrectionRequest(
        record_id=record.id,
        volunteer_id=record.volunteer_id,
        requested_by_id=caller.id,
        minutes=None if data.hours is None else to_minutes(data.hours),
        content=data.content,
        reason=data.reason,
    )
    session.add(request)
    session.flush()
    return request


def get_correction(session: Session, caller: Principal, request_id: uuid.UUID) -> CorrectionRequest:
    request = session.get(CorrectionRequest, request_id)
    if request is not None:
        get_record(session, caller, request.record_id)  # 404 when the caller may not see it
        return request
    raise NotFound("未找到该更正申请 / no such correction request", code="correction_not_found")


def decide_correction(
    session: Session,
    settings: Settings,
    caller: Principal,
    request: CorrectionRequest,
    *,
    approve: bool,
    reason: str | None,
) -> CorrectionRequest:
    """Approving writes the amendment; both the request and the decision are kept."""
    record = session.get(ServiceRecord, request.record_id)
    assert record is not None
    _require_recorder(caller, get_team(session, record.team_id))
    if request.status != CorrectionStatus.PENDING.value:
        raise Conflict(
            "该申请已处理 / already decided", code="already_decided", current_state=request.status
        )
    if approve:
        amendment = amend(
            session,
            settings,
            record,
            minutes=request.minutes,
            content=request.content,
            reason=f"更正申请 / correction request: {request.reason}"[:500],
            actor_id=caller.id,
        )
        request.amendment_id = amendment.id
    elif not reason:
        raise Invalid("驳回须说明理由 / a rejection needs a reason", code="reason_required")
    request.status = (CorrectionStatus.APPROVED if approve else CorrectionStatus.REJECTED).value
    request.decided_by_id = caller.id
    request.decision_reason = reason
    request.decided_at = utcnow()
    session.flush()
    return request
