from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.auth.deps import AnyAdmin, AppSettings, CurrentPrincipal
from app.common.clock import utcnow
from app.db import DbSession
from app.dispatch import service
from app.dispatch.batch import assign_batch
from app.dispatch.schemas import BatchAssignment, BatchOut, BatchRequest
from app.errors import PROBLEM_RESPONSES
from app.orders.queries import orders_out
from app.orders.schemas import CandidateOut, DeclineOffer, DispatchRequest, OrderOut, TeamRef
from app.orders.service import admin_order

router = APIRouter(tags=["dispatch"], responses=PROBLEM_RESPONSES)


@router.get("/orders/{order_id}/candidates", response_model=list[CandidateOut])
def list_candidates(order_id: uuid.UUID, session: DbSession, admin: AnyAdmin) -> list[CandidateOut]:
    """Eligible teams, best first, each with the reasons for its place (层层派单)."""
    order = admin_order(session, admin, order_id)
    return [
        CandidateOut(
            rank=position,
            team=TeamRef(id=c.team.team_id, name=c.team.name),
            level_distance=c.level_distance,
            distance_km=round(c.distance_km, 3) if c.distance_km is not None else None,
            active_orders=c.team.active_orders,
            capacity=c.team.capacity,
            score=c.score,
            reasons=c.reasons,
        )
        for position, c in enumerate(service.ranked_candidates(session, order), start=1)
    ]


@router.post("/orders/{order_id}/dispatch", response_model=OrderOut)
def dispatch_order(
    order_id: uuid.UUID,
    body: DispatchRequest,
    session: DbSession,
    settings: AppSettings,
    admin: AnyAdmin,
) -> OrderOut:
    """派单: `{team_id}` offers it to that team; `{mode: "auto"}` to the best candidate;
    `{mode: "grab"}` to every eligible team at once (抢单: the first to accept wins)."""
    admin_order(session, admin, order_id)
    order = service.dispatch(
        session=session,
        settings=settings,
        actor=admin,
        order_id=order_id,
        mode=body.mode,
        team_id=body.team_id,
    )
    session.commit()
    return orders_out(session, admin, [order], utcnow())[0]


@router.post("/orders/{order_id}/accept", response_model=OrderOut)
def accept_order(
    order_id: uuid.UUID, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> OrderOut:
    """接单, by the leader of an offered team. Of concurrent accepts exactly one wins."""
    order = service.accept(session=session, settings=settings, actor=caller, order_id=order_id)
    session.commit()
    return orders_out(session, caller, [order], utcnow())[0]


@router.post("/orders/{order_id}/decline", response_model=OrderOut)
def decline_order(
    order_id: uuid.UUID,
    body: DeclineOffer,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> OrderOut:
    """拒单 with a reason; the next candidate is offered the order."""
    order = service.decline(
        session=session, settings=settings, actor=caller, order_id=order_id, reason=body.reason
    )
    session.commit()
    return orders_out(session, caller, [order], utcnow())[0]


@router.post("/dispatch/batch", response_model=BatchOut)
def batch_dispatch(
    body: BatchRequest, session: DbSession, settings: AppSettings, admin: AnyAdmin
) -> BatchOut:
    """Offer every waiting order in the caller's region at once, jointly minimising distance,
    level and load while team capacities hold (Kuhn–Munkres); `strategy: greedy` is the
    one-by-one fallback."""
    outcome = assign_batch(
        session=session,
        settings=settings,
        actor=admin,
        region_code=body.region_code,
        strategy=body.strategy,
        limit=body.limit,
    )
    session.commit()
    return BatchOut(
        assigned=[BatchAssignment(order_id=o, team_id=t) for o, t in outcome.assigned.items()],
        unassigned=outcome.unassigned,
        total_cost=round(outcome.total_cost, 3),
    )
