"""Order writes: place, review, serve, complete, cancel, rate, complain. Services flush; routes
commit. Dispatch verbs live in app/dispatch/service.py."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.accounts.service import PHONE_CONTEXT, parse_phone, user_for_phone
from app.auth.principal import Account, Principal
from app.catalog.models import Category
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.common.identity import mask_phone
from app.common.ids import new_id
from app.common.location import location_columns
from app.config import Settings
from app.dispatch import service as dispatch
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.notifications.outbox import notify, site_admin_user_ids
from app.orders.lifecycle import conflict, first_event, move, record_event
from app.orders.models import Complaint, Order, OrderRating
from app.orders.queries import can_see_order
from app.orders.reference import active_category, review_place
from app.orders.schemas import (
    Channel,
    CompleteService,
    OrderCreate,
    RatingCreate,
)
from app.orders.states import HELD, REQUESTER_CANCELLABLE, OrderStatus
from app.points import service as points
from app.records.ledger import RecordDraft, china_today, land_records
from app.records.models import RecordSource
from app.scoring import score_totals, team_stats
from app.teams.models import ServiceProject, Team, TeamMember, TeamSpecialty, TeamStatus
from app.volunteers.models import Volunteer, VolunteerStatus


def _check_window(data: OrderCreate, now: datetime) -> None:
    if data.window_end is not None and data.window_end <= now:
        raise Invalid("期望时间已过 / the wished time window is in the past", code="window_in_past")


def _menu_choice(session: Session, data: OrderCreate) -> tuple[uuid.UUID | None, str]:
    """The team asked first and the category, from a project, a team's menu, or a category."""
    if data.project_id is not None:
        project = session.get(ServiceProject, data.project_id)
        team = session.get(Team, project.team_id) if project else None
        if (
            project is None
            or not project.active
            or team is None
            or (team.status != TeamStatus.ACTIVE.value)
        ):
            raise Invalid(
                "该服务项目不可预约 / that service project is not available",
                code="project_unavailable",
            )
        if data.category_code not in (None, project.category_code) or (
            data.team_id not in (None, project.team_id)
        ):
            raise Invalid(
                "服务项目与类别或服务队不符 / the project does not match the category "
                "or team given",
                code="project_mismatch",
            )
        return project.team_id, project.category_code
    assert data.category_code is not None  # the schema requires one of the two
    if data.team_id is not None:
        team = session.get(Team, data.team_id)
        offers = (
            team is not None
            and team.status == TeamStatus.ACTIVE.value
            and session.exec(
                select(TeamSpecialty.team_id).where(
                    TeamSpecialty.team_id == data.team_id,
                    TeamSpecialty.category_code == data.category_code,
                )
            ).first()
            is not None
        )
        if not offers:
            raise Invalid(
                "该服务队不提供此项服务 / that team does not offer this service",
                code="team_does_not_offer",
            )
    return data.team_id, data.category_code


