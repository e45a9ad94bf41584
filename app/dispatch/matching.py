"""Who should serve an order: eligibility, the explained ranking, and joint batch assignment.

Pure: the caller loads the facts; nothing here touches the database.

Ranking (层层派单): nearest level first (the order's own village station, then the township
institute, then the county centre, and on up the region tree), then distance from the base
in 1 km bands, then current load, then team score. Within a band, a less loaded or better
scored team wins; the exact distance is shown in the reasons.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from app.common.geo import EARTH_RADIUS_KM, haversine_km
from app.regions.codes import level_of
from app.scoring.rules import TeamCounts, team_score

# A team with no history yet scores what the priors alone give (0.61 with the default priors),
# the same value its first counters start from, so history moves it up or down from there.
NEUTRAL_SCORE = team_score(TeamCounts()).score
DISTANCE_BAND_KM = 1.0
# Batch cost, in kilometre-equivalents: climbing one level costs as much as 20 km of distance.
LEVEL_COST_KM = 20.0
LOAD_COST_KM = 5.0

LEVEL_REASONS = {
    0: "本级站点的队伍 / a team of the order's own site",
    1: "上一级站点的队伍 / a team one level up",
    2: "上两级站点的队伍 / a team two levels up",
}


# Facts and candidates are named tuples: ranking builds thousands of them in a batch, and a
# tuple is several times cheaper to build than a frozen dataclass.
class TeamFacts(NamedTuple):
    team_id: uuid.UUID
    name: str
    region_code: str
    lat: float | None  # WGS-84
    lng: float | None
    service_radius_km: float | None
    capacity: int
    active_orders: int
    score: float | None = None  # 0..1; None until scored


class OrderFacts(NamedTuple):
    region_code: str
    lat: float | None  # WGS-84
    lng: float | None


class Candidate(NamedTuple):
    team: TeamFacts
    level_distance: int
    distance_km: float | None

    @property
    def reasons(self) -> list[str]:
        """Why the team stands where it does, in Chinese and English (built only when shown)."""
        team = self.team
        reasons = [_level_reason(self.level_distance)]
        if self.distance_km is None:
            reasons.append("距离未知 / distance unknown")
        else:
            reasons.append(f"距离 {self.distance_km:.1f} 公里 / {self.distance_km:.1f} km away")
        reasons.append(
            f"在办 {team.active_orders}/{team.capacity} 单 / holding {team.active_orders} of "
            f"{team.capacity}"
        )
        if team.score is None:
            reasons.append("暂无服务记录,按先验评分 / no history yet, prior score used")
        else:
            reasons.append(f"评分 {team.score:.2f} / score {team.score:.2f}")
        return reasons

    @property
    def load(self) -> float:
        return self.team.active_orders / self.team.capacity if self.team.capacity else 1.0

    @property
    def score(self) -> float:
        return NEUTRAL_SCORE if self.team.score is None else self.team.score

    def sort_key(self) -> tuple[int, float, float, float, uuid.UUID]:
        band = (
            math.floor(self.distance_km / DISTANCE_BAND_KM)
            if self.distance_km is not None
            else math.inf
        )
        # A UUID orders as its hex string does, without building the string.
        return (self.level_distance, band, self.load, -self.score, self.team.team_id)

    def cost(self) -> float:
        distance = self.distance_km if self.distance_km is not None else 50.0
        return self.level_distance * LEVEL_COST_KM + distance + self.load * LOAD_COST_KM


def _distance(order: OrderFacts, team: TeamFacts) -> float | None:
    if order.lat is None or order.lng is None or team.lat is None or team.lng is None:
        return None
    return haversine_km(order.lat, order.lng, team.lat, team.lng)


def _level_reason(level_distance: int) -> str:
    return LEVEL_REASONS.get(
        level_distance, f"上{level_distance}级站点的队伍 / {level_distance} levels up"
    )


def evaluate(
    order: OrderFacts, team: TeamFacts, order_level: int | None = None
) -> Candidate | None:
    """The team as a candidate, or None when it is out of range or full.

    Specialty, status and the ancestor-region rule are applied by the query that loads teams.
    """
    if team.active_orders >= team.capacity:
        return None
    distance = _distance(order, team)
    radius = team.service_radius_km
    if radius is not None and distance is not None and distance > radius:
        return None
    if order_level is None:
        order_level = level_of(order.region_code)
    level_distance = order_level - level_of(team.region_code)
    return Candidate(team, level_distance, distance)


def rank(order: OrderFacts, teams: Sequence[TeamFacts]) -> list[Candidate]:
    order_level = level_of(order.region_code)
    candidates = [c for c in (evaluate(order, t, order_level) for t in teams) if c is not None]
    return sorted(candidates, key=Candidate.sort_key)


# ---- joint assignment ----------------------------------------------------------------------

UNASSIGNABLE = 1e9


@dataclass(frozen=True)
class BatchResult:
    assignment: dict[int, uuid.UUID]  # order index → team
    total_cost: float


def assign_jointly(
    candidates: Sequence[Sequence[Candidate]], free_capacity: dict[uuid.UUID, int]
) -> BatchResult:
    """Minimum-cost assignment of orders to teams with capacities (Kuhn–Munkres).

    Each team appears as many times as it has free places (but never more often than orders
    list it). Orders that share no candidate team are solved apart: one small matrix per
    connected component instead of one large one.
    """
    components = _components(candidates)
    assignment: dict[int, uuid.UUID] = {}
    total = 0.0
    for orders in components:
        slots: list[uuid.UUID] = []
        demand: dict[uuid.UUID, int] = {}
        for i in orders:
            for c in candidates[i]:
                demand[c.team.team_id] = demand.get(c.team.team_id, 0) + 1
        for team_id, wanted in demand.items():
            slots.extend([team_id] * min(wanted, free_capacity.get(team_id, 0)))
        if not slots:
            continue
        column_of: dict[uuid.UUID, list[int]] = {}
        for column, team_id in enumerate(slots):
            column_of.setdefault(team_id, []).append(column)
        matrix = np.full((len(orders), len(slots)), UNASSIGNABLE)
        for row, i in enumerate(orders):
            for c in candidates[i]:
                matrix[row, column_of[c.team.team_id]] = c.cost()
        rows, columns = linear_sum_assignment(matrix)
        for row, column in zip(rows, columns, strict=True):
            if matrix[row, column] < UNASSIGNABLE:
                assignment[orders[row]] = slots[column]
                total += float(matrix[row, column])
    return BatchResult(assignment=assignment, total_cost=total)


def assign_greedily(
    candidates: Sequence[Sequence[Candidate]], free_capacity: dict[uuid.UUID, int]
) -> BatchResult:
    """One by one, each order to its best candidate with room left: the fallback."""
    left = dict(free_capacity)
    assignment: dict[int, uuid.UUID] = {}
    total = 0.0
    for i, ranked in enumerate(candidates):
        for c in sorted(ranked, key=Candidate.cost):
            if left.get(c.team.team_id, 0) > 0:
                left[c.team.team_id] -= 1
                assignment[i] = c.team.team_id
                total += c.cost()
                break
    return BatchResult(assignment=assignment, total_cost=total)


def _components(candidates: Sequence[Sequence[Candidate]]) -> list[list[int]]:
    parent = list(range(len(candidates)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[uuid.UUID, int] = {}
    for i, ranked in enumerate(candidates):
        for c in ranked:
            j = owner.setdefault(c.team.team_id, i)
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(candidates)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


# ---- the same ranking and assignment over arrays, for batches ------------------------------


@dataclass(frozen=True)
class RankedPairs:
    """Every order's candidates, best first, as parallel arrays grouped by order (`starts[i]` to
    `starts[i + 1]` are order i's): one row per (order, team) pair, no object per pair."""

    teams: Sequence[TeamFacts]
    team: np.ndarray  # index into `teams`
    level_distance: np.ndarray
    distance_km: np.ndarray  # NaN: unknown
    cost: np.ndarray
    starts: np.ndarray

    def candidates(self, i: int) -> list[Candidate]:
        lo, hi = int(self.starts[i]), int(self.starts[i + 1])
        teams = self.teams
        return [
            Candidate(teams[t], level, None if math.isnan(d) else d)
            for t, level, d in zip(
                self.team[lo:hi].tolist(),
                self.level_distance[lo:hi].tolist(),
                self.distance_km[lo:hi].tolist(),
                strict=True,
            )
        ]


