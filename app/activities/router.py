from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime
from sqlalchemy import func
from sqlmodel import col, select

from app.activities import service
from app.activities.models import Activity, ActivitySignup
from app.activities.schemas import (
    ActivityCreate,
    ActivityOut,
    ActivityReport,
    CheckIn,
    Confirmation,
    Roster,
    SignupOut,
)
from app.auth.deps import AppSettings, CurrentPrincipal
from app.auth.principal import Principal
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.records.models import ServiceRecord
from app.regions.queries import get_region
from app.regions.scope import RegionScope
from app.teams.service import get_team
from app.volunteers.models import Volunteer

router = APIRouter(tags=["activities"], responses=PROBLEM_RESPONSES)


def _out(session: DbSession, activity: Activity, caller: Principal | None = None) -> ActivityOut:
    mine = None
    if caller is not None and caller.volunteer is not None:
        mine = session.exec(
            select(ActivitySignup.status).where(
                ActivitySignup.activity_id == activity.id,
                ActivitySignup.volunteer_id == caller.volunteer.id,
            )
        ).first()
    data = {k: getattr(activity, k) for k in ActivityOut.model_fields if hasattr(activity, k)}
    data["location"] = activity.location()
    return ActivityOut(**data, my_signup=mine)


def _signups(session: DbSession, activity: Activity) -> list[SignupOut]:
    rows = session.exec(
        select(ActivitySignup, Volunteer.real_name)
        .join(Volunteer, col(Volunteer.id) == col(ActivitySignup.volunteer_id))
        .where(ActivitySignup.activity_id == activity.id)
        .order_by(col(ActivitySignup.created_at))
    ).all()
    return [
        SignupOut(volunteer_id=s.volunteer_id, name=name, status=s.status,
                  checked_in_at=s.checked_in_at, checked_out_at=s.checked_out_at,
                  check_in_by=s.check_in_by)
        for s, name in rows
    ]  # fmt: skip


def _mine(session: DbSession, activity: Activity, caller: Principal) -> SignupOut:
    assert caller.volunteer is not None  # checked in: a volunteer
    return next(s for s in _signups(session, activity) if s.volunteer_id == caller.volunteer.id)


@router.post("/teams/{team_id}/activities", response_model=ActivityOut, status_code=201)
def publish_activity(
    team_id: uuid.UUID, body: ActivityCreate, session: DbSession, caller: CurrentPrincipal
) -> ActivityOut:
    """The team leader (or a site admin over the team) publishes an activity, on its own or for
    an order the team holds: its members sign up until the deadline."""
    activity = service.publish(session, caller, team_id, body)
    session.commit()
    return _out(session, activity, caller)


@router.get("/activities", response_model=Page[ActivityOut])
def list_activities(
    session: DbSession,
    caller: CurrentPrincipal,
    page: PageQuery,
    region: Annotated[str | None, Query(description="A region's subtree")] = None,
    team_id: uuid.UUID | None = None,
    starting_after: AwareDatetime | None = None,
) -> Page[ActivityOut]:
    """Activities to join or look back on (any signed-in user: they are public notices)."""
    stmt = select(Activity)
    if region is not None:
        scope = RegionScope.of([get_region(session, region).code])
        stmt = stmt.where(scope.filter(col(Activity.region_code)))
    if team_id is not None:
        stmt = stmt.where(Activity.team_id == team_id)
    if starting_after is not None:
        stmt = stmt.where(col(Activity.starts_at) > starting_after)
    rows, cursor = paginate(session, stmt, key=col(Activity.id), params=page, parse_key=uuid.UUID)
    return Page(items=[_out(session, a, caller) for a in rows], next_cursor=cursor)


@router.get("/activities/{activity_id}", response_model=ActivityOut)
def read_activity(
    activity_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal
) -> ActivityOut:
    return _out(session, service.get_activity(session, activity_id), caller)


@router.post("/activities/{activity_id}/signups", response_model=ActivityOut, status_code=201)
def sign_up(activity_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal) -> ActivityOut:
    """An approved member of the team takes a place, while places last (never more than the
    capacity, however many sign up at once)."""
    activity = service.get_activity(session, activity_id)
    service.sign_up(session, caller, activity)
    session.commit()
    session.refresh(activity)
    return _out(session, activity, caller)


@router.delete("/activities/{activity_id}/signups/me", status_code=204)
def cancel_signup(activity_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal) -> Response:
    service.cancel_signup(session, caller, service.get_activity(session, activity_id))
    session.commit()
    return Response(status_code=204)


