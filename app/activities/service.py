"""Activities: publishing, sign-up (capacity held by compare-and-set), check-in on the phone
within `DIANDAN_ACTIVITY_CHECKIN_METERS` of the place or by the leader's roster, and the
confirmation that turns attendance into service records through the ledger."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.activities.models import Activity, ActivitySignup, ActivityStatus, SignupStatus
from app.activities.schemas import (
    ActivityCreate,
    ActivityReport,
    Attendance,
    Confirmation,
    Roster,
)
from app.auth.principal import Principal
from app.catalog.service import category_exists
from app.common.clock import utcnow
from app.common.geo import haversine_km
from app.common.location import Location, location_columns
from app.config import Settings
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.notifications.outbox import notify
from app.orders.models import Order
from app.orders.states import OrderStatus
from app.records.entry import may_record_for
from app.records.ledger import RecordDraft, china_date, land_records
from app.records.models import RecordSource
from app.scoring import team_stats
from app.sync.capture import report_core_write
from app.teams.models import Team
from app.teams.service import get_team
from app.volunteers.models import Volunteer

CHECK_IN_OPENS = timedelta(hours=1)  # before the start
CHECK_OUT_CLOSES = timedelta(hours=2)  # after the end


def require_manager(caller: Principal, team: Team) -> None:
    if not may_record_for(caller, team):
        raise Forbidden(
            "只有队长或辖区管理员可以管理活动 / only the team leader or a site admin",
            code="not_activity_manager",
        )


def publish(
    session: Session, caller: Principal, team_id: uuid.UUID, data: ActivityCreate
) -> Activity:
    team = get_team(session, team_id)
    require_manager(caller, team)
    if not category_exists(session, data.category_code):
        raise Invalid("未知的服务类别 / unknown category", code="unknown_category")
    now = utcnow()
    deadline = data.signup_deadline or data.starts_at
    if data.ends_at <= data.starts_at:
        raise Invalid("结束时间须晚于开始时间 / ends_at must follow starts_at", code="bad_times")
    if data.ends_at - data.starts_at > timedelta(hours=24):
        raise Invalid("单次活动不超过24小时 / at most 24 hours", code="too_long")
    if data.starts_at <= now or deadline > data.starts_at:
        raise Invalid(
            "开始时间须在将来,报名截止不晚于开始 / start in the future, sign-up closing by then",
            code="bad_times",
        )
    if data.order_id is not None:
        _require_held_order(session, team, data.order_id)
    activity = Activity(
        team_id=team.id,
        order_id=data.order_id,
        region_code=team.region_code,
        title=data.title,
        category_code=data.category_code,
        description=data.description,
        place=data.place,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        signup_deadline=deadline,
        capacity=data.capacity,
        created_by_id=caller.id,
        **location_columns(data.location),
    )
    session.add(activity)
    session.flush()
    return activity


HOLDING = frozenset({OrderStatus.ACCEPTED.value, OrderStatus.IN_SERVICE.value})


def _require_held_order(session: Session, team: Team, order_id: uuid.UUID) -> None:
    """An activity serves an order only while the publishing team holds it (accepted or in
    service)."""
    order = session.get(Order, order_id)
    if order is None:
        raise Invalid("未找到该点单 / no such order", code="order_not_found")
    if order.team_id not in (None, team.id):
        raise Forbidden("该点单不由本队承接 / the order is not this team's", code="not_team_order")
    if order.status not in HOLDING:
        raise Conflict(
            "点单须已接单或服务中 / the order must be accepted or in service",
            code="order_not_held",
            current_state=order.status,
        )


def get_activity(session: Session, activity_id: uuid.UUID) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound("未找到该活动 / no such activity", code="activity_not_found")
    return activity


def _open(activity: Activity, now: datetime) -> None:
    if activity.status != ActivityStatus.PUBLISHED.value:
        raise Conflict("活动不在报名中 / not open", code="not_open", current_state=activity.status)
    if now > activity.signup_deadline:
        raise Conflict(
            "报名已截止 / sign-up has closed", code="signup_closed", current_state="closed"
        )


def _signup_of(
    session: Session, activity: Activity, volunteer_id: uuid.UUID
) -> ActivitySignup | None:
    return session.exec(
        select(ActivitySignup).where(
            ActivitySignup.activity_id == activity.id, ActivitySignup.volunteer_id == volunteer_id
        )
    ).first()


def sign_up(session: Session, caller: Principal, activity: Activity) -> ActivitySignup:
    volunteer = caller.approved_volunteer
    if volunteer is None or activity.team_id not in caller.member_team_ids:
        raise Forbidden(
            "只有本队已审核的志愿者可以报名 / approved members of the team only",
            code="not_a_member",
        )
    _open(activity, utcnow())
    existing = _signup_of(session, activity, volunteer.id)
    if existing is not None and existing.status == SignupStatus.SIGNED_UP.value:
        raise Conflict(
            "已报名 / already signed up", code="already_signed_up", current_state="signed_up"
        )
    taken = session.execute(
        update(Activity)
        .where(col(Activity.id) == activity.id, col(Activity.signed_up) < col(Activity.capacity))
        .values(signed_up=col(Activity.signed_up) + 1)
    ).rowcount  # type: ignore[attr-defined]
    if not taken:
        raise Conflict(
            "名额已满 / the activity is full", code="activity_full", current_state="full"
        )
    report_core_write(session, Activity, [activity.id], fields=["signed_up"])
    if existing is None:
        existing = ActivitySignup(activity_id=activity.id, volunteer_id=volunteer.id)
    existing.status = SignupStatus.SIGNED_UP.value
    session.add(existing)
    session.flush()
    return existing


def cancel_signup(session: Session, caller: Principal, activity: Activity) -> None:
    volunteer = caller.approved_volunteer
    signup = _signup_of(session, activity, volunteer.id) if volunteer else None
    if signup is None or signup.status != SignupStatus.SIGNED_UP.value:
        raise NotFound("未报名该活动 / not signed up", code="signup_not_found")
    _open(activity, utcnow())
    moved = session.execute(
        update(ActivitySignup)
        .where(
            col(ActivitySignup.id) == signup.id,
            col(ActivitySignup.status) == SignupStatus.SIGNED_UP.value,
        )
        .values(status=SignupStatus.CANCELLED.value)
    ).rowcount  # type: ignore[attr-defined]
    if moved:
        session.execute(
            update(Activity)
            .where(col(Activity.id) == activity.id)
            .values(signed_up=col(Activity.signed_up) - 1)
        )
        report_core_write(session, Activity, [activity.id], fields=["signed_up"])
    session.flush()


def _distance_m(activity: Activity, where: Location) -> float:
    assert activity.wgs_lat is not None
    assert activity.wgs_lng is not None
    point = location_columns(where)
    return (
        haversine_km(activity.wgs_lat, activity.wgs_lng, point["wgs_lat"], point["wgs_lng"]) * 1000
    )


def check(
    session: Session,
    settings: Settings,
    caller: Principal,
    activity: Activity,
    where: Location,
    *,
    out: bool,
) -> ActivitySignup:
    """Check in (or out) on the phone: signed up, in the time window, near enough."""
    volunteer = caller.approved_volunteer
    signup = _signup_of(session, activity, volunteer.id) if volunteer else None
    if signup is None or signup.status != SignupStatus.SIGNED_UP.value:
        raise Forbidden("未报名该活动 / not signed up", code="not_signed_up")
    if activity.status != ActivityStatus.PUBLISHED.value:
        raise Conflict(
            "活动已结束确认 / already confirmed", code="not_open", current_state=activity.status
        )
    now = utcnow()
    if (
        not activity.starts_at - CHECK_IN_OPENS
        <= now
        <= activity.ends_at + (CHECK_OUT_CLOSES if out else timedelta())
    ):
        raise Conflict(
            "不在签到时间内 / outside the check-in window",
            code="outside_window",
            current_state="closed",
        )
    if activity.wgs_lat is None:
        raise Conflict(
            "该活动未设地点坐标,请由队长点名 / no location: the leader's roster only",
            code="no_location",
            current_state="roster_only",
        )
    distance = _distance_m(activity, where)
    if distance > settings.activity_checkin_meters:
        raise Invalid(
            f"距活动地点{math.floor(distance)}米 / {math.floor(distance)} m from the place, "
            f"more than {settings.activity_checkin_meters} m",
            code="too_far",
            distance_m=math.floor(distance),
        )
    if out:
        if signup.checked_in_at is None:
            raise Conflict(
                "请先签到 / check in first", code="not_checked_in", current_state="signed_up"
            )
        signup.checked_out_at = now
    else:
        signup.checked_in_at = signup.checked_in_at or now
        signup.check_in_by = "phone"
        signup.lat, signup.lng = where.lat, where.lng
        signup.coord_system = where.coord_system.value
    session.add(signup)
    session.flush()
    return signup


def roster(
    session: Session, caller: Principal, activity: Activity, data: Roster
) -> list[ActivitySignup]:
    """The leader marks who came (times default to the activity's)."""
    require_manager(caller, get_team(session, activity.team_id))
    if activity.status != ActivityStatus.PUBLISHED.value:
        raise Conflict(
            "活动已确认 / already confirmed", code="not_open", current_state=activity.status
        )
    marked = []
    for entry in data.entries:
        signup = _signup_of(session, activity, entry.volunteer_id)
        if signup is None or signup.status != SignupStatus.SIGNED_UP.value:
            raise Invalid(
                "该志愿者未报名 / not signed up",
                code="not_signed_up",
                volunteer_id=str(entry.volunteer_id),
            )
        signup.checked_in_at = entry.checked_in_at or activity.starts_at
        signup.checked_out_at = entry.checked_out_at or activity.ends_at
        signup.check_in_by = "roster"
        session.add(signup)
        marked.append(signup)
    session.flush()
    return marked


def confirm(
    session: Session, settings: Settings, caller: Principal, activity: Activity, data: Confirmation
) -> int:
    """Turn attendance into service records (one per volunteer), in one transaction."""
    require_manager(caller, get_team(session, activity.team_id))
    now = utcnow()
    if now < activity.starts_at:
        raise Conflict(
            "活动尚未开始 / not started yet", code="not_started", current_state=activity.status
        )
    moved = session.execute(
        update(Activity)
        .where(
            col(Activity.id) == activity.id, col(Activity.status) == ActivityStatus.PUBLISHED.value
        )
        .values(status=ActivityStatus.CONFIRMED.value, confirmed_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if not moved:
        raise Conflict(
            "活动已确认或取消 / already confirmed or cancelled",
            code="not_open",
            current_state=activity.status,
        )
    report_core_write(session, Activity, [activity.id], fields=["status", "confirmed_at"])
    signups = {
        s.volunteer_id: s
        for s in session.exec(
            select(ActivitySignup).where(
                ActivitySignup.activity_id == activity.id,
                ActivitySignup.status == SignupStatus.SIGNED_UP.value,
            )
        )
    }
    wanted = data.attendance or [
        Attendance(volunteer_id=v) for v, s in signups.items() if s.checked_in_at is not None
    ]
    drafts = []
    for item in wanted:
        volunteer_id, hours = item.volunteer_id, item.hours
        signup = signups.get(volunteer_id)
        if signup is None:
            raise Invalid(
                "该志愿者未报名 / not signed up",
                code="not_signed_up",
                volunteer_id=str(volunteer_id),
            )
        start = max(signup.checked_in_at or activity.starts_at, activity.starts_at)
        end = min(signup.checked_out_at or activity.ends_at, activity.ends_at)
        minutes = (
            math.floor(hours * 60 + 0.5)
            if hours is not None
            else math.floor((end - start).total_seconds() / 60)
        )
        if minutes <= 0:
            raise Invalid(
                "出勤时长为零 / no time attended",
                code="non_positive_hours",
                volunteer_id=str(volunteer_id),
            )
        drafts.append(
            RecordDraft(
                volunteer_id=volunteer_id,
                team_id=activity.team_id,
                category_code=activity.category_code,
                region_code=activity.region_code,
                # The day the volunteer's service started (a record's date agrees with its start).
                service_date=china_date(start if hours is None else activity.starts_at),
                minutes=minutes,
                content=activity.title,
                recorded_by_id=caller.id,
                source=RecordSource.ACTIVITY,
                activity_id=activity.id,
                order_id=activity.order_id,  # one record per volunteer per order (no double count)
                started_at=start if hours is None else None,
                ended_at=end if hours is None else None,
                place=activity.place,
            )
        )
    land_records(session, settings, drafts)
    team_stats.record_activity(session, settings, activity.team_id, china_date(activity.starts_at))
    return len(drafts)


def cancel(session: Session, caller: Principal, activity: Activity, reason: str) -> Activity:
    """The leader or a site admin calls the activity off (never once attendance is confirmed);
    everyone signed up hears of it through the outbox."""
    require_manager(caller, get_team(session, activity.team_id))
    now = utcnow()
    moved = session.execute(
        update(Activity)
        .where(
            col(Activity.id) == activity.id, col(Activity.status) == ActivityStatus.PUBLISHED.value
        )
        .values(status=ActivityStatus.CANCELLED.value, cancelled_at=now, cancel_reason=reason)
    ).rowcount  # type: ignore[attr-defined]
    if not moved:
        session.refresh(activity)
        raise Conflict(
            "活动已确认或已取消 / already confirmed or cancelled",
            code="not_cancellable",
            current_state=activity.status,
        )
    recipients = session.exec(
        select(Volunteer.user_id)
        .join(ActivitySignup, col(ActivitySignup.volunteer_id) == col(Volunteer.id))
        .where(
            ActivitySignup.activity_id == activity.id,
            ActivitySignup.status == SignupStatus.SIGNED_UP.value,
            col(Volunteer.user_id).is_not(None),
        )
    ).all()
    notify(
        session,
        topic="activity.cancelled",
        recipients=[user_id for user_id in recipients if user_id is not None],
        payload={
            "activity_id": str(activity.id),
            "title": activity.title,
            "starts_at": activity.starts_at.isoformat(),
            "reason": reason,
        },
    )
    session.flush()
    session.refresh(activity)
    return activity


def file_report(
    session: Session, caller: Principal, activity: Activity, data: ActivityReport
) -> Activity:
    require_manager(caller, get_team(session, activity.team_id))
    if activity.status == ActivityStatus.CANCELLED.value:
        raise Conflict("活动已取消 / cancelled", code="cancelled", current_state=activity.status)
    for name, value in data.model_dump().items():
        setattr(activity, name, value)
    activity.filed_at = utcnow()
    session.add(activity)
    session.flush()
    return activity
