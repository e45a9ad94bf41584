"""Offers: who gets them, acceptance, decline, expiry and escalation. Services flush; routes commit.

Lock order, everywhere: the order row first, then its offers, then team rows. Every path that
changes an offer takes the order row first, so that concurrent accepts, declines, expiries and
re-dispatches queue up behind each other instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, bindparam, cast, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.catalog.models import Category
from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.orm import attach_new, column_values, insert_rows
from app.common.together import write_together
from app.config import Settings
from app.dispatch.matching import Candidate, OrderFacts, TeamFacts, rank
from app.dispatch.models import DispatchMode, Offer, OfferStatus
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.notifications.models import OutboxMessage
from app.notifications.outbox import (
    notify,
    outbox_rows,
    site_admin_user_ids,
    team_leader_user_ids,
)
from app.orders.lifecycle import conflict, move, place_moved, record_event
from app.orders.models import Order, OrderEvent
from app.orders.reference import CategoryRules
from app.orders.states import OrderStatus
from app.regions.codes import ancestors
from app.scoring import team_stats
from app.scoring.models import TeamStats
from app.sync.capture import core_write_changes, report_core_write
from app.sync.models import ChangeEvent
from app.teams.models import MemberRole, Team, TeamMember, TeamSpecialty, TeamStatus
from app.volunteers.models import Volunteer

GRAB_MAX_TEAMS = 50


def lock_order(session: Session, order_id: uuid.UUID) -> Order:
    """The order, locked for this transaction on PostgreSQL (SQLite holds its write lock anyway)."""
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound("未找到该订单 / no such order", code="order_not_found")
    return order


def order_facts(order: Order) -> OrderFacts:
    return OrderFacts(region_code=order.region_code, lat=order.wgs_lat, lng=order.wgs_lng)


def team_facts(team: Team) -> TeamFacts:
    return TeamFacts(
        team_id=team.id,
        name=team.name,
        region_code=team.region_code,
        lat=team.wgs_lat,
        lng=team.wgs_lng,
        service_radius_km=team.service_radius_km,
        capacity=team.capacity,
        active_orders=team.active_orders,
    )


# The columns ranking needs, read as plain rows: building full ORM objects for every nearby
# team costs more than the query itself.
FACT_COLUMNS = (
    col(Team.id),
    col(Team.name),
    col(Team.region_code),
    col(Team.wgs_lat),
    col(Team.wgs_lng),
    col(Team.service_radius_km),
    col(Team.capacity),
    col(Team.active_orders),
    col(TeamStats.score),
)


def fact_select() -> Select[*tuple[Any, ...]]:
    """Team facts with the stored score (None for a team not scored yet)."""
    return (
        sa_select(*FACT_COLUMNS)
        .select_from(Team)
        .outerjoin(TeamStats, col(TeamStats.team_id) == col(Team.id))
    )


def facts_from_rows(rows: Sequence[Any]) -> list[TeamFacts]:
    return [TeamFacts(*row) for row in rows]


# EXISTS probes the (team_id, category_code) key per team of the few regions in the chain, so the
# cost follows the teams near the order, not the teams in the city. Built once: building it
# costs more than running it.
_ELIGIBLE = fact_select().where(
    col(Team.region_code).in_(bindparam("regions", expanding=True)),
    col(Team.status) == TeamStatus.ACTIVE.value,
    col(Team.active_orders) < col(Team.capacity),
    sa_select(col(TeamSpecialty.team_id))
    .where(
        col(TeamSpecialty.team_id) == col(Team.id),
        col(TeamSpecialty.category_code) == bindparam("category_code"),
    )
    .exists(),
)


def eligible_teams(session: Session, *, region_code: str, category_code: str) -> list[TeamFacts]:
    """Active teams with the specialty, free capacity, and a home site on the order's region or
    one of its ancestors. Radius and ranking are applied by `matching`."""
    regions = [region_code, *ancestors(region_code)]
    rows = session.execute(_ELIGIBLE, {"regions": regions, "category_code": category_code}).all()
    return facts_from_rows(rows)


def _teams_already_tried(session: Session, order_id: uuid.UUID) -> set[uuid.UUID]:
    return set(
        session.exec(
            select(Offer.team_id).where(
                Offer.order_id == order_id,
                col(Offer.status).in_([OfferStatus.DECLINED.value, OfferStatus.EXPIRED.value]),
            )
        ).all()
    )


def ranked_candidates(
    session: Session, order: Order, *, new_order: bool = False
) -> list[Candidate]:
    """Eligible teams best first, without those that already declined or let an offer expire
    (an order placed in this transaction has no offers yet)."""
    tried = set() if new_order else _teams_already_tried(session, order.id)
    teams = eligible_teams(
        session, region_code=order.region_code, category_code=order.category_code
    )
    return _ranked(order, [t for t in teams if t.team_id not in tried])


def _ranked(order: Order, teams: list[TeamFacts]) -> list[Candidate]:
    ranked = rank(order_facts(order), teams)
    if order.preferred_team_id is not None:
        # Ordered from a team's own menu: that team is asked first when it can serve.
        ranked.sort(key=lambda c: c.team.team_id != order.preferred_team_id)
    return ranked


# The eligible teams with their leaders' user ids ("id,id"): what a new order's offer and its
# notification need, in one query.
_ELIGIBLE_WITH_LEADERS = _ELIGIBLE.add_columns(
    sa_select(func.aggregate_strings(cast(col(Volunteer.user_id), String), ","))
    .select_from(TeamMember)
    .join(Volunteer, col(Volunteer.id) == col(TeamMember.volunteer_id))
    .where(
        col(TeamMember.team_id) == col(Team.id),
        col(TeamMember.role) == MemberRole.LEADER.value,
    )
    .scalar_subquery()
)


def _eligible_with_leaders(
    session: Session, order: Order
) -> tuple[list[TeamFacts], dict[uuid.UUID, list[uuid.UUID]]]:
    rows = session.execute(
        _ELIGIBLE_WITH_LEADERS,
        {
            "regions": [order.region_code, *ancestors(order.region_code)],
            "category_code": order.category_code,
        },
    ).all()
    leaders = {
        row[0]: [uuid.UUID(u) for u in row[-1].split(",")] if row[-1] else [] for row in rows
    }
    return [TeamFacts(*row[:-1]) for row in rows], leaders


def _withdraw_open_offers(
    session: Session, order: Order, *, except_offer: uuid.UUID | None = None
) -> list[uuid.UUID]:
    stmt = select(Offer).where(
        Offer.order_id == order.id, Offer.status == OfferStatus.PENDING.value
    )
    withdrawn = []
    now = utcnow()
    for offer in session.exec(stmt).all():
        if offer.id == except_offer:
            continue
        offer.status = OfferStatus.WITHDRAWN.value
        offer.responded_at = now
        withdrawn.append(offer.team_id)
    session.flush()
    return withdrawn


def _release_team(session: Session, team_id: uuid.UUID) -> None:
    released = session.execute(
        update(Team)
        .where(col(Team.id) == team_id, col(Team.active_orders) > 0)
        .values(active_orders=col(Team.active_orders) - 1)
    ).rowcount  # type: ignore[attr-defined]
    if released:
        report_core_write(session, Team, [team_id], fields=["active_orders"])


def _offer_record(
    candidates: list[Candidate], mode: DispatchMode, expires: datetime
) -> dict[str, object]:
    """What the dispatch event records of its offers."""
    return {
        "mode": mode.value,
        "teams": [{"team_id": str(c.team.team_id), "name": c.team.name} for c in candidates],
        "expires_at": expires.isoformat(),
    }


def _offer_rows(
    order: Order,
    candidates: list[Candidate],
    mode: DispatchMode,
    actor: Principal | None,
    now: datetime,
    expires: datetime,
) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id(),
            "order_id": order.id,
            "team_id": c.team.team_id,
            "mode": mode.value,
            "rank": position,
            "status": OfferStatus.PENDING.value,
            "reason": None,
            "offered_by_id": actor.id if actor else None,
            "offered_at": now,
            "expires_at": expires,
            "responded_at": None,
            "responded_by_id": None,
        }
        for position, c in enumerate(candidates, start=1)
    ]


def _offer_payload(order: Order, expires: datetime) -> dict[str, Any]:
    return {"order_id": str(order.id), "title": order.title, "expires_at": expires.isoformat()}


def _create_offers(
    session: Session,
    order: Order,
    candidates: list[Candidate],
    *,
    mode: DispatchMode,
    actor: Principal | None,
    settings: Settings,
    expires: datetime | None = None,
) -> dict[str, object]:
    """Offer rows and the leaders' notifications; returns what the event should record."""
    now = utcnow()
    expires = expires or now + timedelta(minutes=settings.offer_timeout_minutes)
    insert_rows(session, Offer, _offer_rows(order, candidates, mode, actor, now, expires))
    notify(
        session,
        topic="offer.created",
        recipients=team_leader_user_ids(session, [c.team.team_id for c in candidates]),
        payload=_offer_payload(order, expires),
    )
    return _offer_record(candidates, mode, expires)


