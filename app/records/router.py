from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, or_
from sqlmodel import col, select

from app.auth.deps import AppSettings, CurrentPrincipal
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.orders.models import OrderRating
from app.records import entry
from app.records.ledger import current_state
from app.records.models import CorrectionRequest, CorrectionStatus, ServiceRecord
from app.records.schemas import (
    RULE_DOC,
    AmendmentCreate,
    CorrectionCreate,
    CorrectionDecision,
    CorrectionOut,
    LedgerRowOut,
    OmissionCreate,
    RecordCreate,
    RecordDetailOut,
    RecordOut,
    RecordSummaryOut,
    StarOut,
)
from app.scoring import star_thresholds
from app.scoring.rules import star_standing
from app.volunteers.service import get_visible

router = APIRouter(tags=["records"], responses=PROBLEM_RESPONSES)


@router.get(
    "/volunteers/{volunteer_id}/records",
    response_model=Page[RecordOut],
    description=(
        "Service records (志愿服务记录) and their amendments, in ledger order, each with its "
        "times, place, who recorded it and when, the order or activity, and the order's rating. "
        + RULE_DOC
    ),
)
def list_records(
    volunteer_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
    page: PageQuery,
    since: Annotated[date | None, Query(description="From this service date")] = None,
    until: Annotated[date | None, Query(description="Up to this service date")] = None,
) -> Page[RecordOut]:
    """For the volunteer, admins over their region, and leaders of their teams."""
    volunteer = get_visible(session, caller, volunteer_id)
    stmt = select(ServiceRecord).where(ServiceRecord.volunteer_id == volunteer.id)
    if since is not None:
        stmt = stmt.where(col(ServiceRecord.service_date) >= since)
    if until is not None:
        stmt = stmt.where(col(ServiceRecord.service_date) <= until)
    rows, cursor = paginate(
        session, stmt, key=col(ServiceRecord.id), params=page, parse_key=uuid.UUID
    )
    stars = _ratings(session, rows)
    return Page(
        items=[
            RecordOut(
                id=r.id,
                service_date=r.service_date,
                minutes=r.minutes,
                hours=round(r.minutes / 60, 2),
                category_code=r.category_code,
                team_id=r.team_id,
                order_id=r.order_id,
                activity_id=r.activity_id,
                region_code=r.region_code,
                content=r.content,
                place=r.place,
                started_at=r.started_at,
                ended_at=r.ended_at,
                recorded_by_id=r.recorded_by_id,
                recorded_at=r.created_at,
                source=r.source,
                amends_id=r.amends_id,
                reason=r.reason,
                rating=stars.get(r.order_id) if r.order_id else None,
                rule=settings.service_time_rule,
            )
            for r in rows
        ],
        next_cursor=cursor,
    )


def _ratings(session: DbSession, records: Sequence[ServiceRecord]) -> dict[uuid.UUID, int]:
    """The requester's rating of each order served, read where the rating is kept (records are
    never updated)."""
    orders = {r.order_id for r in records if r.order_id is not None}
    if not orders:
        return {}
    found = session.exec(
        select(OrderRating.order_id, OrderRating.stars).where(col(OrderRating.order_id).in_(orders))
    ).all()
    return dict(found)


