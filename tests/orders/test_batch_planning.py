"""Batch planning over arrays gives what the one-order ranking and the candidate-list
assignments give, pair for pair and cost for cost (pure: no database)."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest

from app.common.ids import new_id
from app.dispatch.matching import (
    OrderFacts,
    TeamFacts,
    assign_greedily,
    assign_jointly,
    assign_pairs_greedily,
    assign_pairs_jointly,
    rank,
    rank_many,
)

# A county centre, a township and two of its villages (levels 3, 4 and 5).
REGIONS = ["140802000000", "140802100000", "140802100001", "140802100002"]


def world(seed: int) -> tuple[list[OrderFacts], list[list[int]], list[TeamFacts]]:
    rng = random.Random(seed)

    def point() -> tuple[float | None, float | None]:
        if rng.random() < 0.1:
            return None, None  # an unknown position: ranked last in its level
        return 35.0 + rng.uniform(0, 0.3), 111.0 + rng.uniform(0, 0.3)

    teams = []
    for _ in range(30):
        lat, lng = point()
        capacity = rng.randint(1, 4)
        teams.append(
            TeamFacts(
                team_id=new_id(),
                name="队",
                region_code=rng.choice(REGIONS),
                lat=lat,
                lng=lng,
                service_radius_km=rng.choice([None, 5.0, 15.0, 40.0]),
                capacity=capacity,
                active_orders=rng.randint(0, capacity - 1),
                score=rng.choice([None, rng.random()]),
            )
        )
    orders = [OrderFacts(rng.choice(REGIONS[2:]), *point()) for _ in range(40)]
    pools = [rng.sample(range(len(teams)), rng.randint(0, 20)) for _ in orders]
    return orders, pools, teams


@pytest.mark.parametrize("seed", range(8))
def test_ranking_over_arrays_is_the_one_order_ranking_cut_to_the_limit(seed: int) -> None:
    orders, pools, teams = world(seed)
    ranked = rank_many(orders, [np.array(p, dtype=np.int64) for p in pools], teams, 5)
    for i, order in enumerate(orders):
        expected = rank(order, [teams[t] for t in pools[i]])[:5]
        got = ranked.candidates(i)
        assert [(c.team.team_id, c.level_distance) for c in got] == [
            (c.team.team_id, c.level_distance) for c in expected
        ]
        assert [c.distance_km for c in got] == pytest.approx([c.distance_km for c in expected])
        lo, hi = ranked.starts[i], ranked.starts[i + 1]
        assert ranked.cost[lo:hi].tolist() == pytest.approx([c.cost() for c in expected])


@pytest.mark.parametrize("seed", range(8))
def test_assignment_over_arrays_matches_the_candidate_lists(seed: int) -> None:
    orders, pools, teams = world(seed)
    ranked = rank_many(orders, [np.array(p, dtype=np.int64) for p in pools], teams, 5)
    candidates = [ranked.candidates(i) for i in range(len(orders))]
    free = np.array([t.capacity - t.active_orders for t in teams], dtype=np.int64)
    free_by_id = {t.team_id: t.capacity - t.active_orders for t in teams}

    joint, joint_cost = assign_pairs_jointly(ranked, free)
    reference = assign_jointly(candidates, free_by_id)
    assert joint_cost == pytest.approx(reference.total_cost)
    assert len(joint) == len(reference.assignment)
    held: dict[uuid.UUID, int] = {}
    for i, t in joint.items():
        assert teams[t].team_id in {c.team.team_id for c in candidates[i]}
        held[teams[t].team_id] = held.get(teams[t].team_id, 0) + 1
    assert all(n <= free_by_id[team_id] for team_id, n in held.items())

    greedy, greedy_cost = assign_pairs_greedily(ranked, free)
    expected = assign_greedily(candidates, free_by_id)
    assert {i: teams[t].team_id for i, t in greedy.items()} == expected.assignment
    assert greedy_cost == pytest.approx(expected.total_cost)
    assert joint_cost <= greedy_cost + 1e-9 or len(joint) > len(greedy)
