"""Batch assignment: many approved orders waiting at once (a campaign day, the 5th of the month),
assigned jointly so that the total cost is minimal while team capacities hold."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.catalog.models import Category
from app.common.clock import utcnow
from app.common.ids import new_id
from app.config import Settings
from app.dispatch.matching import Candidate, TeamFacts, assign_greedily, assign_jointly, rank
from app.dispatch.models import DispatchMode, Offer, OfferStatus
from app.dispatch.service import fact_select, facts_from_rows, order_facts
from app.notifications.models import OutboxMessage, OutboxStatus
from app.orders.lifecycle import actor_role
from app.orders.models import Order, OrderEvent
from app.orders.states import OrderStatus
from app.regions.codes import ancestors
from app.regions.scope import RegionScope
from app.sync.capture import report_core_write
from app.teams.models import MemberRole, Team, TeamMember, TeamSpecialty, TeamStatus
from app.volunteers.models import Volunteer

CANDIDATES_PER_ORDER = 10


class Strategy(StrEnum):
    JOINT = "joint"
    GREEDY = "greedy"


@dataclass
class BatchOutcome:
    assigned: dict[uuid.UUID, uuid.UUID]
    unassigned: list[uuid.UUID]
    total_cost: float


def plan(
    session: Session, orders: list[Order], strategy: Strategy
) -> tuple[list[list[Candidate]], dict[uuid.UUID, int], BatchOutcome]:
    """Candidates for every order from two queries, then the joint (or greedy) assignment."""
    regions: set[str] = set()
    for order in orders:
        regions.add(order.region_code)
        regions.update(ancestors(order.region_code))
    rows = session.execute(
        fact_select().where(
            col(Team.region_code).in_(regions),
            col(Team.status) == TeamStatus.ACTIVE.value,
            col(Team.active_orders) < col(Team.capacity),
        )
    ).all()
    facts = {f.team_id: f for f in facts_from_rows(rows)}
    # Teams by (home region, specialty): an order's pool is a few dictionary lookups along its
    # chain of regions, not a scan of every nearby team.
    pools: dict[tuple[str, str], list[TeamFacts]] = defaultdict(list)
    if facts:
        for team_id, code in session.execute(
            sa_select(col(TeamSpecialty.team_id), col(TeamSpecialty.category_code))
            .join(Team, col(Team.id) == col(TeamSpecialty.team_id))
            .where(
                col(Team.region_code).in_(regions),
                col(Team.status) == TeamStatus.ACTIVE.value,
                col(Team.active_orders) < col(Team.capacity),
            )
        ).all():
            fact = facts.get(team_id)
            if fact is not None:
                pools[(fact.region_code, code)].append(fact)
    tried: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for order_id, team_id in session.exec(
        select(Offer.order_id, Offer.team_id).where(
            col(Offer.order_id).in_([o.id for o in orders]),
            col(Offer.status).in_([OfferStatus.DECLINED.value, OfferStatus.EXPIRED.value]),
        )
    ).all():
        tried[order_id].add(team_id)
    candidates: list[list[Candidate]] = []
    for order in orders:
        category = order.category_code
        pool = [
            t
            for code in (order.region_code, *ancestors(order.region_code))
            for t in pools.get((code, category), ())
        ]
        if order.id in tried:
            pool = [t for t in pool if t.team_id not in tried[order.id]]
        candidates.append(rank(order_facts(order), pool)[:CANDIDATES_PER_ORDER])
    free = {team_id: f.capacity - f.active_orders for team_id, f in facts.items()}
    solve = assign_jointly if strategy is Strategy.JOINT else assign_greedily
    result = solve(candidates, free)
    outcome = BatchOutcome(
        assigned={orders[i].id: team_id for i, team_id in result.assignment.items()},
        unassigned=[o.id for i, o in enumerate(orders) if i not in result.assignment],
        total_cost=result.total_cost,
    )
    return candidates, free, outcome


MOVED = ("status", "dispatch_mode", "accept_due_at", "updated_at", "last_event_seq")


def assign_batch(
    *,
    session: Session,
    settings: Settings,
    actor: Principal,
    region_code: str | None,
    strategy: Strategy,
    limit: int,
) -> BatchOutcome:
    scope = actor.admin_scope if region_code is None else actor.admin_scope.narrowed_to(region_code)
    orders = list(
        session.exec(
            select(Order)
            .where(
                Order.status == OrderStatus.UNASSIGNED.value, scope.filter(col(Order.region_code))
            )
            .order_by(col(Order.created_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )
    if not orders:
        return BatchOutcome(assigned={}, unassigned=[], total_cost=0.0)
    candidates, _, outcome = plan(session, orders, strategy)
    _offer_in_bulk(session, settings, actor, orders, candidates, outcome, strategy)
    return outcome


def _offer_in_bulk(
    session: Session,
    settings: Settings,
    actor: Principal,
    orders: list[Order],
    candidates: list[list[Candidate]],
    outcome: BatchOutcome,
    strategy: Strategy,
) -> None:
    """The same rows `dispatch_to` writes for one order (the move, its event, the offer and the
    leader's notification), written for all orders in a handful of statements."""
    if not outcome.assigned:
        return
    now = utcnow()
    expires = now + timedelta(minutes=settings.offer_timeout_minutes)
    accept_hours = dict(session.exec(select(Category.code, Category.accept_hours)).all())
    by_category: dict[str, list[uuid.UUID]] = defaultdict(list)
    for order in orders:
        if order.id in outcome.assigned:
            by_category[order.category_code].append(order.id)
    seqs: dict[uuid.UUID, int] = {}
    for category_code, ids in by_category.items():
        moved = session.execute(
            update(Order)
            .where(col(Order.id).in_(ids), col(Order.status) == OrderStatus.UNASSIGNED.value)
            .values(
                status=OrderStatus.DISPATCHING.value,
                dispatch_mode=DispatchMode.AUTO.value,
                accept_due_at=now + timedelta(hours=accept_hours.get(category_code, 24)),
                updated_at=now,
                last_event_seq=col(Order.last_event_seq) + 1,
            )
            .returning(col(Order.id), col(Order.last_event_seq))
            .execution_options(synchronize_session=False)
        ).all()
        seqs.update({order_id: seq for order_id, seq in moved})
    # The moves and their events bypass the ORM: report the moved orders to the feed.
    report_core_write(session, Order, seqs, fields=MOVED)
    names = {c.team.team_id: c.team.name for ranked in candidates for c in ranked}
    leaders = dict(
        session.execute(
            sa_select(col(TeamMember.team_id), col(Volunteer.user_id))
            .join(Volunteer, col(Volunteer.id) == col(TeamMember.volunteer_id))
            .where(
                col(TeamMember.team_id).in_(set(outcome.assigned.values())),
                col(TeamMember.role) == MemberRole.LEADER.value,
            )
        ).all()
    )
    offers, events, messages = [], [], []
    by_id = {o.id: o for o in orders}
    for order_id, seq in seqs.items():
        order, team_id = by_id[order_id], outcome.assigned[order_id]
        offers.append(
            {
                "id": new_id(),
                "order_id": order_id,
                "team_id": team_id,
                "mode": DispatchMode.AUTO.value,
                "rank": 1,
                "status": OfferStatus.PENDING.value,
                "offered_by_id": actor.id,
                "offered_at": now,
                "expires_at": expires,
            }
        )
        events.append(
            {
                "id": new_id(),
                "order_id": order_id,
                "seq": seq,
                "kind": OrderStatus.DISPATCHING.value,
                "from_status": OrderStatus.UNASSIGNED.value,
                "to_status": OrderStatus.DISPATCHING.value,
                "actor_id": actor.id,
                "actor_role": actor_role(actor, order),
                "reason": None,
                "at": now,
                "data": {
                    "mode": DispatchMode.AUTO.value,
                    "batch": strategy.value,
                    "teams": [{"team_id": str(team_id), "name": names.get(team_id, "")}],
                    "expires_at": expires.isoformat(),
                },
            }
        )
        if team_id in leaders:
            messages.append(
                {
                    "id": new_id(),
                    "topic": "offer.created",
                    "recipient_user_id": leaders[team_id],
                    "payload": {
                        "order_id": str(order_id),
                        "title": order.title,
                        "expires_at": expires.isoformat(),
                    },
                    "status": OutboxStatus.PENDING.value,
                    "attempts": 0,
                    "available_at": now,
                    "created_at": now,
                }
            )
    for model, rows in ((Offer, offers), (OrderEvent, events), (OutboxMessage, messages)):
        if rows:
            session.execute(insert(model), rows)
    unmoved = [order_id for order_id in outcome.assigned if order_id not in seqs]
    for order_id in unmoved:  # moved by someone else meanwhile: not this batch's to offer
        outcome.assigned.pop(order_id)
        outcome.unassigned.append(order_id)


__all__ = ["BatchOutcome", "RegionScope", "Strategy", "assign_batch", "plan"]