def place(
    *,
    session: Session,
    settings: Settings,
    codec: SensitiveCodec,
    actor: Principal,
    data: OrderCreate,
) -> Order:
    now = utcnow()
    preferred_team_id, category_code = _menu_choice(session, data)
    category = active_category(session, category_code)
    place_ = review_place(session, data.region_code)
    _check_window(data, now)
    requester: Account | User = actor.user
    if data.channel is Channel.HOTLINE:
        if not actor.admin_scope.covers(place_.region_code):
            raise Forbidden(
                "热线代下单须由本辖区管理员录入 / hotline orders are entered by the "
                "region's admins",
                code="hotline_admin_only",
            )
        if not data.contact_phone:
            raise Invalid(
                "热线代下单须填写联系电话 / a hotline order needs the caller's phone",
                code="contact_phone_required",
            )
        requester = user_for_phone(
            session=session, codec=codec, phone=parse_phone(data.contact_phone)
        )
    if data.contact_phone:
        phone = parse_phone(data.contact_phone)
    elif requester.phone_cipher is not None:
        phone = codec.decrypt(requester.phone_cipher, context=PHONE_CONTEXT)
    else:
        raise Invalid("请填写联系电话 / a contact phone is required", code="contact_phone_required")
    status = OrderStatus.UNASSIGNED if category.auto_approve else OrderStatus.PENDING_REVIEW
    # Every default_factory field given: a factory left to SQLModel costs a signature
    # inspection per object.
    order = Order(
        id=new_id(),
        created_at=now,
        updated_at=now,
        volunteer_ids=[],
        report_photos=[],
        requester_id=requester.id,
        category_code=category.code,
        preferred_team_id=preferred_team_id,
        project_id=data.project_id,
        title=data.title.strip(),
        description=data.description,
        address=data.address,
        region_code=place_.region_code,
        review_site_id=place_.site_id,
        window_start=data.window_start,
        window_end=data.window_end,
        people_needed=data.people_needed,
        contact_name=data.contact_name.strip(),
        contact_phone_cipher=codec.encrypt(phone, context=PHONE_CONTEXT),
        contact_phone_masked=mask_phone(phone),
        channel=data.channel.value,
        status=status.value,
        review_due_at=None
        if category.auto_approve
        else now + timedelta(hours=category.review_hours),
        **location_columns(data.location),
    )
    placed_data = {"channel": data.channel.value, "auto_approved": category.auto_approve}
    if (
        status is OrderStatus.UNASSIGNED
        and category.auto_dispatch
        and dispatch.place_dispatched(
            session, settings, order, category, actor=actor, placed_data=placed_data
        )
    ):
        return order
    session.add(order)
    first_event(session, order, actor=actor, data=placed_data)
    if status is OrderStatus.PENDING_REVIEW:
        notify(
            session,
            topic="order.review_needed",
            recipients=site_admin_user_ids(session, place_.site_id),
            payload={"order_id": str(order.id), "title": order.title},
        )
    return order


def visible_order(session: Session, actor: Principal, order_id: uuid.UUID) -> Order:
    order = session.get(Order, order_id)
    if order is None or not can_see_order(session, actor, order):
        raise NotFound("未找到该订单 / no such order", code="order_not_found")
    return order


def admin_order(session: Session, actor: Principal, order_id: uuid.UUID) -> Order:
    """An order the caller administers (its region is in the caller's scope)."""
    order = session.get(Order, order_id)
    if (
        order is None
        or not actor.admin_scope.covers(order.region_code)
        or (order.status == OrderStatus.REJECTED.value and order.requester_id != actor.id)
    ):
        raise NotFound("未找到该订单 / no such order", code="order_not_found")
    return order


def approve(
    *, session: Session, settings: Settings, actor: Principal, order_id: uuid.UUID, note: str | None
) -> Order:
    order = admin_order(session, actor, order_id)
    move(
        session, order, OrderStatus.UNASSIGNED, actor=actor, action="审核通过 approve", reason=note
    )
    category = session.get(Category, order.category_code)
    if category is not None and category.auto_dispatch:
        dispatch.dispatch_new_order(session, settings, order)
    return order


def reject(
    *, session: Session, actor: Principal, order_id: uuid.UUID, reason: str, referral: str | None
) -> Order:
    order = admin_order(session, actor, order_id)
    return move(
        session,
        order,
        OrderStatus.REJECTED,
        actor=actor,
        action="驳回 reject",
        reason=reason,
        values={"status_reason": reason, "referral": referral},
        data={"referral": referral} if referral else None,
    )


def _holding_leader_order(
    session: Session, actor: Principal, order_id: uuid.UUID, action: str
) -> Order:
    order = visible_order(session, actor, order_id)
    if order.team_id is None or order.team_id not in actor.led_team_ids:
        raise Forbidden(
            f"只有接单队伍的队长可以{action} / only the leader of the serving team can",
            code="not_serving_leader",
        )
    return order


