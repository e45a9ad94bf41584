from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

SERVICE_TIME_RULE = "实际服务时长,不含往返路途时间 / actual time spent serving, travel excluded"


class RecordOut(BaseModel):
    id: uuid.UUID
    service_date: date
    minutes: int = Field(description="Stored exactly, in whole minutes")
    hours: float = Field(description="minutes / 60, rounded to two places, for display")
    category_code: str
    team_id: uuid.UUID
    order_id: uuid.UUID | None
    region_code: str
    content: str
    recorded_at: datetime


class StarOut(BaseModel):
    eligible_level: int = Field(description="Stars the recorded hours qualify for (0 … 5)")
    next_level_hours: int | None
    hours_to_next: float | None


class RecordSummaryOut(BaseModel):
    volunteer_id: uuid.UUID
    records: int
    total_minutes: int
    total_hours: float
    star: StarOut
    thresholds_hours: list[int]
    rule: str = Field(default=SERVICE_TIME_RULE, description="What counts as service time")
