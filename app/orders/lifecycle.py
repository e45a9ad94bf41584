"""The one function that moves an order: checks the table, compare-and-sets the row, writes the
event and queues the notification."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from app.auth.principal import Principal
from app.common.clock import utcnow
from app.common.ids import new_id
from app.errors import Conflict
from app.notifications.outbox import notify
from app.orders.models import Order, OrderEvent
from app.orders.states import LABELS, OrderStatus, can_move


def actor_role(actor: Principal | None, order: Order) -> str:
    if actor is None:
        return "system"
    if actor.id == order.requester_id:
        return "resident"
    if order.team_id and order.team_id in actor.led_team_ids:
        return "team_leader"
    if actor.platform_admin:
        return "platform_admin"
    if actor.admin_scope.covers(order.region_code):
        return "site_admin"
    if actor.led_team_ids:
        return "team_leader"
    return "resident"


def _event_values(
    order: Order,
    seq: int,
    *,
    kind: str,
    actor: Principal | None,
    from_status: str | None,
    to_status: str | None,
    reason: str | None,
    data: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "order_id": order.id,
        "seq": seq,
        "kind": kind,
        "from_status": from_status,
        "to_status": to_status,
        "actor_id": actor.id if actor else None,
        "actor_role": actor_role(actor, order),
        "reason": reason,
        "data": data or {},
        "at": utcnow(),
    }


def record_event(
    session: Session,
    order: Order,
    *,
    kind: str,
    actor: Principal | None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """An event that changes no state (an offer, a decline, a complaint).

    Taking the next number updates the order row: its lock orders the events of one order, so
    they commit in `seq` order and a stream that resumes after `seq` misses none.
    """
    seq = session.execute(
        update(Order)
        .where(col(Order.id) == order.id)
        .values(last_event_seq=col(Order.last_event_seq) + 1)
        .returning(col(Order.last_event_seq))
    ).scalar_one()
    event = OrderEvent(
        **_event_values(
            order,
            seq,
            kind=kind,
            actor=actor,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            data=data,
        )
    )
    session.add(event)
    return event


def first_event(
    session: Session, order: Order, *, actor: Principal | None, data: dict[str, Any]
) -> None:
    """Event 1 of an order inserted in this transaction: nobody else can see it yet."""
    order.last_event_seq = 1
    session.add(
        OrderEvent(
            **_event_values(
                order,
                1,
                kind="placed",
                actor=actor,
                from_status=None,
                to_status=order.status,
                reason=None,
                data=data,
            )
        )
    )


def place_moved(
    order: Order,
    placed: OrderStatus,
    *,
    actor: Principal | None,
    data: dict[str, Any],
    move_actor: Principal | None,
    move_data: dict[str, Any],
) -> list[dict[str, Any]]:
    """Events 1 and 2 of an order about to be inserted that already moved on from the state it
    was placed in (auto-dispatch): "placed" in `placed`, then the move to its current state.
    Nobody ever sees the intermediate row, and the move costs no UPDATE of its own. Returns the
    event rows, for the caller to insert after the order."""
    target = OrderStatus(order.status)
    if not can_move(placed, target):
        raise conflict(order, target.value)
    order.last_event_seq = 2
    return [
        _event_values(
            order,
            seq,
            kind=kind,
            actor=who,
            from_status=before,
            to_status=after,
            reason=None,
            data=what,
        )
        for seq, kind, who, before, after, what in (
            (1, "placed", actor, None, placed.value, data),
            (2, target.value, move_actor, placed.value, target.value, move_data),
        )
    ]


def conflict(order: Order, action: str) -> Conflict:
    return Conflict(
        f"订单当前为「{LABELS[OrderStatus(order.status)]}」,不能{action} / "
        f"cannot {action} an order that is {order.status}",
        code="invalid_state",
        current_state=order.status,
    )


def move(
    session: Session,
    order: Order,
    target: OrderStatus,
    *,
    actor: Principal | None,
    action: str,
    reason: str | None = None,
    values: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    notify_requester: bool = True,
) -> Order:
    """Move `order` to `target` if the table allows it and nobody moved it first (409 otherwise)."""
    current = OrderStatus(order.status)
    if not can_move(current, target):
        raise conflict(order, action)
    # One statement: compare-and-set the state, take the next event number, reload the row.
    moved = session.execute(
        update(Order)
        .where(col(Order.id) == order.id, col(Order.status) == current.value)
        .values(
            status=target.value,
            updated_at=utcnow(),
            last_event_seq=col(Order.last_event_seq) + 1,
            **(values or {}),
        )
        .returning(Order)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if moved is None:
        session.refresh(order)
        raise conflict(order, action)
    order = moved
    session.add(
        OrderEvent(
            **_event_values(
                order,
                order.last_event_seq,
                kind=target.value,
                actor=actor,
                from_status=current.value,
                to_status=target.value,
                reason=reason,
                data=data,
            )
        )
    )
    if notify_requester:
        notify(
            session,
            topic="order.status_changed",
            recipients=[order.requester_id],
            payload={
                "order_id": str(order.id),
                "title": order.title,
                "status": target.value,
                "status_label": LABELS[target],
                "reason": reason,
            },
        )
    return order