def _haversine_many(
    lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lng2 - lng1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    distance: np.ndarray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))
    return distance


def rank_many(
    orders: Sequence[OrderFacts],
    pools: Sequence[np.ndarray],
    teams: Sequence[TeamFacts],
    limit: int,
) -> RankedPairs:
    """`rank(orders[i], [teams[t] for t in pools[i]])[:limit]` for every i, in one pass of numpy."""
    nan = math.nan
    t_lat = np.array([nan if t.lat is None else t.lat for t in teams], dtype=float)
    t_lng = np.array([nan if t.lng is None else t.lng for t in teams], dtype=float)
    t_radius = np.array(
        [nan if t.service_radius_km is None else t.service_radius_km for t in teams], dtype=float
    )
    t_level = np.array([level_of(t.region_code) for t in teams], dtype=np.int64)
    t_active = np.array([t.active_orders for t in teams], dtype=float)
    t_capacity = np.array([t.capacity for t in teams], dtype=float)
    t_score = np.array([NEUTRAL_SCORE if t.score is None else t.score for t in teams], dtype=float)
    # The team id breaks the last tie, as in `Candidate.sort_key`: its rank among all ids.
    t_id_rank = np.empty(len(teams), dtype=np.int64)
    t_id_rank[sorted(range(len(teams)), key=lambda k: teams[k].team_id)] = np.arange(len(teams))
    o_lat = np.array([nan if o.lat is None else o.lat for o in orders], dtype=float)
    o_lng = np.array([nan if o.lng is None else o.lng for o in orders], dtype=float)
    o_level = np.array([level_of(o.region_code) for o in orders], dtype=np.int64)

    sizes = np.array([len(p) for p in pools], dtype=np.int64)
    owner = np.repeat(np.arange(len(orders)), sizes)
    team = np.concatenate(pools).astype(np.int64) if len(pools) else np.zeros(0, np.int64)
    distance = _haversine_many(o_lat[owner], o_lng[owner], t_lat[team], t_lng[team])
    radius = t_radius[team]
    # A NaN distance or radius compares False: unknown is never out of range.
    keep = ~(distance > radius) & (t_active[team] < t_capacity[team])
    owner, team, distance = owner[keep], team[keep], distance[keep]
    level = o_level[owner] - t_level[team]
    with np.errstate(divide="ignore", invalid="ignore"):
        load = np.where(t_capacity[team] > 0, t_active[team] / t_capacity[team], 1.0)
    band = np.where(np.isnan(distance), math.inf, np.floor(distance / DISTANCE_BAND_KM))
    order = np.lexsort((t_id_rank[team], -t_score[team], load, band, level, owner))
    owner, team, distance, level, load = (
        owner[order],
        team[order],
        distance[order],
        level[order],
        load[order],
    )
    counts = np.bincount(owner, minlength=len(orders))
    first = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(orders) else counts
    position = np.arange(len(owner)) - first[owner]
    top = position < limit
    owner, team, distance, level, load = (
        owner[top],
        team[top],
        distance[top],
        level[top],
        load[top],
    )
    cost = (
        level * LEVEL_COST_KM + np.where(np.isnan(distance), 50.0, distance) + load * LOAD_COST_KM
    )
    starts = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=len(orders)))))
    return RankedPairs(teams, team, level, distance, cost, starts)


