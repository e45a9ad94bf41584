"""Batch assignment: many approved orders waiting at once (a campaign day, the 5th of the month),
assigned jointly so that the total cost is minimal while team capacities hold."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from app.auth.principal import Principal
from app.config import Settings
from app.dispatch.matching import Candidate, TeamFacts, assign_greedily, assign_jointly, rank
from app.dispatch.models import DispatchMode, Offer, OfferStatus
from app.dispatch.service import dispatch_to, order_facts, team_facts
from app.orders.models import Order
from app.orders.states import OrderStatus
from app.regions.codes import ancestors
from app.regions.scope import RegionScope
from app.teams.models import Team, TeamSpecialty, TeamStatus

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
    teams = session.exec(
        select(Team).where(
            col(Team.region_code).in_(regions),
            Team.status == TeamStatus.ACTIVE.value,
            col(Team.active_orders) < col(Team.capacity),
        )
    ).all()
    facts = {t.id: team_facts(t) for t in teams}
    specialties: dict[str, set[uuid.UUID]] = defaultdict(set)
    if facts:
        for team_id, code in session.exec(
            select(TeamSpecialty.team_id, TeamSpecialty.category_code).where(
                col(TeamSpecialty.team_id).in_(list(facts))
            )
        ).all():
            specialties[code].add(team_id)
    tried: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for order_id, team_id in session.exec(
        select(Offer.order_id, Offer.team_id).where(
            col(Offer.order_id).in_([o.id for o in orders]),
            col(Offer.status).in_([OfferStatus.DECLINED.value, OfferStatus.EXPIRED.value]),
        )
    ).all():
        tried[order_id].add(team_id)
    by_region: dict[str, list[TeamFacts]] = defaultdict(list)
    for fact in facts.values():
        by_region[fact.region_code].append(fact)
    candidates: list[list[Candidate]] = []
    for order in orders:
        chain = [order.region_code, *ancestors(order.region_code)]
        able = specialties.get(order.category_code, set())
        pool = [
            t
            for code in chain
            for t in by_region.get(code, [])
            if t.team_id in able and t.team_id not in tried[order.id]
        ]
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
    for index, order in enumerate(orders):
        team_id = outcome.assigned.get(order.id)
        if team_id is None:
            continue
        chosen = [c for c in candidates[index] if c.team.team_id == team_id]
        dispatch_to(session, settings, actor, order, chosen, DispatchMode.AUTO)
    return outcome


__all__ = ["BatchOutcome", "RegionScope", "Strategy", "assign_batch", "plan"]