def _check(
    activity_id: uuid.UUID,
    body: CheckIn,
    session: DbSession,
    settings: AppSettings,
    caller: Principal,
    *,
    out: bool,
) -> SignupOut:
    activity = service.get_activity(session, activity_id)
    service.check(session, settings, caller, activity, body.location, out=out)
    session.commit()
    return _mine(session, activity, caller)


@router.post("/activities/{activity_id}/check-in", response_model=SignupOut)
def check_in(
    activity_id: uuid.UUID,
    body: CheckIn,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> SignupOut:
    """On the phone, from an hour before the start, within `DIANDAN_ACTIVITY_CHECKIN_METERS`."""
    return _check(activity_id, body, session, settings, caller, out=False)


@router.post("/activities/{activity_id}/check-out", response_model=SignupOut)
def check_out(
    activity_id: uuid.UUID,
    body: CheckIn,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> SignupOut:
    """On the phone, until two hours after the end, within the same distance."""
    return _check(activity_id, body, session, settings, caller, out=True)


@router.get("/activities/{activity_id}/signups", response_model=list[SignupOut])
def list_signups(
    activity_id: uuid.UUID, session: DbSession, caller: CurrentPrincipal
) -> list[SignupOut]:
    """Who signed up and who came (the team leader and site admins over the team)."""
    activity = service.get_activity(session, activity_id)
    service.require_manager(caller, get_team(session, activity.team_id))
    return _signups(session, activity)


@router.post("/activities/{activity_id}/roster", response_model=list[SignupOut])
def mark_roster(
    activity_id: uuid.UUID, body: Roster, session: DbSession, caller: CurrentPrincipal
) -> list[SignupOut]:
    """The leader checks people in by roster (for those without a phone, or without a place)."""
    activity = service.get_activity(session, activity_id)
    service.roster(session, caller, activity, body)
    session.commit()
    return _signups(session, activity)


@router.post("/activities/{activity_id}/confirm")
def confirm_attendance(
    activity_id: uuid.UUID,
    body: Confirmation,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> dict[str, int]:
    """Confirm attendance: each attendee gets a service record (their checked time within the
    activity, or the hours given), through the ledger's rules, all or nothing."""
    activity = service.get_activity(session, activity_id)
    written = service.confirm(session, settings, caller, activity, body)
    session.commit()
    return {"records": written}


@router.put("/activities/{activity_id}/report", response_model=ActivityOut)
def file_report(
    activity_id: uuid.UUID, body: ActivityReport, session: DbSession, caller: CurrentPrincipal
) -> ActivityOut:
    """File the activity record (志愿服务活动记录表)."""
    activity = service.file_report(
        session, caller, service.get_activity(session, activity_id), body
    )
    session.commit()
    return _out(session, activity, caller)


REPORT_FIELDS = [
    ("title", "活动名称"), ("organiser", "组织单位"), ("leading_official", "带队领导"),
    ("starts_at", "开始时间"), ("ends_at", "结束时间"), ("place", "活动地点"),
    ("party_members", "参加党员人数"), ("unit_party_members", "本单位党员总数"),
    ("volunteers", "参加志愿者人数"), ("total_hours", "服务总时长"), ("report", "服务内容"),
    ("photo_url", "活动照片"), ("notes", "备注"), ("filed_at", "填报时间"),
]  # fmt: skip


@router.get(
    "/activities/{activity_id}/report",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def export_report(
    activity_id: uuid.UUID,
    session: DbSession,
    caller: CurrentPrincipal,
    format_: Annotated[str, Query(alias="format", pattern="^(json|csv)$")] = "json",
) -> Response:
    """The activity record as JSON or CSV (Chinese headers), with its attendance and hours."""
    activity = service.get_activity(session, activity_id)
    service.require_manager(caller, get_team(session, activity.team_id))
    volunteers, minutes = session.exec(
        select(
            func.count(func.distinct(ServiceRecord.volunteer_id)),
            func.coalesce(func.sum(ServiceRecord.minutes), 0),
        ).where(col(ServiceRecord.activity_id) == activity.id)
    ).one()
    record: dict[str, Any] = {name: getattr(activity, name, None) for name, _ in REPORT_FIELDS}
    record |= {"volunteers": int(volunteers), "total_hours": round(int(minutes) / 60, 2)}
    record = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in record.items()}
    if format_ == "json":
        attendance = [s.model_dump(mode="json") for s in _signups(session, activity)]
        body = json.dumps({"record": record, "attendance": attendance}, ensure_ascii=False)
        return Response(body, media_type="application/json")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for _, label in REPORT_FIELDS])
    writer.writerow(["" if record[name] is None else record[name] for name, _ in REPORT_FIELDS])
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="activity-{activity.id}.csv"'},
    )