def assign_pairs_jointly(
    ranked: RankedPairs, free_capacity: np.ndarray
) -> tuple[dict[int, int], float]:
    """`assign_jointly` over ranked pairs: order index → team index, and the total cost.

    Components come from scipy's connected components on the order–team graph; each one's
    matrix is built from a team-by-order cost table whose columns are repeated once per free
    place, in the order the teams first appear (the order `assign_jointly` uses).
    """
    n_orders, n_teams = len(ranked.starts) - 1, len(ranked.teams)
    owner = np.repeat(np.arange(n_orders), np.diff(ranked.starts))
    if len(owner) == 0:
        return {}, 0.0
    graph = coo_matrix(
        (np.ones(len(owner)), (owner, n_orders + ranked.team)),
        shape=(n_orders + n_teams, n_orders + n_teams),
    )
    _, labels = connected_components(graph, directed=False)
    by_component = np.argsort(labels[owner], kind="stable")
    component_of = labels[owner][by_component]
    cuts = np.flatnonzero(np.diff(component_of)) + 1
    assignment: dict[int, int] = {}
    total = 0.0
    for pairs in np.split(by_component, cuts):
        rows, row_of = np.unique(owner[pairs], return_inverse=True)
        teams, first, team_of, demand = np.unique(
            ranked.team[pairs], return_index=True, return_inverse=True, return_counts=True
        )
        appearance = np.argsort(first, kind="stable")
        local = np.empty(len(teams), dtype=np.int64)
        local[appearance] = np.arange(len(teams))
        teams, demand = teams[appearance], demand[appearance]
        places = np.minimum(demand, free_capacity[teams])
        if places.sum() == 0:
            continue
        table = np.full((len(rows), len(teams)), UNASSIGNABLE)
        table[row_of, local[team_of]] = ranked.cost[pairs]
        slot_team = np.repeat(np.arange(len(teams)), places)
        matrix = table[:, slot_team]
        chosen_rows, chosen_columns = linear_sum_assignment(matrix)
        for row, column in zip(chosen_rows.tolist(), chosen_columns.tolist(), strict=True):
            value = float(matrix[row, column])
            if value < UNASSIGNABLE:
                assignment[int(rows[row])] = int(teams[slot_team[column]])
                total += value
    return assignment, total


def assign_pairs_greedily(
    ranked: RankedPairs, free_capacity: np.ndarray
) -> tuple[dict[int, int], float]:
    """`assign_greedily` over ranked pairs."""
    left = free_capacity.tolist()
    assignment: dict[int, int] = {}
    total = 0.0
    starts = ranked.starts.tolist()
    team, cost = ranked.team.tolist(), ranked.cost.tolist()
    for i in range(len(starts) - 1):
        lo, hi = starts[i], starts[i + 1]
        for c, t in sorted(zip(cost[lo:hi], team[lo:hi], strict=True), key=lambda p: p[0]):
            if left[t] > 0:
                left[t] -= 1
                assignment[i] = t
                total += c
                break
    return assignment, total
