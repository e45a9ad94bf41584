"""Batch assignment: many approved orders waiting at once (a campaign day, the 5th of the month),
assigned jointly so that the total cost is minimal while team capacities hold."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol, cast, overload

import numpy as np
from sqlalchemy import String, case, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.auth.principal import Principal
from app.catalog.models import Category
from app.common.bulk import any_of, id_in, insert_rows, pipelined
from app.common.clock import utcnow
from app.common.ids import new_id
from app.config import Settings
from app.dispatch.matching import (
    Candidate,
    OrderFacts,
    RankedPairs,
    TeamFacts,
    assign_pairs_greedily,
    assign_pairs_jointly,
    rank_many,
)
from app.dispatch.models import DispatchMode, Offer, OfferStatus
from app.dispatch.service import fact_select, facts_from_rows
from app.notifications.models import OutboxMessage, OutboxStatus
from app.orders.lifecycle import actor_role
from app.orders.models import Order, OrderEvent
from app.orders.states import OrderStatus
from app.regions.codes import ancestors
from app.regions.scope import RegionScope
from app.sync.capture import report_core_rows
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


class WaitingOrder(Protocol):
    """What planning reads of an order: an `Order`, or a row of just these columns."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def region_code(self) -> str: ...
    @property
    def category_code(self) -> str: ...
    @property
    def wgs_lat(self) -> float | None: ...
    @property
    def wgs_lng(self) -> float | None: ...


class CandidateLists(SequenceABC[list[Candidate]]):
    """Every order's ranked candidates, built as `Candidate`s only when asked for: the
    assignment itself works on the arrays."""

    def __init__(self, ranked: RankedPairs) -> None:
        self.ranked = ranked

    def __len__(self) -> int:
        return len(self.ranked.starts) - 1

    @overload
    def __getitem__(self, index: int) -> list[Candidate]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[Candidate]]: ...
    def __getitem__(self, index: int | slice) -> list[Candidate] | list[list[Candidate]]:
        if isinstance(index, slice):
            return [self.ranked.candidates(i) for i in range(len(self))[index]]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self.ranked.candidates(index % len(self))


# A team's specialties as one string (codes are lower_snake_case, never holding a comma), so
# that the teams and their specialties come in one row each: a row per specialty was four times
# the rows, and converting rows dominated planning.
_SPECIALTIES = (
    sa_select(func.aggregate_strings(col(TeamSpecialty.category_code), ","))
    .where(col(TeamSpecialty.team_id) == col(Team.id))
    .scalar_subquery()
)


def _eligible(
    session: Session, regions: set[str]
) -> tuple[list[TeamFacts], dict[tuple[str, str], list[int]]]:
    """Active teams with room in these regions, and their indexes by (home region, specialty)."""
    connection = session.connection()
    rows = connection.execute(
        fact_select()
        .add_columns(_SPECIALTIES)
        .where(
            any_of(col(Team.region_code), regions, connection.dialect.name, String()),
            col(Team.status) == TeamStatus.ACTIVE.value,
            col(Team.active_orders) < col(Team.capacity),
        )
    ).all()
    facts = facts_from_rows([row[:-1] for row in rows])
    pools: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (fact, row) in enumerate(zip(facts, rows, strict=True)):
        for code in (row[-1] or "").split(","):
            if code:
                pools[(fact.region_code, code)].append(i)
    return facts, pools