def _offer(
    session: Session,
    order: Order,
    candidates: list[Candidate],
    *,
    mode: DispatchMode,
    actor: Principal | None,
    settings: Settings,
) -> None:
    """Offers to an order already in `dispatching`, recorded as an `offered` event."""
    data = _create_offers(session, order, candidates, mode=mode, actor=actor, settings=settings)
    record_event(session, order, kind="offered", actor=actor, data=data)


def _pick(
    candidates: list[Candidate], mode: DispatchMode, team_id: uuid.UUID | None, order: Order
) -> list[Candidate]:
    if mode is DispatchMode.MANUAL:
        if team_id is None:
            raise Invalid("请指定服务队 / name the team (team_id)", code="team_required")
        picked = [c for c in candidates if c.team.team_id == team_id]
        if not picked:
            raise Invalid(
                "该队不符合派单条件(专长、辖区、容量或服务半径) / the team is not eligible: "
                "specialty, region, free capacity or service radius",
                code="team_not_eligible",
            )
    else:
        picked = candidates[:1] if mode is DispatchMode.AUTO else candidates[:GRAB_MAX_TEAMS]
    if not picked:
        raise Conflict(
            "没有符合条件的服务队 / no eligible team can take this order",
            code="no_eligible_team",
            current_state=order.status,
        )
    return picked


