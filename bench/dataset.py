"""A synthetic region tree of realistic shape, with sites and teams, bulk-loaded.

Shape per county (from the 盐湖区 demo and seed 004's city): one centre with 20 teams, 15
townships with an institute and 5 teams each, 20 villages per township with a station and one
team. That is 395 teams a county: 8 counties ≈ 3,200 teams (a city), 76 counties ≈ 30,000 (a
province). Larger datasets grow in breadth, as real ones do, not in teams per site.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from sqlalchemy import Engine, insert, update
from sqlmodel import col

from app.catalog.models import Category
from app.common.clock import utcnow
from app.common.ids import new_id
from app.regions.models import Region
from app.sites.models import Site
from app.teams.models import Team, TeamSpecialty

TOWNSHIPS_PER_COUNTY = 15
VILLAGES_PER_TOWNSHIP = 20
CENTER_TEAMS = 20
INSTITUTE_TEAMS = 5
TEAMS_PER_COUNTY = CENTER_TEAMS + TOWNSHIPS_PER_COUNTY * (INSTITUTE_TEAMS + VILLAGES_PER_TOWNSHIP)
CATEGORIES = [
    "care",
    "digital_elderly",
    "legal_aid",
    "health_education",
    "medical_fitness",
    "civility",
    "environment",
    "safety",
    "policy_outreach",
    "theory_talk",
    "culture_arts",
    "youth",
    "tutoring",
    "family_education",
    "poverty_relief",
    "science_outreach",
]


@dataclass
class Dataset:
    villages: list[tuple[str, float, float]] = field(default_factory=list)  # code, lat, lng
    team_count: int = 0
    county_count: int = 0


def _jitter(rng: random.Random, lat: float, lng: float, km: float) -> tuple[float, float]:
    return lat + rng.uniform(-km, km) / 111.0, lng + rng.uniform(-km, km) / 91.0


def build(engine: Engine, *, counties: int, seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    now = utcnow()
    regions: list[dict[str, object]] = [
        {"code": "140000000000", "name": "山西省", "level": 1, "parent_code": None}
    ]
    sites: list[dict[str, object]] = []
    teams: list[dict[str, object]] = []
    specialties: list[dict[str, object]] = []
    data = Dataset(county_count=counties)
    cities = sorted({1 + i // 10 for i in range(counties)})
    for city in cities:
        regions.append(
            {
                "code": f"14{city:02d}00000000",
                "name": f"市{city:02d}",
                "level": 2,
                "parent_code": "140000000000",
            }
        )

    def site_and_teams(
        code: str, level: str, lat: float, lng: float, n: int, radius: float | None
    ) -> None:
        site_id = new_id()
        sites.append(
            {
                "id": site_id,
                "name": f"站点{code}",
                "level": level,
                "region_code": code,
                "address": "",
                "lat": lat,
                "lng": lng,
                "coord_system": "wgs84",
                "wgs_lat": lat,
                "wgs_lng": lng,
                "created_at": now,
            }
        )
        for _ in range(n):
            team_id = new_id()
            tlat, tlng = _jitter(rng, lat, lng, 1.0)
            teams.append(
                {
                    "id": team_id,
                    "name": f"服务队{len(teams):05d}",
                    "site_id": site_id,
                    "region_code": code,
                    "brand": None,
                    "description": "",
                    "capacity": rng.randint(2, 8),
                    "active_orders": 0,
                    "status": "active",
                    "service_radius_km": radius,
                    "founded_on": None,
                    "lat": tlat,
                    "lng": tlng,
                    "coord_system": "wgs84",
                    "wgs_lat": tlat,
                    "wgs_lng": tlng,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            chosen = {"care"} if rng.random() < 0.6 else set()
            chosen.update(rng.sample(CATEGORIES, rng.randint(1, 3)))
            specialties.extend({"team_id": team_id, "category_code": c} for c in chosen)

    for index in range(counties):
        city = 1 + index // 10
        county = f"14{city:02d}{index % 10 + 1:02d}000000"
        regions.append(
            {
                "code": county,
                "name": f"县{index:02d}",
                "level": 3,
                "parent_code": f"14{city:02d}00000000",
            }
        )
        clat, clng = 34.5 + (index // 9) * 0.6, 110.0 + (index % 9) * 0.7
        site_and_teams(county, "center", clat, clng, CENTER_TEAMS, None)
        for t in range(TOWNSHIPS_PER_COUNTY):
            township = county[:6] + f"{100 + t:03d}000"
            regions.append(
                {"code": township, "name": f"镇{t:02d}", "level": 4, "parent_code": county}
            )
            tlat, tlng = _jitter(rng, clat, clng, 15.0)
            site_and_teams(township, "institute", tlat, tlng, INSTITUTE_TEAMS, 20.0)
            for v in range(VILLAGES_PER_TOWNSHIP):
                village = township[:9] + f"{200 + v:03d}"
                regions.append(
                    {"code": village, "name": f"村{v:02d}", "level": 5, "parent_code": township}
                )
                vlat, vlng = _jitter(rng, tlat, tlng, 3.0)
                site_and_teams(village, "station", vlat, vlng, 1, 5.0)
                data.villages.append((village, vlat, vlng))
    with engine.begin() as conn:
        for table, rows in (
            (Region, regions),
            (Site, sites),
            (Team, teams),
            (TeamSpecialty, specialties),
        ):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[start : start + 5000])
    # Fresh planner statistics, as a live database has; without them the first minutes of a run
    # measure whatever plan the empty-table estimates produce.
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    data.team_count = len(teams)
    return data


def make_category_self_serve(engine: Engine, code: str = "care") -> None:
    """Auto-approve and auto-dispatch, so that placing an order also dispatches it."""
    with engine.begin() as conn:
        conn.execute(
            update(Category)
            .where(col(Category.code) == code)
            .values(auto_approve=True, auto_dispatch=True)
        )


def random_order_point(rng: random.Random, data: Dataset) -> tuple[str, float, float]:
    code, lat, lng = rng.choice(data.villages)
    plat, plng = _jitter(rng, lat, lng, 1.5)
    return code, plat, plng


__all__ = ["Dataset", "build", "make_category_self_serve", "random_order_point", "uuid"]
