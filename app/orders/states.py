"""The order state machine, in one place. Pure: no database."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING_REVIEW = "pending_review"  # 待审核
    REJECTED = "rejected"  # 已驳回
    UNASSIGNED = "unassigned"  # 待派单: approved, in the site admin's queue
    DISPATCHING = "dispatching"  # 派单中: offers are out
    ACCEPTED = "accepted"  # 已接单
    IN_SERVICE = "in_service"  # 服务中
    COMPLETED = "completed"  # 已完成, waiting for the rating
    CLOSED = "closed"  # 已评价 or closed by itself
    CANCELLED = "cancelled"  # 已取消


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_REVIEW: frozenset({S.REJECTED, S.UNASSIGNED, S.CANCELLED}),
    S.UNASSIGNED: frozenset({S.DISPATCHING, S.CANCELLED}),
    S.DISPATCHING: frozenset({S.ACCEPTED, S.UNASSIGNED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.IN_SERVICE, S.UNASSIGNED, S.DISPATCHING, S.CANCELLED}),
    S.IN_SERVICE: frozenset({S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.REJECTED: frozenset(),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}

# States in which the order is held by a team and counts against its capacity.
HELD = frozenset({S.ACCEPTED, S.IN_SERVICE})
# States a requester may cancel from; admins may cancel from every state that allows it.
REQUESTER_CANCELLABLE = frozenset({S.PENDING_REVIEW, S.UNASSIGNED, S.DISPATCHING, S.ACCEPTED})
OPEN = frozenset(s for s, targets in TRANSITIONS.items() if targets)

LABELS = {
    S.PENDING_REVIEW: "待审核",
    S.REJECTED: "已驳回",
    S.UNASSIGNED: "待派单",
    S.DISPATCHING: "派单中",
    S.ACCEPTED: "已接单",
    S.IN_SERVICE: "服务中",
    S.COMPLETED: "已完成",
    S.CLOSED: "已关闭",
    S.CANCELLED: "已取消",
}


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def sources_of(target: OrderStatus) -> frozenset[OrderStatus]:
    """Every state from which `target` can be reached in one step."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)