def dispatch(
    *,
    session: Session,
    settings: Settings,
    actor: Principal | None,
    order_id: uuid.UUID,
    mode: DispatchMode,
    team_id: uuid.UUID | None = None,
) -> Order:
    """Offer the order: to a named team (manual), the best candidate (auto), or all (grab).

    From `dispatching` or `accepted` this is a re-dispatch: open offers are withdrawn and the
    holding team is released first.
    """
    order = lock_order(session, order_id)
    if OrderStatus(order.status) not in (
        OrderStatus.UNASSIGNED,
        OrderStatus.DISPATCHING,
        OrderStatus.ACCEPTED,
    ):
        raise conflict(order, "派单 dispatch")
    candidates = ranked_candidates(session, order)
    return dispatch_to(
        session, settings, actor, order, _pick(candidates, mode, team_id, order), mode
    )


def dispatch_new_order(session: Session, settings: Settings, order: Order) -> None:
    """Auto-dispatch an order approved in this transaction, if any team can take it."""
    candidates = ranked_candidates(session, order, new_order=True)
    if candidates:
        dispatch_to(session, settings, None, order, candidates[:1], DispatchMode.AUTO)


def place_dispatched(
    session: Session,
    settings: Settings,
    order: Order,
    category: CategoryRules,
    *,
    actor: Principal,
    placed_data: dict[str, Any],
) -> bool:
    """Auto-dispatch an order that is being placed, before its row is written: when a team can
    take it, the order goes in already offered (one insert each for the order, its two events
    and its offer) and this returns True; otherwise nothing is added and it returns False."""
    teams, leaders = _eligible_with_leaders(session, order)
    candidates = _ranked(order, teams)
    if not candidates:
        return False
    picked = candidates[:1]
    now = utcnow()
    expires = now + timedelta(minutes=settings.offer_timeout_minutes)
    placed = OrderStatus(order.status)
    order.status = OrderStatus.DISPATCHING.value
    order.dispatch_mode = DispatchMode.AUTO.value
    order.accept_due_at = now + timedelta(hours=category.accept_hours)
    events = place_moved(
        order,
        placed,
        actor=actor,
        data=placed_data,
        move_actor=None,
        move_data=_offer_record(picked, DispatchMode.AUTO, expires),
    )
    attach_new(session, order)
    # One statement on PostgreSQL, in the order foreign keys need: the order, its two events,
    # its change for the feed, the offer and the leaders' notifications.
    write_together(
        session,
        [
            (Order, [column_values(order)], None),
            (OrderEvent, events, None),
            (
                ChangeEvent,
                core_write_changes(session, Order, [order.id], op="create", fields=[]),
                None,
            ),
            (Offer, _offer_rows(order, picked, DispatchMode.AUTO, None, now, expires), None),
            (
                OutboxMessage,
                outbox_rows(
                    topic="offer.created",
                    recipients=[u for c in picked for u in leaders[c.team.team_id]],
                    payload=_offer_payload(order, expires),
                ),
                None,
            ),
        ],
    )
    return True