def _team_volunteers(session: Session, team_id: uuid.UUID, volunteer_ids: list[uuid.UUID]) -> None:
    if not volunteer_ids:
        return
    members = set(
        session.exec(
            select(TeamMember.volunteer_id)
            .join(Volunteer, col(Volunteer.id) == col(TeamMember.volunteer_id))
            .where(
                TeamMember.team_id == team_id,
                col(TeamMember.volunteer_id).in_(volunteer_ids),
                Volunteer.status == VolunteerStatus.APPROVED.value,
            )
        ).all()
    )
    strangers = [str(v) for v in volunteer_ids if v not in members]
    if strangers:
        raise Invalid(
            f"不是本队已审核的队员 / not approved members of the team: {', '.join(strangers)}",
            code="not_team_members",
        )


def start(
    *, session: Session, actor: Principal, order_id: uuid.UUID, volunteer_ids: list[uuid.UUID]
) -> Order:
    order = _holding_leader_order(session, actor, order_id, "开始服务")
    assert order.team_id is not None
    _team_volunteers(session, order.team_id, volunteer_ids)
    return move(
        session,
        order,
        OrderStatus.IN_SERVICE,
        actor=actor,
        action="开始服务 start",
        values={"volunteer_ids": [str(v) for v in volunteer_ids]},
        data={"volunteers": len(volunteer_ids)},
    )


def complete(
    *,
    session: Session,
    settings: Settings,
    actor: Principal,
    order_id: uuid.UUID,
    data: CompleteService,
) -> Order:
    order = _holding_leader_order(session, actor, order_id, "结项")
    team_id = order.team_id
    assert team_id is not None
    if order.status != OrderStatus.IN_SERVICE.value:
        raise conflict(order, "结项 complete")
    volunteer_ids = [h.volunteer_id for h in data.hours]
    _team_volunteers(session, team_id, volunteer_ids)
    now = utcnow()
    move(
        session,
        order,
        OrderStatus.COMPLETED,
        actor=actor,
        action="结项 complete",
        values={
            "completed_at": now,
            "report_summary": data.report,
            "report_photos": [str(p) for p in data.photos],
            "participants": data.participants if data.participants is not None else len(data.hours),
            "party_members": data.party_members,
        },
        data={"volunteers": len(data.hours), "hours": round(sum(h.hours for h in data.hours), 2)},
    )
    land_records(
        session,
        settings,
        [
            RecordDraft(
                volunteer_id=entry.volunteer_id,
                team_id=team_id,
                order_id=order.id,
                source=RecordSource.ORDER,
                category_code=order.category_code,
                region_code=order.region_code,
                service_date=china_today(now),
                minutes=max(1, math.floor(entry.hours * 60 + 0.5)),
                content=order.title,
                place=order.address[:200],
                recorded_by_id=actor.id,
            )
            for entry in data.hours
        ],
    )
    dispatch.release_team(session, team_id)
    team_stats.record_completion(session, settings, team_id)
    session.flush()
    return order


def cancel(*, session: Session, actor: Principal, order_id: uuid.UUID, reason: str) -> Order:
    order = dispatch.lock_order(session, order_id)
    is_requester = order.requester_id == actor.id
    is_admin = actor.admin_scope.covers(order.region_code)
    if not (is_requester or is_admin):
        if can_see_order(session, actor, order):
            raise Forbidden(
                "只有下单人或辖区管理员可以取消 / only the requester or a site admin can cancel",
                code="cannot_cancel",
            )
        raise NotFound("未找到该订单 / no such order", code="order_not_found")
    if is_requester and not is_admin and OrderStatus(order.status) not in REQUESTER_CANCELLABLE:
        raise conflict(order, "取消 cancel")
    held_by = order.team_id if OrderStatus(order.status) in HELD else None
    move(
        session,
        order,
        OrderStatus.CANCELLED,
        actor=actor,
        action="取消 cancel",
        reason=reason,
        values={"status_reason": reason, "closed_at": utcnow()},
    )
    dispatch.withdraw_all(session, order)
    if held_by is not None:
        dispatch.release_team(session, held_by)
    return order


