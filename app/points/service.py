"""Every points movement goes through `_move`: the balance changes by one conditional statement
(never below zero, also under concurrent redemptions) and the ledger gets the entry in the same
transaction, so a balance is always the sum of its entries."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.errors import Conflict
from app.points.models import PointsBalance, PointsEntry, PointsKind, PointsPolicy
from app.records.models import ServiceRecord


def current_policy(session: Session) -> PointsPolicy:
    return session.get(PointsPolicy, 1) or PointsPolicy()


def points_for(policy: PointsPolicy, category_code: str, minutes: int) -> int:
    weight = policy.category_weights.get(category_code, 1.0)
    value = minutes / 60 * policy.points_per_hour * weight
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def balance_of(session: Session, volunteer_id: uuid.UUID) -> int:
    row = session.get(PointsBalance, volunteer_id)
    return row.balance if row else 0


def _move(session: Session, volunteer_id: uuid.UUID, delta: int, **entry: Any) -> PointsEntry:
    if delta >= 0:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(PointsBalance).values(volunteer_id=volunteer_id, balance=delta)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["volunteer_id"],
                set_={"balance": col(PointsBalance.balance) + stmt.excluded.balance},
            )
        )
    else:
        taken = session.execute(
            update(PointsBalance)
            .where(
                col(PointsBalance.volunteer_id) == volunteer_id,
                col(PointsBalance.balance) + delta >= 0,
            )
            .values(balance=col(PointsBalance.balance) + delta)
        ).rowcount  # type: ignore[attr-defined]
        if not taken:
            raise Conflict(
                "积分不足 / not enough points",
                code="insufficient_points",
                balance=balance_of(session, volunteer_id),
            )
    row = PointsEntry(volunteer_id=volunteer_id, delta=delta, **entry)
    session.add(row)
    session.flush()
    return row


def earn_for_records(session: Session, records: Sequence[ServiceRecord]) -> None:
    """Points for landed records. An amendment that lowers hours takes back at most what the
    volunteer still holds (points already spent stay spent)."""
    policy = current_policy(session)
    for record in records:
        delta = points_for(policy, record.category_code, record.minutes)
        if delta < 0:
            delta = -min(-delta, balance_of(session, record.volunteer_id))
        if delta == 0:
            continue
        _move(
            session,
            record.volunteer_id,
            delta,
            kind=PointsKind.EARN.value,
            record_id=record.id,
            reason="服务时长 / service hours",
        )


def five_star_bonus(session: Session, order_id: uuid.UUID) -> None:
    """Each volunteer who served a five-star order gets the bonus once."""
    bonus = current_policy(session).five_star_bonus
    if bonus <= 0:
        return
    volunteers = session.exec(
        select(ServiceRecord.volunteer_id)
        .where(col(ServiceRecord.order_id) == order_id)
        .distinct()
        .order_by(col(ServiceRecord.volunteer_id))
    ).all()
    for volunteer_id in volunteers:
        _move(
            session,
            volunteer_id,
            bonus,
            kind=PointsKind.BONUS.value,
            order_id=order_id,
            reason="五星好评 / rated five stars",
        )


def adjust(
    session: Session, volunteer_id: uuid.UUID, delta: int, *, reason: str, actor_id: uuid.UUID
) -> PointsEntry:
    return _move(
        session, volunteer_id, delta, kind=PointsKind.ADJUST.value, reason=reason, actor_id=actor_id
    )


def spend(
    session: Session, volunteer_id: uuid.UUID, points: int, *, redemption_id: uuid.UUID
) -> PointsEntry:
    return _move(
        session,
        volunteer_id,
        -points,
        kind=PointsKind.REDEEM.value,
        redemption_id=redemption_id,
        reason="积分兑换 / redemption",
    )
