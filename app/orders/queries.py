"""Reading orders: who may see which, and the shapes they see."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.common.identity import mask_name
from app.dispatch.models import DispatchMode, Offer, OfferStatus
from app.orders.models import Order, OrderRating
from app.orders.schemas import Channel, OfferOut, OrderOut, RatingOut, TeamRef
from app.orders.states import LABELS, OrderStatus
from app.teams.models import Team

# The deadline that applies in each state; past it, the order is overdue.
DEADLINE_OF = {
    OrderStatus.PENDING_REVIEW: "review_due_at",
    OrderStatus.UNASSIGNED: "accept_due_at",
    OrderStatus.DISPATCHING: "accept_due_at",
    OrderStatus.ACCEPTED: "complete_due_at",
    OrderStatus.IN_SERVICE: "complete_due_at",
}


def visible_filter(actor: Principal) -> ColumnElement[bool]:
    """Requesters see their own orders; admins their region's (but not others' rejected ones);
    teams the orders they hold; leaders the orders offered to their team."""
    clauses: list[ColumnElement[bool]] = [col(Order.requester_id) == actor.id]
    if actor.is_admin:
        clauses.append(
            and_(
                actor.admin_scope.filter(col(Order.region_code)),
                col(Order.status) != OrderStatus.REJECTED.value,
            )
        )
    if actor.member_team_ids:
        clauses.append(col(Order.team_id).in_(actor.member_team_ids))
    if actor.led_team_ids:
        offered = select(Offer.order_id).where(
            col(Offer.team_id).in_(actor.led_team_ids), Offer.status == OfferStatus.PENDING.value
        )
        clauses.append(
            and_(col(Order.id).in_(offered), col(Order.status) == OrderStatus.DISPATCHING.value)
        )
    return or_(*clauses) if clauses else false()


def can_see_order(session: Session, actor: Principal, order: Order) -> bool:
    if order.requester_id == actor.id:
        return True
    if order.status == OrderStatus.REJECTED.value:
        return False
    if actor.admin_scope.covers(order.region_code):
        return True
    if order.team_id is not None and order.team_id in actor.member_team_ids:
        return True
    if actor.led_team_ids and order.status == OrderStatus.DISPATCHING.value:
        return (
            session.exec(
                select(Offer.id).where(
                    Offer.order_id == order.id,
                    col(Offer.team_id).in_(actor.led_team_ids),
                    Offer.status == OfferStatus.PENDING.value,
                )
            ).first()
            is not None
        )
    return False


def overdue_filter(now: datetime) -> ColumnElement[bool]:
    return or_(
        *[
            and_(col(Order.status) == status.value, getattr(Order, field) < now)
            for status, field in DEADLINE_OF.items()
        ]
    )


def is_overdue(order: Order, now: datetime) -> bool:
    field = DEADLINE_OF.get(OrderStatus(order.status))
    deadline = getattr(order, field) if field else None
    return deadline is not None and deadline < now


def orders_out(
    session: Session, actor: Principal, orders: Sequence[Order], now: datetime
) -> list[OrderOut]:
    ids = [o.id for o in orders]
    if not ids:
        return []
    # Only admins and leaders see offers; names only of teams that appear; ratings only on
    # closed orders. The common answer to a resident costs no extra query.
    offers: Sequence[Offer] = []
    if actor.is_admin or actor.led_team_ids:
        offers = session.exec(
            select(Offer).where(
                col(Offer.order_id).in_(ids), Offer.status == OfferStatus.PENDING.value
            )
        ).all()
    team_ids = {o.team_id for o in orders if o.team_id} | {o.team_id for o in offers}
    teams: dict[uuid.UUID, str] = {}
    if team_ids:
        teams = dict(
            session.exec(select(Team.id, Team.name).where(col(Team.id).in_(team_ids))).all()
        )
    closed = [o.id for o in orders if o.status == OrderStatus.CLOSED.value]
    ratings: dict[uuid.UUID, OrderRating] = {}
    if closed:
        ratings = {
            r.order_id: r
            for r in session.exec(select(OrderRating).where(col(OrderRating.order_id).in_(closed)))
        }
    result = []
    for order in orders:
        is_admin = actor.admin_scope.covers(order.region_code)
        own = order.requester_id == actor.id
        visible_offers = [
            OfferOut(
                team=TeamRef(id=o.team_id, name=teams.get(o.team_id, "")),
                status=o.status,
                mode=DispatchMode(o.mode),
                expires_at=o.expires_at,
            )
            for o in offers
            if o.order_id == order.id and (is_admin or o.team_id in actor.led_team_ids)
        ]
        rating = ratings.get(order.id)
        result.append(
            OrderOut(
                id=order.id,
                status=OrderStatus(order.status),
                status_label=LABELS[OrderStatus(order.status)],
                category_code=order.category_code,
                title=order.title,
                description=order.description,
                address=order.address,
                location=order.location(),
                region_code=order.region_code,
                window_start=order.window_start,
                window_end=order.window_end,
                people_needed=order.people_needed,
                contact_name=order.contact_name if own else mask_name(order.contact_name),
                contact_phone=order.contact_phone_masked,
                channel=Channel(order.channel),
                team=TeamRef(id=order.team_id, name=teams.get(order.team_id, ""))
                if order.team_id
                else None,
                dispatch_mode=DispatchMode(order.dispatch_mode) if order.dispatch_mode else None,
                status_reason=order.status_reason,
                referral=order.referral,
                review_due_at=order.review_due_at,
                accept_due_at=order.accept_due_at,
                complete_due_at=order.complete_due_at,
                overdue=is_overdue(order, now),
                report=order.report_summary,
                photos=order.report_photos,
                participants=order.participants,
                party_members=order.party_members,
                volunteer_ids=[uuid.UUID(v) for v in order.volunteer_ids],
                offers=visible_offers,
                rating=RatingOut(
                    stars=rating.stars,
                    timeliness=rating.timeliness,
                    attitude=rating.attitude,
                    result=rating.result,
                    comment=rating.comment,
                    created_at=rating.created_at,
                )
                if rating
                else None,
                created_at=order.created_at,
                updated_at=order.updated_at,
            )
        )
    return result