@router.get("/volunteers/{volunteer_id}/records/summary", response_model=RecordSummaryOut)
def records_summary(
    volunteer_id: uuid.UUID, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> RecordSummaryOut:
    """Total recorded hours and the star level they make the volunteer eligible for. Granting a
    star (where a jurisdiction reviews applications) is a separate, later step."""
    volunteer = get_visible(session, caller, volunteer_id)
    count, minutes = session.exec(
        select(
            func.count(col(ServiceRecord.id)).filter(col(ServiceRecord.amends_id).is_(None)),
            func.coalesce(func.sum(ServiceRecord.minutes), 0),
        ).where(ServiceRecord.volunteer_id == volunteer.id)
    ).one()
    thresholds = star_thresholds.effective(session, settings, volunteer.region_code).hours
    standing = star_standing(int(minutes), thresholds)
    return RecordSummaryOut(
        rule=settings.service_time_rule,
        volunteer_id=volunteer.id,
        records=int(count),
        total_minutes=int(minutes),
        total_hours=round(int(minutes) / 60, 2),
        star=StarOut(
            eligible_level=standing.level,
            next_level_hours=standing.next_level_hours,
            hours_to_next=standing.hours_to_next,
        ),
        thresholds_hours=list(thresholds),
    )


def _row(record: ServiceRecord, rating: int | None = None) -> LedgerRowOut:
    return LedgerRowOut.model_validate(record, from_attributes=True).model_copy(
        update={"rating": rating}
    )


def _correction(request: CorrectionRequest) -> CorrectionOut:
    return CorrectionOut.model_validate(request, from_attributes=True)


@router.post(
    "/records",
    response_model=LedgerRowOut,
    status_code=201,
    description=(
        "Enter a service record (team leaders for their team, site admins within their region). "
        "Stored in whole minutes. Refused (422, with `code`): a volunteer who is not an approved "
        "member of the team (not_a_member), non-positive hours, a future date (future_date) or "
        "future times (future_times), a date that is not the China date (Asia/Shanghai) of "
        "started_at (date_mismatch), more than 24 hours on one day for one volunteer "
        "(day_limit), times overlapping another live record (overlapping_times). " + RULE_DOC
    ),
)
def create_record(
    body: RecordCreate, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> LedgerRowOut:
    record = entry.create_record(session, settings, caller, body)
    session.commit()
    return _row(record)


@router.get(
    "/records/{record_id}",
    response_model=RecordDetailOut,
    description="A record with its amendments; the original stays as it was entered. " + RULE_DOC,
)
def read_record(
    record_id: uuid.UUID, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> RecordDetailOut:
    record = entry.get_record(session, caller, record_id)
    amendments = entry.amendments_of(session, record)
    state = current_state(session, record)
    rating = _ratings(session, [record]).get(record.order_id) if record.order_id else None
    return RecordDetailOut(
        record=_row(record, rating),
        amendments=[_row(a) for a in amendments],
        effective_minutes=state.minutes,
        effective_hours=round(state.minutes / 60, 2),
        effective_service_date=state.service_date,
        effective_started_at=state.started_at,
        effective_ended_at=state.ended_at,
        effective_category_code=state.category_code,
        effective_content=state.content,
        rule=settings.service_time_rule,
    )


@router.post(
    "/records/{record_id}/amendments",
    response_model=LedgerRowOut,
    status_code=201,
    description=(
        "Correct a record (team leader or site admin): hours, content, date, times or category. "
        "Appended with reason and actor, the original kept; the same rules as a new record are "
        "checked for the corrected record, and the totals follow (a new date moves the minutes "
        "from the old day's periods to the new one's: a `reversal` row, then the amendment). "
        "`hours: 0` voids the record. " + RULE_DOC
    ),
)
def amend_record(
    record_id: uuid.UUID,
    body: AmendmentCreate,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> LedgerRowOut:
    record = entry.get_record(session, caller, record_id)
    amendment = entry.amend_record(session, settings, caller, record, body)
    session.commit()
    return _row(amendment)


@router.post(
    "/records/{record_id}/correction-requests", response_model=CorrectionOut, status_code=201
)
def request_correction(
    record_id: uuid.UUID, body: CorrectionCreate, session: DbSession, caller: CurrentPrincipal
) -> CorrectionOut:
    """The volunteer asks for a correction; the team leader or a site admin decides."""
    record = entry.get_record(session, caller, record_id)
    request = entry.request_correction(session, caller, record, body)
    session.commit()
    return _correction(request)


@router.post(
    "/correction-requests",
    response_model=CorrectionOut,
    status_code=201,
    description=(
        "A volunteer asks for a service that was not recorded to be added (补录): date, hours "
        "(and times), content, the team and optionally the activity. The team leader or a site "
        "admin over the team decides; approval lands the record with every rule of a new record "
        "(`record_id` is then the record), rejection keeps the request and its reason. " + RULE_DOC
    ),
)
def request_omission(
    body: OmissionCreate, session: DbSession, caller: CurrentPrincipal
) -> CorrectionOut:
    request = entry.request_omission(session, caller, body)
    session.commit()
    return _correction(request)


@router.get("/correction-requests", response_model=Page[CorrectionOut])
def list_corrections(
    session: DbSession,
    caller: CurrentPrincipal,
    page: PageQuery,
    status_: Annotated[CorrectionStatus | None, Query(alias="status")] = None,
) -> Page[CorrectionOut]:
    """Requests the caller may decide (their teams', their region's) and their own."""
    reach = or_(
        col(CorrectionRequest.requested_by_id) == caller.id,
        caller.admin_scope.filter(col(CorrectionRequest.region_code)),
        col(CorrectionRequest.team_id).in_(caller.led_team_ids or [uuid.UUID(int=0)]),
    )
    stmt = select(CorrectionRequest).where(reach)
    if status_ is not None:
        stmt = stmt.where(CorrectionRequest.status == status_.value)
    rows, cursor = paginate(
        session, stmt, key=col(CorrectionRequest.id), params=page, parse_key=uuid.UUID
    )
    return Page(items=[_correction(r) for r in rows], next_cursor=cursor)


def _decide(
    request_id: uuid.UUID,
    body: CorrectionDecision,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
    *,
    approve: bool,
) -> CorrectionOut:
    request = entry.get_correction(session, caller, request_id)
    entry.decide_correction(session, settings, caller, request, approve=approve, reason=body.reason)
    session.commit()
    return _correction(request)


@router.post("/correction-requests/{request_id}/approve", response_model=CorrectionOut)
def approve_correction(
    request_id: uuid.UUID,
    body: CorrectionDecision,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> CorrectionOut:
    """Approve: the correction is written as an amendment of the record; an omission lands as
    a new record."""
    return _decide(request_id, body, session, settings, caller, approve=True)


@router.post("/correction-requests/{request_id}/reject", response_model=CorrectionOut)
def reject_correction(
    request_id: uuid.UUID,
    body: CorrectionDecision,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> CorrectionOut:
    """Reject, with a reason the volunteer sees."""
    return _decide(request_id, body, session, settings, caller, approve=False)
