from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Index, String
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class TeamStats(SQLModel, table=True):
    """Counters behind a team's score, kept in the transaction of the event that changes them."""

    __tablename__ = "team_stats"

    team_id: uuid.UUID = Field(foreign_key="team.id", primary_key=True)
    rating_count: int = 0
    rating_sum: int = 0
    orders_completed: int = 0
    orders_released: int = 0
    accepts: int = 0
    accept_seconds_sum: float = 0.0
    served_months: list[str] = Field(default_factory=list, sa_type=JSON)  # "YYYY-MM", last 12
    score: float | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PeriodKind(StrEnum):
    ALL = "all"  # key 0
    YEAR = "year"  # key 2026
    QUARTER = "quarter"  # key 20264 (year·10 + quarter)
    MONTH = "month"  # key 202611 (year·100 + month)


class VolunteerTotal(SQLModel, table=True):
    """A volunteer's figures per period, moved in the transaction of what changes them: the
    minutes recorded and records (every record and amendment), the points awarded (points
    entries; redemptions do not lower them, the balance is elsewhere) and the ratings of the
    orders served. One row per period, so that a record moves one row per period, hours and
    points alike. Leaderboards read these, never the ledgers; `python -m
    app.scoring.recompute` rebuilds them.

    Periods: minutes and points for service count in the period of the service date; bonuses,
    adjustments and ratings in the period (China time) they were given."""

    __tablename__ = "volunteer_total"
    __table_args__ = (
        Index("ix_volunteer_total_board", "period_kind", "period", "minutes"),
        Index("ix_volunteer_total_region", "period_kind", "period", "region_code", "minutes"),
        Index("ix_volunteer_total_points", "period_kind", "period", "points"),
        Index("ix_volunteer_total_region_points", "period_kind", "period", "region_code", "points"),
    )

    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", primary_key=True)
    period_kind: str = Field(primary_key=True, sa_type=String(8))
    period: int = Field(primary_key=True)
    # The volunteer's region (it follows them when they move, with their history).
    region_code: str = Field(sa_type=String(12))
    minutes: int = Field(default=0, sa_type=BigInteger)
    records: int = 0
    points: int = Field(default=0, sa_type=BigInteger)
    rating_sum: int = 0  # stars of the rated orders the volunteer served
    rating_count: int = 0


class TeamTotal(SQLModel, table=True):
    """The same per team: records landed for the team, the points its service earned (records
    and five-star bonuses of its orders), and the ratings of its orders.

    Unlike the volunteers', no index holds a figure: a city has some thousands of teams, and a
    team board reads a period's rows of the region subtree and sorts them. So moving a team's
    figures changes no index, and PostgreSQL updates the row in place (a HOT update; the table
    is filled to 70 % to leave the room for it), which every record does four times."""

    __tablename__ = "team_total"
    __table_args__ = (Index("ix_team_total_region", "period_kind", "period", "region_code"),)

    team_id: uuid.UUID = Field(foreign_key="team.id", primary_key=True)
    period_kind: str = Field(primary_key=True, sa_type=String(8))
    period: int = Field(primary_key=True)
    region_code: str = Field(sa_type=String(12))
    minutes: int = Field(default=0, sa_type=BigInteger)
    records: int = 0
    points: int = Field(default=0, sa_type=BigInteger)
    rating_sum: int = 0
    rating_count: int = 0


class StarGrant(SQLModel, table=True):
    """Star levels granted (or lowered) over time; the latest row is the volunteer's level.
    Eligibility is computed from hours; a grant is a decision, kept with who and why."""

    __tablename__ = "star_grant"
    __table_args__ = (Index("ix_star_grant_volunteer_created", "volunteer_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id")
    level: int
    previous_level: int
    eligible_level: int
    reason: str = Field(default="", max_length=300)
    granted_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")  # None: auto
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