def plan(
    session: Session, orders: Sequence[WaitingOrder], strategy: Strategy
) -> tuple[CandidateLists, dict[uuid.UUID, int], BatchOutcome]:
    """Candidates for every order from three queries, ranked over arrays, then the joint (or
    greedy) assignment."""
    regions: set[str] = set()
    for order in orders:
        regions.add(order.region_code)
        regions.update(ancestors(order.region_code))
    facts, by_region = _eligible(session, regions)
    index = {f.team_id: i for i, f in enumerate(facts)}
    tried: dict[uuid.UUID, list[int]] = defaultdict(list)
    dialect = session.get_bind().dialect.name
    for order_id, team_id in (
        session.connection()
        .execute(
            sa_select(col(Offer.order_id), col(Offer.team_id)).where(
                id_in(col(Offer.order_id), [o.id for o in orders], dialect),
                col(Offer.status).in_([OfferStatus.DECLINED.value, OfferStatus.EXPIRED.value]),
            )
        )
        .all()
    ):
        if team_id in index:
            tried[order_id].append(index[team_id])
    # An order's pool is its chain of regions' teams with its specialty: the same for every
    # order of one region and category.
    chains: dict[tuple[str, str], np.ndarray] = {}
    pools: list[np.ndarray] = []
    for order in orders:
        key = (order.region_code, order.category_code)
        pool = chains.get(key)
        if pool is None:
            pool = chains[key] = np.array(
                [
                    t
                    for code in (order.region_code, *ancestors(order.region_code))
                    for t in by_region.get((code, order.category_code), ())
                ],
                dtype=np.int64,
            )
        if order.id in tried:
            pool = pool[~np.isin(pool, tried[order.id])]
        pools.append(pool)
    ranked = rank_many(
        [OrderFacts(o.region_code, o.wgs_lat, o.wgs_lng) for o in orders],
        pools,
        facts,
        CANDIDATES_PER_ORDER,
    )
    free = np.array([f.capacity - f.active_orders for f in facts], dtype=np.int64)
    solve = assign_pairs_jointly if strategy is Strategy.JOINT else assign_pairs_greedily
    assignment, total = solve(ranked, free)
    outcome = BatchOutcome(
        assigned={orders[i].id: facts[t].team_id for i, t in assignment.items()},
        unassigned=[o.id for i, o in enumerate(orders) if i not in assignment],
        total_cost=total,
    )
    return (
        CandidateLists(ranked),
        {f.team_id: int(n) for f, n in zip(facts, free.tolist(), strict=True)},
        outcome,
    )


MOVED = ("status", "dispatch_mode", "accept_due_at", "updated_at", "last_event_seq")


