from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
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
