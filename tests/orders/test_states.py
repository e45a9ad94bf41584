"""The transition table, as a table."""

from __future__ import annotations

import pytest

from app.orders.states import HELD, OPEN, TRANSITIONS, OrderStatus, can_move, sources_of

S = OrderStatus
ALLOWED = {
    (S.PENDING_REVIEW, S.UNASSIGNED),
    (S.PENDING_REVIEW, S.REJECTED),
    (S.PENDING_REVIEW, S.CANCELLED),
    (S.UNASSIGNED, S.DISPATCHING),
    (S.UNASSIGNED, S.CANCELLED),
    (S.DISPATCHING, S.ACCEPTED),
    (S.DISPATCHING, S.UNASSIGNED),
    (S.DISPATCHING, S.CANCELLED),
    (S.ACCEPTED, S.IN_SERVICE),
    (S.ACCEPTED, S.UNASSIGNED),
    (S.ACCEPTED, S.DISPATCHING),
    (S.ACCEPTED, S.CANCELLED),
    (S.IN_SERVICE, S.COMPLETED),
    (S.IN_SERVICE, S.CANCELLED),
    (S.COMPLETED, S.CLOSED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_pair(current: OrderStatus, target: OrderStatus) -> None:
    assert can_move(current, target) is ((current, target) in ALLOWED)


def test_terminal_states_and_helpers() -> None:
    assert {s for s in S if not TRANSITIONS[s]} == {S.REJECTED, S.CLOSED, S.CANCELLED}
    assert S.CLOSED not in OPEN
    assert {S.ACCEPTED, S.IN_SERVICE} == HELD
    assert sources_of(S.CANCELLED) == {
        S.PENDING_REVIEW,
        S.UNASSIGNED,
        S.DISPATCHING,
        S.ACCEPTED,
        S.IN_SERVICE,
    }