class Waiting(NamedTuple):
    id: uuid.UUID
    region_code: str
    category_code: str
    wgs_lat: float | None
    wgs_lng: float | None
    title: str
    requester_id: uuid.UUID
    team_id: uuid.UUID | None


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
    # Plain rows of the columns planning and the writes need, not a thousand ORM objects.
    orders = [
        Waiting(*row)
        for row in session.connection()
        .execute(
            sa_select(*(col(getattr(Order, name)) for name in Waiting._fields))
            .where(
                col(Order.status) == OrderStatus.UNASSIGNED.value,
                scope.filter(col(Order.region_code)),
            )
            .order_by(col(Order.created_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .all()
    ]
    if not orders:
        return BatchOutcome(assigned={}, unassigned=[], total_cost=0.0)
    candidates, _, outcome = plan(session, orders, strategy)
    names = {t.team_id: t.name for t in candidates.ranked.teams}
    _offer_in_bulk(session, settings, actor, orders, names, outcome, strategy)
    return outcome


def _offer_in_bulk(
    session: Session,
    settings: Settings,
    actor: Principal,
    orders: list[Waiting],
    names: dict[uuid.UUID, str],
    outcome: BatchOutcome,
    strategy: Strategy,
) -> None:
    """The same rows `dispatch_to` writes for one order (the move, its event, the offer and the
    leader's notification), written for all orders in one statement per table."""
    if not outcome.assigned:
        return
    now = utcnow()
    expires = now + timedelta(minutes=settings.offer_timeout_minutes)
    connection = session.connection()
    dialect = connection.dialect.name
    by_id = {o.id: o for o in orders}
    categories = {by_id[order_id].category_code for order_id in outcome.assigned}
    accept_hours = dict(
        connection.execute(
            sa_select(col(Category.code), col(Category.accept_hours)).where(
                col(Category.code).in_(categories)
            )
        ).all()
    )
    due = {code: now + timedelta(hours=accept_hours.get(code, 24)) for code in categories}
    # One compare-and-set for every order; the acceptance deadline follows the category.
    moved = connection.execute(
        update(Order)
        .where(
            id_in(col(Order.id), list(outcome.assigned), dialect),
            col(Order.status) == OrderStatus.UNASSIGNED.value,
        )
        .values(
            status=OrderStatus.DISPATCHING.value,
            dispatch_mode=DispatchMode.AUTO.value,
            accept_due_at=case(
                *((col(Order.category_code) == code, at) for code, at in due.items()),
                else_=None,
            ),
            updated_at=now,
            last_event_seq=col(Order.last_event_seq) + 1,
        )
        .returning(col(Order.id), col(Order.last_event_seq))
    ).all()
    seqs: dict[uuid.UUID, int] = {order_id: seq for order_id, seq in moved}
    chosen = {outcome.assigned[order_id] for order_id in seqs}
    leaders: dict[uuid.UUID, uuid.UUID] = dict(
        connection.execute(
            sa_select(col(TeamMember.team_id), col(Volunteer.user_id))
            .join(Volunteer, col(Volunteer.id) == col(TeamMember.volunteer_id))
            .where(
                id_in(col(TeamMember.team_id), chosen, dialect),
                col(TeamMember.role) == MemberRole.LEADER.value,
            )
        ).all()
    )
    expires_at = expires.isoformat()
    # Each table's rows go out as soon as they are built: the database writes one while these
    # lines build the next.
    with pipelined(connection):
        # The moves and their events bypass the ORM: report the moved orders to the feed.
        report_core_rows(
            session, Order, {order_id: by_id[order_id].region_code for order_id in seqs},
            fields=MOVED,
        )  # fmt: skip
        offers = [
            {
                "id": new_id(),
                "order_id": order_id,
                "team_id": outcome.assigned[order_id],
                "mode": DispatchMode.AUTO.value,
                "rank": 1,
                "status": OfferStatus.PENDING.value,
                "offered_by_id": actor.id,
                "offered_at": now,
                "expires_at": expires,
            }
            for order_id in seqs
        ]
        insert_rows(connection, Offer.__table__, offers)  # type: ignore[attr-defined]
        events = [
            {
                "id": new_id(),
                "order_id": order_id,
                "seq": seq,
                "kind": OrderStatus.DISPATCHING.value,
                "from_status": OrderStatus.UNASSIGNED.value,
                "to_status": OrderStatus.DISPATCHING.value,
                "actor_id": actor.id,
                # The role reads only the order's requester, team and region.
                "actor_role": actor_role(actor, cast(Order, by_id[order_id])),
                "reason": None,
                "at": now,
                "data": {
                    "mode": DispatchMode.AUTO.value,
                    "batch": strategy.value,
                    "teams": [{"team_id": str(team_id), "name": names.get(team_id, "")}],
                    "expires_at": expires_at,
                },
            }
            for order_id, seq in seqs.items()
            for team_id in (outcome.assigned[order_id],)
        ]
        insert_rows(connection, OrderEvent.__table__, events)  # type: ignore[attr-defined]
        messages = [
            {
                "id": new_id(),
                "topic": "offer.created",
                "recipient_user_id": leaders[team_id],
                "payload": {
                    "order_id": str(order_id),
                    "title": by_id[order_id].title,
                    "expires_at": expires_at,
                },
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "available_at": now,
                "created_at": now,
            }
            for order_id in seqs
            for team_id in (outcome.assigned[order_id],)
            if team_id in leaders
        ]
        insert_rows(connection, OutboxMessage.__table__, messages)  # type: ignore[attr-defined]
    unmoved = [order_id for order_id in outcome.assigned if order_id not in seqs]
    for order_id in unmoved:  # moved by someone else meanwhile: not this batch's to offer
        outcome.assigned.pop(order_id)
        outcome.unassigned.append(order_id)


__all__ = ["BatchOutcome", "RegionScope", "Strategy", "assign_batch", "plan"]
