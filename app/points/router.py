from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import update
from sqlmodel import col, select

from app.audit.service import record as audit
from app.auth.deps import AppSettings, CurrentPrincipal, PlatformAdmin
from app.catalog.models import Category
from app.common.clock import utcnow
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Conflict, Forbidden, Invalid, NotFound
from app.idempotency.guard import IdempotencyKey, run_once
from app.points import service
from app.points.models import PointsEntry, PointsPolicy, Redemption, RewardItem
from app.points.schemas import (
    AdjustmentIn,
    EntryOut,
    PointsOut,
    PolicyIn,
    PolicyOut,
    RedemptionIn,
    RedemptionOut,
    RewardIn,
    RewardOut,
    RewardPatch,
)
from app.regions.codes import in_subtree
from app.regions.queries import get_region
from app.volunteers.service import get_visible

router = APIRouter(tags=["points"], responses=PROBLEM_RESPONSES)


@router.get("/points/policy", response_model=PolicyOut)
def read_policy(session: DbSession, _caller: CurrentPrincipal) -> PolicyOut:
    """How points are earned: per confirmed hour (times the category's weight, rounded), and a
    bonus to each volunteer of an order rated five stars."""
    return PolicyOut.model_validate(service.current_policy(session), from_attributes=True)


@router.put("/points/policy", response_model=PolicyOut)
def write_policy(body: PolicyIn, session: DbSession, caller: PlatformAdmin) -> PolicyOut:
    """Applies to points earned from now on; earlier entries stay as they were."""
    known: set[str] = set(
        session.exec(
            select(col(Category.code)).where(col(Category.code).in_(body.category_weights))
        ).all()
    )
    unknown = set(body.category_weights) - known
    if unknown or any(not 0 <= w <= 10 for w in body.category_weights.values()):
        raise Invalid(
            "类别或权重无效 / unknown category or a weight outside 0–10",
            code="bad_weights",
            unknown=sorted(unknown),
        )
    policy = session.get(PointsPolicy, 1) or PointsPolicy(id=1)
    for name, value in body.model_dump().items():
        setattr(policy, name, value)
    policy.updated_by_id, policy.updated_at = caller.id, utcnow()
    session.add(policy)
    audit(
        session,
        actor_id=caller.id,
        action="points.policy",
        subject_type="points_policy",
        subject_id=1,
        detail={k: str(v) for k, v in body.model_dump().items()},
    )
    session.commit()
    return PolicyOut.model_validate(policy, from_attributes=True)


