from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime
from sqlmodel import col, select

from app.activities import export, queries, service
from app.activities.models import Activity, ActivitySignup, ActivityStatus
from app.activities.schemas import (
    ActivityCreate,
    ActivityOut,
    ActivityReport,
    Cancellation,
    CheckIn,
    Confirmation,
    Roster,
    SignupOut,
    TeamWithoutActivity,
)
from app.auth.deps import AnyAdmin, AppSettings, CurrentPrincipal
from app.auth.principal import Principal
from app.common.clock import utcnow
from app.common.pagination import Page, PageQuery, paginate
from app.config import Settings
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.regions.queries import get_region
from app.regions.scope import RegionScope
from app.teams.service import get_team
from app.volunteers.models import Volunteer

router = APIRouter(tags=["activities"], responses=PROBLEM_RESPONSES)


def report_due_at(settings: Settings, activity: Activity) -> datetime:
    return activity.ends_at + timedelta(days=settings.activity_report_days)


def _out(
    session: DbSession, settings: Settings, activity: Activity, caller: Principal | None = None
) -> ActivityOut:
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
    due = report_due_at(settings, activity)
    overdue = (
        activity.filed_at is None
        and activity.status != ActivityStatus.CANCELLED.value
        and utcnow() > due
    )
    return ActivityOut(**data, report_due_at=due, report_overdue=overdue, my_signup=mine)


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
    team_id: uuid.UUID,
    body: ActivityCreate,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> ActivityOut:
    """The team leader (or a site admin over the team) publishes an activity, on its own or for
    an order the team holds: its members sign up until the deadline."""
    activity = service.publish(session, caller, team_id, body)
    session.commit()
    return _out(session, settings, activity, caller)


@router.get("/activities", response_model=Page[ActivityOut])
def list_activities(
    session: DbSession,
    settings: AppSettings,
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
    return Page(items=[_out(session, settings, a, caller) for a in rows], next_cursor=cursor)


def _admin_scope(session: DbSession, admin: Principal, region: str | None) -> RegionScope:
    if region is None:
        return admin.admin_scope
    return admin.admin_scope.narrowed_to(get_region(session, region).code)


@router.get("/activities/overdue-teams", response_model=list[TeamWithoutActivity])
def overdue_teams(
    session: DbSession,
    admin: AnyAdmin,
    region: Annotated[str | None, Query(description="Narrow to a region's subtree")] = None,
    month: Annotated[
        str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM, China time")
    ] = None,
) -> list[TeamWithoutActivity]:
    """Active teams in the admin's region without a confirmed activity in the month (default:
    this month): each team is expected to hold at least one a month."""
    rows = queries.teams_without_activity(
        session, _admin_scope(session, admin, region), month or queries.this_month()
    )
    return [
        TeamWithoutActivity(
            team_id=team.id, name=team.name, region_code=team.region_code, last_activity_at=last
        )
        for team, last in rows
    ]


@router.get("/activities/overdue-reports", response_model=list[ActivityOut])
def overdue_reports(
    session: DbSession,
    settings: AppSettings,
    admin: AnyAdmin,
    region: Annotated[str | None, Query(description="Narrow to a region's subtree")] = None,
    team_id: uuid.UUID | None = None,
) -> list[ActivityOut]:
    """Activities in the admin's region whose record (志愿服务活动记录表) was not filed within
    `DIANDAN_ACTIVITY_REPORT_DAYS` after they ended."""
    scope = _admin_scope(session, admin, region)
    rows = queries.reports_overdue(session, scope, settings.activity_report_days, team_id)
    return [_out(session, settings, a) for a in rows]


@router.get("/activities/{activity_id}", response_model=ActivityOut)
def read_activity(
    activity_id: uuid.UUID, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> ActivityOut:
    return _out(session, settings, service.get_activity(session, activity_id), caller)


@router.post("/activities/{activity_id}/signups", response_model=ActivityOut, status_code=201)
def sign_up(
    activity_id: uuid.UUID, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> ActivityOut:
    """An approved member of the team takes a place, while places last (never more than the
    capacity, however many sign up at once)."""
    activity = service.get_activity(session, activity_id)
    service.sign_up(session, caller, activity)
    session.commit()
    session.refresh(activity)
    return _out(session, settings, activity, caller)


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
    activity_id: uuid.UUID,
    body: ActivityReport,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> ActivityOut:
    """File the activity record (志愿服务活动记录表)."""
    activity = service.file_report(
        session, caller, service.get_activity(session, activity_id), body
    )
    session.commit()
    return _out(session, settings, activity, caller)


@router.post("/activities/{activity_id}/cancel", response_model=ActivityOut)
def cancel_activity(
    activity_id: uuid.UUID,
    body: Cancellation,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> ActivityOut:
    """The team leader or a site admin over the team calls the activity off, with a reason;
    everyone signed up is notified. Refused (409) once attendance is confirmed."""
    activity = service.get_activity(session, activity_id)
    service.cancel(session, caller, activity, body.reason)
    session.commit()
    return _out(session, settings, activity, caller)


@router.get(
    "/activities/{activity_id}/report",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def export_report(
    activity_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
    format_: Annotated[str, Query(alias="format", pattern="^(json|csv)$")] = "json",
) -> Response:
    """The activity record as JSON or CSV (Chinese headers), with its filing deadline and its
    attendance: each volunteer, check-in and check-out, recorded hours."""
    activity = service.get_activity(session, activity_id)
    service.require_manager(caller, get_team(session, activity.team_id))
    record = export.record_of(session, activity, report_due_at(settings, activity))
    attendance = export.attendance_of(session, activity, _signups(session, activity))
    if format_ == "json":
        return Response(export.as_json(record, attendance), media_type="application/json")
    return Response(
        export.as_csv(record, attendance),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="activity-{activity.id}.csv"'},
    )