def dispatch_to(
    session: Session,
    settings: Settings,
    actor: Principal | None,
    order: Order,
    picked: list[Candidate],
    mode: DispatchMode,
) -> Order:
    status = OrderStatus(order.status)
    if status is OrderStatus.DISPATCHING:
        _withdraw_open_offers(session, order)
        order.dispatch_mode = mode.value
        _offer(session, order, picked, mode=mode, actor=actor, settings=settings)
        return order
    values: dict[str, object] = {"dispatch_mode": mode.value}
    if status is OrderStatus.ACCEPTED and order.team_id is not None:
        _release_team(session, order.team_id)
        team_stats.record_release(session, settings, order.team_id)
        values.update(team_id=None, accepted_at=None)
    category = session.get(Category, order.category_code)
    values["accept_due_at"] = utcnow() + timedelta(hours=category.accept_hours if category else 24)
    data = _create_offers(session, order, picked, mode=mode, actor=actor, settings=settings)
    # The move's event records the offers too: one event, not two.
    return move(
        session,
        order,
        OrderStatus.DISPATCHING,
        actor=actor,
        action="派单 dispatch",
        values=values,
        data=data,
        notify_requester=False,
    )


def _open_offer_for(session: Session, actor: Principal, order_id: uuid.UUID) -> Offer:
    offers = session.exec(
        select(Offer).where(
            Offer.order_id == order_id,
            Offer.status == OfferStatus.PENDING.value,
            col(Offer.team_id).in_(actor.led_team_ids),
        )
    ).all()
    if not offers:
        if _has_any_offer(session, actor, order_id):
            raise Conflict(
                "本队的派单已失效(过期或撤回) / your team's offer has expired or was withdrawn",
                code="offer_closed",
                current_state=OrderStatus.DISPATCHING.value,
            )
        raise NotFound("未找到该订单 / no such order", code="order_not_found")
    return offers[0]


def accept(*, session: Session, settings: Settings, actor: Principal, order_id: uuid.UUID) -> Order:
    """The offered team's leader takes the order. Exactly one team wins; the others get 409."""
    if not actor.led_team_ids:
        raise Forbidden(
            "只有队长可以接单 / only team leaders accept orders", code="not_team_leader"
        )
    order = lock_order(session, order_id)
    if order.status != OrderStatus.DISPATCHING.value:
        if order.team_id in actor.led_team_ids or _has_any_offer(session, actor, order.id):
            raise conflict(order, "接单 accept")
        raise NotFound("未找到该订单 / no such order", code="order_not_found")
    offer = _open_offer_for(session, actor, order.id)
    now = utcnow()
    if offer.expires_at <= now:
        raise Conflict(
            "派单已过期 / the offer has expired", code="offer_expired", current_state=order.status
        )
    taken = session.execute(
        update(Offer)
        .where(col(Offer.id) == offer.id, col(Offer.status) == OfferStatus.PENDING.value)
        .values(status=OfferStatus.ACCEPTED.value, responded_at=now, responded_by_id=actor.id)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise conflict(order, "接单 accept")
    room = session.execute(
        update(Team)
        .where(col(Team.id) == offer.team_id, col(Team.active_orders) < col(Team.capacity))
        .values(active_orders=col(Team.active_orders) + 1)
    )
    if room.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "服务队在办订单已满 / the team is at capacity",
            code="team_full",
            current_state=order.status,
        )
    report_core_write(session, Team, [offer.team_id], fields=["active_orders"])
    team_stats.record_accept(
        session, settings, offer.team_id, (now - offer.offered_at).total_seconds()
    )
    category = session.get(Category, order.category_code)
    complete_hours = category.complete_hours if category else 168
    move(
        session,
        order,
        OrderStatus.ACCEPTED,
        actor=actor,
        action="接单 accept",
        values={
            "team_id": offer.team_id,
            "accepted_at": now,
            "complete_due_at": now + timedelta(hours=complete_hours),
        },
        data={"team_id": str(offer.team_id)},
    )
    others = _withdraw_open_offers(session, order, except_offer=offer.id)
    if others:
        notify(
            session,
            topic="offer.withdrawn",
            recipients=team_leader_user_ids(session, others),
            payload={"order_id": str(order.id), "title": order.title},
        )
    return order


