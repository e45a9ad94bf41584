from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class ServiceRecord(SQLModel, table=True):
    """Actual service time, excluding travel, stored exactly in minutes."""

    __tablename__ = "service_record"
    __table_args__ = (UniqueConstraint("order_id", "volunteer_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    team_id: uuid.UUID = Field(foreign_key="team.id", index=True)
    order_id: uuid.UUID | None = Field(default=None, foreign_key="service_order.id")
    category_code: str = Field(foreign_key="category.code", sa_type=String(40))
    region_code: str = Field(foreign_key="region.code", sa_type=String(12))
    service_date: date
    minutes: int
    content: str = Field(default="", max_length=1000)
    recorded_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