def rate(
    *,
    session: Session,
    settings: Settings,
    actor: Principal,
    order_id: uuid.UUID,
    data: RatingCreate,
) -> OrderRating:
    order = visible_order(session, actor, order_id)
    if order.requester_id != actor.id:
        raise Forbidden("只有下单人可以评价 / only the requester can rate", code="not_requester")
    if (
        order.status == OrderStatus.CLOSED.value
        and session.exec(select(OrderRating.id).where(OrderRating.order_id == order.id)).first()
    ):
        raise Conflict("已评价过 / already rated", code="already_rated", current_state=order.status)
    assert order.team_id is not None or order.status != OrderStatus.COMPLETED.value
    move(
        session,
        order,
        OrderStatus.CLOSED,
        actor=actor,
        action="评价 rate",
        values={"closed_at": utcnow()},
        data={"stars": data.stars},
        notify_requester=False,
    )
    assert order.team_id is not None
    rating = OrderRating(order_id=order.id, team_id=order.team_id, **data.model_dump())
    session.add(rating)
    team_stats.record_rating(session, settings, order.team_id, data.stars)
    score_totals.rating_landed(session, rating)
    if data.stars == 5:
        points.five_star_bonus(session, order.id)
    session.flush()
    return rating


def complain(*, session: Session, actor: Principal, order_id: uuid.UUID, content: str) -> Complaint:
    order = visible_order(session, actor, order_id)
    if order.requester_id != actor.id:
        raise Forbidden(
            "只有下单人可以投诉 / only the requester can complain", code="not_requester"
        )
    complaint = Complaint(
        order_id=order.id, requester_id=actor.id, region_code=order.region_code, content=content
    )
    session.add(complaint)
    session.flush()
    record_event(
        session,
        order,
        kind="complaint_filed",
        actor=actor,
        data={"complaint_id": str(complaint.id)},
    )
    notify(
        session,
        topic="complaint.filed",
        recipients=site_admin_user_ids(session, order.review_site_id),
        payload={"order_id": str(order.id), "complaint_id": str(complaint.id)},
    )
    return complaint


def resolve_complaint(
    *, session: Session, actor: Principal, complaint_id: uuid.UUID, resolution: str
) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or not actor.admin_scope.covers(complaint.region_code):
        raise NotFound("未找到该投诉 / no such complaint", code="complaint_not_found")
    now = utcnow()
    done = session.execute(
        update(Complaint)
        .where(col(Complaint.id) == complaint.id, col(Complaint.status) == "open")
        .values(status="resolved", resolution=resolution, resolved_by_id=actor.id, resolved_at=now)
    )
    session.refresh(complaint)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "投诉已处理 / the complaint is already resolved",
            code="already_resolved",
            current_state=complaint.status,
        )
    notify(
        session,
        topic="complaint.resolved",
        recipients=[complaint.requester_id],
        payload={"order_id": str(complaint.order_id), "resolution": resolution},
    )
    return complaint


def auto_close(*, session: Session, settings: Settings, now: datetime, limit: int = 100) -> int:
    """Close completed orders nobody rated within the configured days."""
    cutoff = now - timedelta(days=settings.auto_close_days)
    due = session.exec(
        select(Order.id)
        .where(Order.status == OrderStatus.COMPLETED.value, col(Order.completed_at) <= cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for order_id in due:
        order = dispatch.lock_order(session, order_id)
        if order.status == OrderStatus.COMPLETED.value:
            move(
                session,
                order,
                OrderStatus.CLOSED,
                actor=None,
                action="自动关闭 auto-close",
                reason="未评价,自动关闭 / closed without a rating",
                values={"closed_at": now},
            )
    return len(due)