def _has_any_offer(session: Session, actor: Principal, order_id: uuid.UUID) -> bool:
    return (
        session.exec(
            select(Offer.id).where(
                Offer.order_id == order_id, col(Offer.team_id).in_(actor.led_team_ids)
            )
        ).first()
        is not None
    )


def decline(
    *, session: Session, settings: Settings, actor: Principal, order_id: uuid.UUID, reason: str
) -> Order:
    order = lock_order(session, order_id)
    if order.status != OrderStatus.DISPATCHING.value:
        if _has_any_offer(session, actor, order.id):
            raise conflict(order, "拒单 decline")
        raise NotFound("未找到该订单 / no such order", code="order_not_found")
    offer = _open_offer_for(session, actor, order.id)
    offer.status = OfferStatus.DECLINED.value
    offer.reason = reason
    offer.responded_at = utcnow()
    offer.responded_by_id = actor.id
    session.flush()
    record_event(
        session,
        order,
        kind="declined",
        actor=actor,
        reason=reason,
        data={"team_id": str(offer.team_id)},
    )
    return advance(session=session, settings=settings, order=order)


def advance(*, session: Session, settings: Settings, order: Order) -> Order:
    """After a decline or expiry: wait while offers are open, else offer the next candidate;
    when no team is left, the order goes back to the site admin's queue (`unassigned`)."""
    still_open = session.exec(
        select(Offer.id).where(
            Offer.order_id == order.id, Offer.status == OfferStatus.PENDING.value
        )
    ).first()
    if still_open is not None:
        return order
    if order.dispatch_mode != DispatchMode.GRAB.value:
        candidates = ranked_candidates(session, order)
        if candidates:
            _offer(
                session,
                order,
                candidates[:1],
                mode=DispatchMode.AUTO,
                actor=None,
                settings=settings,
            )
            return order
    move(
        session,
        order,
        OrderStatus.UNASSIGNED,
        actor=None,
        action="退回待派单 return to queue",
        reason="没有服务队接单 / no team took the order",
        notify_requester=False,
    )
    notify(
        session,
        topic="order.unassigned",
        recipients=site_admin_user_ids(session, order.review_site_id),
        payload={"order_id": str(order.id), "title": order.title},
    )
    return order


def expire_offers(*, session: Session, settings: Settings, now: datetime, limit: int = 100) -> int:
    """Expire open offers past their time and move their orders on. Safe to run in several
    workers at once: rows are claimed with SKIP LOCKED on PostgreSQL."""
    # Claim orders, not offers: the order row is always locked first (see the module note).
    expired_offers = select(Offer.order_id).where(
        Offer.status == OfferStatus.PENDING.value, col(Offer.expires_at) <= now
    )
    due = session.exec(
        select(Order.id)
        .where(col(Order.id).in_(expired_offers))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    handled = 0
    for order_id in dict.fromkeys(due):
        order = lock_order(session, order_id)
        expired = session.exec(
            select(Offer).where(
                Offer.order_id == order.id,
                Offer.status == OfferStatus.PENDING.value,
                col(Offer.expires_at) <= now,
            )
        ).all()
        if not expired:
            continue  # another worker got there first
        for offer in expired:
            offer.status = OfferStatus.EXPIRED.value
            offer.responded_at = now
        session.flush()
        record_event(
            session,
            order,
            kind="offer_expired",
            actor=None,
            data={"teams": [str(o.team_id) for o in expired]},
        )
        if order.status == OrderStatus.DISPATCHING.value:
            advance(session=session, settings=settings, order=order)
        handled += 1
    return handled


def release_team(session: Session, team_id: uuid.UUID) -> None:
    _release_team(session, team_id)


def withdraw_all(session: Session, order: Order) -> None:
    _withdraw_open_offers(session, order)
