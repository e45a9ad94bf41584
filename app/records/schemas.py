from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, Field

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
    source: str = Field(description="order, activity, manual, import, or amendment")
    amends_id: uuid.UUID | None = Field(
        default=None, description="For an amendment: the record it corrects (minutes: the change)"
    )
    reason: str = ""


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


class RecordCreate(BaseModel):
    """A record entered by a team leader or a site admin (activities and orders write their own)."""

    volunteer_id: uuid.UUID
    team_id: uuid.UUID
    category_code: str = Field(max_length=40)
    service_date: date
    hours: float = Field(gt=0, le=24, description="Service time in hours; stored in whole minutes")
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    content: str = Field(min_length=1, max_length=1000, description="服务内容")
    place: str = Field(default="", max_length=200)


class AmendmentCreate(BaseModel):
    reason: str = Field(min_length=2, max_length=500, description="Why the record is corrected")
    hours: float | None = Field(
        default=None, ge=0, le=24, description="The corrected hours (0 voids the record)"
    )
    content: str | None = Field(default=None, min_length=1, max_length=1000)


class CorrectionCreate(BaseModel):
    reason: str = Field(min_length=2, max_length=500)
    hours: float | None = Field(default=None, ge=0, le=24)
    content: str | None = Field(default=None, min_length=1, max_length=1000)


class CorrectionDecision(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class LedgerRowOut(BaseModel):
    """One row of the append-only ledger: a record, or an amendment of one."""

    id: uuid.UUID
    volunteer_id: uuid.UUID
    team_id: uuid.UUID
    source: str
    service_date: date
    started_at: datetime | None
    ended_at: datetime | None
    minutes: int = Field(description="For an amendment: the change in minutes")
    category_code: str
    region_code: str
    content: str
    place: str
    order_id: uuid.UUID | None
    activity_id: uuid.UUID | None
    amends_id: uuid.UUID | None
    reason: str
    recorded_by_id: uuid.UUID
    created_at: datetime


class RecordDetailOut(BaseModel):
    record: LedgerRowOut
    amendments: list[LedgerRowOut]
    effective_minutes: int
    effective_hours: float
    rule: str = Field(default=SERVICE_TIME_RULE)


class CorrectionOut(BaseModel):
    id: uuid.UUID
    record_id: uuid.UUID
    volunteer_id: uuid.UUID
    minutes: int | None
    content: str | None
    reason: str
    status: str
    decided_by_id: uuid.UUID | None
    decision_reason: str | None
    amendment_id: uuid.UUID | None
    created_at: datetime
    decided_at: datetime | None
