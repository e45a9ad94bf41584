"""Manual records, amendments and correction requests: who may, and the transactions."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.activities.models import Activity
from app.audit.service import record as audit
from app.auth.principal import Principal
from app.catalog.service import category_exists
from app.common.clock import utcnow
from app.common.refcache import cached
from app.config import Settings
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.records.ledger import Correction, RecordDraft, amend, land_records
from app.records.models import CorrectionRequest, CorrectionStatus, RecordSource, ServiceRecord
from app.records.schemas import (
    AmendmentCreate,
    CorrectionCreate,
    CorrectionFields,
    OmissionCreate,
    RecordCreate,
)
from app.teams.models import Team, TeamMember
from app.teams.service import get_team
from app.volunteers.models import Volunteer
from app.volunteers.service import can_see


def to_minutes(hours: float) -> int:
    return math.floor(hours * 60 + 0.5)


class TeamRef(NamedTuple):
    id: uuid.UUID
    region_code: str


_TEAM_REF = sa_select(col(Team.id), col(Team.region_code)).where(col(Team.id) == bindparam("id"))


def _team_ref(session: Session, team_id: uuid.UUID) -> TeamRef:
    """What entering a record needs of the team, without loading the row (`get_team`);
    remembered for a few seconds (`refcache`)."""

    def load() -> TeamRef:
        row = session.connection().execute(_TEAM_REF, {"id": team_id}).first()
        if row is None:  # raised, not remembered: the team may be created a moment later
            raise NotFound("未找到该服务队 / no such team", code="team_not_found")
        return TeamRef(row[0], row[1])

    return cached(session, team_id, load, cache="team_cache")


def may_record_for(caller: Principal, team: Team | TeamRef) -> bool:
    return team.id in caller.led_team_ids or caller.admin_scope.covers(team.region_code)


def _require_recorder(caller: Principal, team: Team | TeamRef) -> None:
    if not may_record_for(caller, team):
        raise Forbidden(
            "只有队长或辖区管理员可以录入或更正记录 / only the team leader or a site admin",
            code="not_record_keeper",
        )


def _recorder_check(session: Session, caller: Principal, team_id: uuid.UUID) -> None:
    """Refuse a caller who may not record for the team. A leader of the team, or an admin of
    every region, may whatever its region: the team is then not read here (its region comes
    with the membership check, and an unknown team is refused there)."""
    if team_id in caller.led_team_ids or caller.admin_scope.everything:
        return
    _require_recorder(caller, _team_ref(session, team_id))


def create_record(
    session: Session, settings: Settings, caller: Principal, data: RecordCreate
) -> ServiceRecord:
    _recorder_check(session, caller, data.team_id)
    _known_category(session, data.category_code)
    minutes = to_minutes(data.hours)
    _hours_within_times(minutes, data.started_at, data.ended_at)
    [record] = land_records(
        session,
        settings,
        [
            RecordDraft(
                volunteer_id=data.volunteer_id,
                team_id=data.team_id,
                category_code=data.category_code,
                region_code=None,  # the team's
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


def _known_category(session: Session, code: str | None) -> None:
    if code is not None and not category_exists(session, code):
        raise Invalid("未知的服务类别 / unknown category", code="unknown_category")


def _hours_within_times(minutes: int, started: datetime | None, ended: datetime | None) -> None:
    if started and ended and minutes > (ended - started).total_seconds() / 60 + 0.5:
        raise Invalid(
            "服务时长超过起止时间 / hours exceed the time between start and end",
            code="hours_exceed_times",
        )


def _correction(data: CorrectionFields) -> Correction:
    return Correction(
        minutes=None if data.hours is None else to_minutes(data.hours),
        content=data.content,
        service_date=data.service_date,
        started_at=data.started_at,
        ended_at=data.ended_at,
        category_code=data.category_code,
    )


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
    _known_category(session, data.category_code)
    rows = amend(
        session, settings, record, _correction(data), reason=data.reason, actor_id=caller.id
    )
    audit(
        session,
        actor_id=caller.id,
        action="record.amend",
        subject_type="service_record",
        subject_id=record.id,
        detail={
            "change_minutes": str(sum(r.minutes for r in rows)),
            "service_date": rows[-1].service_date.isoformat(),
            "reason": data.reason[:200],
        },
    )
    return rows[-1]


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
    change = _correction(data)
    if change == Correction():
        raise Invalid("请说明更正内容 / say what should change", code="nothing_to_amend")
    _known_category(session, data.category_code)
    team = get_team(session, record.team_id)
    request = CorrectionRequest(
        record_id=record.id,
        volunteer_id=record.volunteer_id,
        team_id=team.id,
        region_code=team.region_code,
        requested_by_id=caller.id,
        minutes=change.minutes,
        content=change.content,
        category_code=change.category_code,
        service_date=change.service_date,
        started_at=change.started_at,
        ended_at=change.ended_at,
        reason=data.reason,
    )
    session.add(request)
    session.flush()
    return request


def request_omission(
    session: Session, caller: Principal, data: OmissionCreate
) -> CorrectionRequest:
    """A volunteer asks for a service that was not recorded to be added (补录). Checked again,
    with every rule of the ledger, when it is approved."""
    volunteer = session.exec(select(Volunteer).where(Volunteer.user_id == caller.id)).first()
    if volunteer is None:
        raise Forbidden(
            "只有志愿者可以申请补录 / only a volunteer may ask for a missing record",
            code="not_a_volunteer",
        )
    team = get_team(session, data.team_id)
    member = session.exec(
        select(TeamMember.volunteer_id).where(
            TeamMember.team_id == team.id, TeamMember.volunteer_id == volunteer.id
        )
    ).first()
    if member is None:
        raise Forbidden(
            "只能为所在队伍的服务申请补录 / only for a service with your own team",
            code="not_team_member",
        )
    category = data.category_code
    if data.activity_id is not None:
        activity = session.get(Activity, data.activity_id)
        if activity is None or activity.team_id != team.id:
            raise NotFound("未找到该活动 / no such activity of the team", code="activity_not_found")
        category = category or activity.category_code
    if category is None:
        raise Invalid("请选择服务类别 / choose a category", code="category_required")
    _known_category(session, category)
    minutes = to_minutes(data.hours)
    _hours_within_times(minutes, data.started_at, data.ended_at)
    request = CorrectionRequest(
        omission=True,
        volunteer_id=volunteer.id,
        team_id=team.id,
        region_code=team.region_code,
        activity_id=data.activity_id,
        requested_by_id=caller.id,
        minutes=minutes,
        content=data.content,
        category_code=category,
        service_date=data.service_date,
        started_at=data.started_at,
        ended_at=data.ended_at,
        place=data.place,
        reason=data.reason,
    )
    session.add(request)
    session.flush()
    return request


def get_correction(session: Session, caller: Principal, request_id: uuid.UUID) -> CorrectionRequest:
    """A request its volunteer, the team's leaders and admins over the team may see; others
    get 404."""
    request = session.get(CorrectionRequest, request_id)
    if request is not None:
        team = session.get(Team, request.team_id)
        if request.requested_by_id == caller.id or (
            team is not None and may_record_for(caller, team)
        ):
            return request
    raise NotFound("未找到该更正申请 / no such correction request", code="correction_not_found")


def _land_omission(
    session: Session, settings: Settings, caller: Principal, request: CorrectionRequest
) -> ServiceRecord:
    assert request.category_code is not None
    assert request.service_date is not None
    assert request.minutes is not None
    activity = None if request.activity_id is None else session.get(Activity, request.activity_id)
    team = get_team(session, request.team_id)
    [record] = land_records(
        session,
        settings,
        [
            RecordDraft(
                volunteer_id=request.volunteer_id,
                team_id=team.id,
                category_code=request.category_code,
                region_code=activity.region_code if activity else team.region_code,
                service_date=request.service_date,
                minutes=request.minutes,
                content=request.content or "",
                recorded_by_id=caller.id,
                source=RecordSource.ACTIVITY if activity else RecordSource.MANUAL,
                activity_id=activity.id if activity else None,
                order_id=activity.order_id if activity else None,
                started_at=request.started_at,
                ended_at=request.ended_at,
                place=request.place or "",
            )
        ],
    )
    return record


def decide_correction(
    session: Session,
    settings: Settings,
    caller: Principal,
    request: CorrectionRequest,
    *,
    approve: bool,
    reason: str | None,
) -> CorrectionRequest:
    """Approving writes the amendment (for an omission: lands the record); both the request
    and the decision are kept."""
    _require_recorder(caller, get_team(session, request.team_id))
    if request.status != CorrectionStatus.PENDING.value:
        raise Conflict(
            "该申请已处理 / already decided", code="already_decided", current_state=request.status
        )
    if approve and request.omission:
        request.record_id = _land_omission(session, settings, caller, request).id
    elif approve:
        record = session.get(ServiceRecord, request.record_id)
        assert record is not None
        rows = amend(
            session,
            settings,
            record,
            Correction(
                minutes=request.minutes,
                content=request.content,
                service_date=request.service_date,
                started_at=request.started_at,
                ended_at=request.ended_at,
                category_code=request.category_code,
            ),
            reason=f"更正申请 / correction request: {request.reason}"[:500],
            actor_id=caller.id,
        )
        request.amendment_id = rows[-1].id
    elif not reason:
        raise Invalid("驳回须说明理由 / a rejection needs a reason", code="reason_required")
    request.status = (CorrectionStatus.APPROVED if approve else CorrectionStatus.REJECTED).value
    request.decided_by_id = caller.id
    request.decision_reason = reason
    request.decided_at = utcnow()
    session.flush()
    return request