@router.get("/volunteers/{volunteer_id}/points", response_model=PointsOut)
def read_points(
    volunteer_id: uuid.UUID,
    session: DbSession,
    caller: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PointsOut:
    """The balance and the latest entries (the volunteer, admins over them, their leaders)."""
    volunteer = get_visible(session, caller, volunteer_id)
    entries = session.exec(
        select(PointsEntry)
        .where(PointsEntry.volunteer_id == volunteer.id)
        .order_by(col(PointsEntry.created_at).desc(), col(PointsEntry.id).desc())
        .limit(limit)
    ).all()
    return PointsOut(
        volunteer_id=volunteer.id,
        balance=service.balance_of(session, volunteer.id),
        entries=[EntryOut.model_validate(e, from_attributes=True) for e in entries],
    )


@router.post(
    "/volunteers/{volunteer_id}/points/adjustments", response_model=EntryOut, status_code=201
)
def adjust_points(
    volunteer_id: uuid.UUID,
    body: AdjustmentIn,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> EntryOut | JSONResponse:
    """An admin over the volunteer's region adds or takes points, with a reason. Send an
    `Idempotency-Key` to make a retry safe: it replays the first answer, never adjusts twice."""
    volunteer = get_visible(session, caller, volunteer_id)
    if not caller.admin_scope.covers(volunteer.region_code):
        raise Forbidden("只有辖区管理员可以调整积分 / site admins only", code="admin_required")
    if body.points == 0:
        raise Invalid("调整值不能为零 / points must not be zero", code="zero_points")

    def write() -> EntryOut:
        entry = service.adjust(
            session, volunteer.id, body.points, reason=body.reason, actor_id=caller.id
        )
        audit(
            session,
            actor_id=caller.id,
            action="points.adjust",
            subject_type="volunteer",
            subject_id=volunteer.id,
            detail={"points": str(body.points), "reason": body.reason},
        )
        return EntryOut.model_validate(entry, from_attributes=True)

    return run_once(
        request=request,
        session=session,
        settings=settings,
        principal_id=caller.id,
        key=idempotency_key,
        operation=f"POST /volunteers/{volunteer.id}/points/adjustments",
        body=body,
        status_code=201,
        write=write,
    )


def _reward(item: RewardItem) -> RewardOut:
    return RewardOut.model_validate(item, from_attributes=True)


@router.post("/rewards", response_model=RewardOut, status_code=201)
def create_reward(body: RewardIn, session: DbSession, caller: CurrentPrincipal) -> RewardOut:
    """A site admin offers a reward to the volunteers of their region (积分兑换目录)."""
    region = get_region(session, body.region_code)
    if not caller.admin_scope.covers(region.code):
        raise Forbidden("只能在本辖区发布 / only within your region", code="out_of_region")
    item = RewardItem(**body.model_dump(), created_by_id=caller.id)
    session.add(item)
    session.commit()
    return _reward(item)


@router.get("/rewards", response_model=Page[RewardOut])
def list_rewards(
    session: DbSession,
    caller: CurrentPrincipal,
    page: PageQuery,
    region: Annotated[str | None, Query(description="Rewards open to this region")] = None,
) -> Page[RewardOut]:
    """Active rewards open to a region (offered there or by a site above it); without `region`,
    those open to the caller's own region, or every reward in an admin's scope."""
    stmt = select(RewardItem).where(col(RewardItem.active))
    home = region or (
        caller.volunteer.region_code if caller.volunteer else caller.user.home_region_code
    )
    if home is not None:
        get_region(session, home)
        ancestors = [
            home[:2] + "0" * 10,
            home[:4] + "0" * 8,
            home[:6] + "0" * 6,
            home[:9] + "000",
            home,
        ]
        stmt = stmt.where(col(RewardItem.region_code).in_(set(ancestors)))
    elif not caller.is_admin:
        return Page(items=[], next_cursor=None)
    else:
        stmt = stmt.where(caller.admin_scope.filter(col(RewardItem.region_code)))
    rows, cursor = paginate(session, stmt, key=col(RewardItem.id), params=page, parse_key=uuid.UUID)
    return Page(items=[_reward(r) for r in rows], next_cursor=cursor)


@router.patch("/rewards/{item_id}", response_model=RewardOut)
def update_reward(
    item_id: uuid.UUID, body: RewardPatch, session: DbSession, caller: CurrentPrincipal
) -> RewardOut:
    item = session.get(RewardItem, item_id)
    if item is None or not caller.admin_scope.covers(item.region_code):
        raise NotFound("未找到该兑换品 / no such reward", code="reward_not_found")
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(item, name, value)
    session.commit()
    return _reward(item)


@router.post("/redemptions", response_model=RedemptionOut, status_code=201)
def redeem(
    body: RedemptionIn,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> RedemptionOut | JSONResponse:
    """An approved volunteer spends points on a reward open to their region. Stock and balance
    each change by one conditional statement, so concurrent redemptions never oversell or
    overspend; a refusal changes nothing. Send an `Idempotency-Key` to make a retry safe: a
    repeat replays the first answer (`Idempotent-Replayed: true`) instead of spending twice."""
    volunteer = caller.approved_volunteer
    if volunteer is None:
        raise Forbidden(
            "只有已审核的志愿者可以兑换 / approved volunteers only", code="not_volunteer"
        )

    def write() -> RedemptionOut:
        assert volunteer is not None
        redemption = _redeem(session, volunteer.id, volunteer.region_code, body)
        out = RedemptionOut.model_validate(redemption, from_attributes=True)
        out.balance = service.balance_of(session, volunteer.id)
        return out

    return run_once(
        request=request,
        session=session,
        settings=settings,
        principal_id=caller.id,
        key=idempotency_key,
        operation="POST /redemptions",
        body=body,
        status_code=201,
        write=write,
    )


def _redeem(
    session: DbSession, volunteer_id: uuid.UUID, region_code: str, body: RedemptionIn
) -> Redemption:
    item = session.get(RewardItem, body.item_id)
    if item is None or not in_subtree(region_code, item.region_code):
        raise NotFound("未找到该兑换品 / no such reward", code="reward_not_found")
    taken = session.execute(
        update(RewardItem)
        .where(
            col(RewardItem.id) == item.id,
            col(RewardItem.active),
            col(RewardItem.stock) >= body.quantity,
        )
        .values(stock=col(RewardItem.stock) - body.quantity)
    ).rowcount  # type: ignore[attr-defined]
    if not taken:
        raise Conflict("库存不足或已下架 / out of stock or withdrawn", code="out_of_stock")
    cost = item.points * body.quantity
    redemption = Redemption(
        item_id=item.id,
        volunteer_id=volunteer_id,
        quantity=body.quantity,
        points=cost,
        region_code=region_code,
    )
    session.add(redemption)
    session.flush()
    service.spend(session, volunteer_id, cost, redemption_id=redemption.id)
    return redemption
