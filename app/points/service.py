"""Every points movement goes through `_move`: the balance changes by one conditional statement
(never below zero, also under concurrent redemptions) and the ledger gets the entry in the same
transaction, so a balance is always the sum of its entries."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.refcache import cached
from app.common.together import Add, Write
from app.errors import Conflict
from app.points.models import PointsBalance, PointsEntry, PointsKind, PointsPolicy
from app.records.models import ServiceRecord
from app.scoring import score_totals
from app.scoring.totals import Tally

_POLICY = sa_select(
    *(PointsPolicy.__table__.c[name] for name in PointsPolicy.model_fields)  # type: ignore[attr-defined]
).where(col(PointsPolicy.id) == 1)
_BALANCE = PointsBalance.__table__  # type: ignore[attr-defined]
_DEBIT = (
    update(_BALANCE)
    .where(_BALANCE.c.volunteer_id == bindparam("v"), _BALANCE.c.balance + bindparam("d") >= 0)
    .values(balance=_BALANCE.c.balance + bindparam("d"))
)
_ENTRY = insert(PointsEntry.__table__)  # type: ignore[attr-defined]
_ENTRY_DEFAULTS: dict[str, Any] = {
    "record_id": None, "order_id": None, "redemption_id": None, "reason": "", "actor_id": None,
}  # fmt: skip


@cache
def _credit(dialect_name: str) -> Any:
    """Add to a balance, creating it at the first points (built once per dialect)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(_BALANCE).values(volunteer_id=bindparam("v"), balance=bindparam("d"))
    return stmt.on_conflict_do_update(
        index_elements=["volunteer_id"],
        set_={"balance": _BALANCE.c.balance + stmt.excluded.balance},
    )


@dataclass(frozen=True)
class EarningRules:
    """What `points_for` needs of the policy, read without building the policy row."""

    points_per_hour: float
    category_weights: dict[str, float]


_EARNING = sa_select(col(PointsPolicy.points_per_hour), col(PointsPolicy.category_weights)).where(
    col(PointsPolicy.id) == 1
)


def earning_rules(session: Session) -> EarningRules:
    """The policy's earning rules: it runs with every landed record, so they are remembered for
    a few seconds (`refcache`; a change of the policy in this process drops them at once)."""

    def load() -> EarningRules:
        row = session.connection().execute(_EARNING).first()
        if row is None:
            default = PointsPolicy()
            return EarningRules(default.points_per_hour, default.category_weights)
        return EarningRules(float(row[0]), dict(row[1] or {}))

    return cached(session, ("points.earning_rules",), load)


def current_policy(session: Session) -> PointsPolicy:
    """The earning rules, read by a plain SELECT (it runs with every landed record)."""
    row = session.connection().execute(_POLICY).first()
    if row is None:
        return PointsPolicy()
    return PointsPolicy(**row._asdict())


def points_for(policy: PointsPolicy | EarningRules, category_code: str, minutes: int) -> int:
    weight = policy.category_weights.get(category_code, 1.0)
    value = minutes / 60 * policy.points_per_hour * weight
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def balance_of(session: Session, volunteer_id: uuid.UUID) -> int:
    row = session.get(PointsBalance, volunteer_id)
    return row.balance if row else 0


def _move(
    session: Session,
    volunteer_id: uuid.UUID,
    delta: int,
    *,
    served: tuple[date, uuid.UUID] | None = None,
    later: list[score_totals.PointsMove] | None = None,
    **entry: Any,
) -> PointsEntry:
    """`served`: the service date and team of the record the points are for; the period totals
    move now, or with the others of `later` when the caller applies them together."""
    session.flush()  # the rows the entry refers to (a record, a redemption) go first
    connection = session.connection()
    if delta >= 0:
        connection.execute(_credit(connection.dialect.name), {"v": volunteer_id, "d": delta})
    else:
        taken = connection.execute(_DEBIT, {"v": volunteer_id, "d": delta}).rowcount
        if not taken:
            raise Conflict(
                "积分不足 / not enough points",
                code="insufficient_points",
                balance=balance_of(session, volunteer_id),
            )
    # Built without validation (the values are ours): this runs with every landed record.
    values = {**_ENTRY_DEFAULTS, "id": new_id(), "volunteer_id": volunteer_id, "delta": delta,
              "created_at": utcnow(), **entry}  # fmt: skip
    connection.execute(_ENTRY, values)
    row = PointsEntry.model_construct(**values)
    day, team_id = served or (None, None)
    move = score_totals.PointsMove(row, day, team_id)
    if later is None:
        score_totals.points_moved(session, [move])
    else:
        later.append(move)
    return row


def earn_for_records(session: Session, records: Sequence[ServiceRecord]) -> None:
    """Points for landed records. An amendment that lowers hours takes back at most what the
    volunteer still holds (points already spent stay spent)."""
    policy = earning_rules(session)
    moved: list[score_totals.PointsMove] = []
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
            served=(record.service_date, record.team_id),
            later=moved,
            kind=PointsKind.EARN.value,
            record_id=record.id,
            reason="服务时长 / service hours",
        )
    score_totals.points_moved(session, moved)


_CREDIT = Add(("volunteer_id",), ("balance",))


def earning_writes(
    session: Session, records: Sequence[ServiceRecord], tally: Tally
) -> list[Write] | None:
    """What `earn_for_records` writes for new records, for a caller that writes it together with
    others (`write_together`): the balances and the entries, returned, and the points totals,
    added to `tally` (which the caller writes after them). None, and nothing added, when a
    record would take points away: that needs `earn_for_records`, which never takes more than
    the balance holds."""
    policy = earning_rules(session)
    now = utcnow()
    balances: dict[uuid.UUID, int] = defaultdict(int)
    entries: list[dict[str, Any]] = []
    moved: list[score_totals.PointsMove] = []
    for record in records:
        delta = points_for(policy, record.category_code, record.minutes)
        if delta < 0:
            return None
        if delta == 0:
            continue
        values = {**_ENTRY_DEFAULTS, "id": new_id(), "volunteer_id": record.volunteer_id,
                  "delta": delta, "created_at": now, "kind": PointsKind.EARN.value,
                  "record_id": record.id, "reason": "服务时长 / service hours"}  # fmt: skip
        entries.append(values)
        balances[record.volunteer_id] += delta
        moved.append(
            score_totals.PointsMove(
                PointsEntry.model_construct(**values), record.service_date, record.team_id
            )
        )
    score_totals.tally_record_points(tally, moved)
    credits = [{"volunteer_id": v, "balance": d} for v, d in sorted(balances.items(), key=str)]
    return [(PointsBalance, credits, _CREDIT), (PointsEntry, entries, None)]


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
    moved: list[score_totals.PointsMove] = []
    for volunteer_id in volunteers:
        _move(
            session,
            volunteer_id,
            bonus,
            later=moved,
            kind=PointsKind.BONUS.value,
            order_id=order_id,
            reason="五星好评 / rated five stars",
        )
    score_totals.points_moved(session, moved)


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
