from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, Field

from app.config import SERVICE_TIME_RULE

RULE_DOC = (
    "Service time (服务时长): the rule set by DIANDAN_SERVICE_TIME_RULE, by default "
    f"“{SERVICE_TIME_RULE}”; every record read states the rule in force (`rule`)."
)


class RecordOut(BaseModel):
    id: uuid.UUID
    service_date: date
    minutes: int = Field(description="Stored exactly, in whole minutes")
    hours: float = Field(description="minutes / 60, rounded to two places, for display")
    category_code: str
    team_id: uuid.UUID
    order_id: uuid.UUID | None
    activity_id: uuid.UUID | None = None
    region_code: str
    content: str
    place: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    recorded_by_id: uuid.UUID = Field(description="Who entered the row (user id)")
    recorded_at: datetime
    source: str = Field(description="order, activity, manual, import, amendment or reversal")
    amends_id: uuid.UUID | None = Field(
        default=None, description="For an amendment: the record it corrects (minutes: the change)"
    )
    reason: str = ""
    rating: int | None = Field(
        default=None, description="The requester's rating of the order served (1 … 5), if any"
    )
    rule: str = Field(default=SERVICE_TIME_RULE, description="What counts as service time")


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


class CorrectionFields(BaseModel):
    """What a correction changes; what is left out stays as it is."""

    hours: float | None = Field(
        default=None, ge=0, le=24, description="The corrected hours (0 voids the record)"
    )
    content: str | None = Field(default=None, min_length=1, max_length=1000)
    service_date: date | None = Field(default=None, description="The corrected date (China)")
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    category_code: str | None = Field(default=None, max_length=40)


class AmendmentCreate(CorrectionFields):
    reason: str = Field(min_length=2, max_length=500, description="Why the record is corrected")


class CorrectionCreate(CorrectionFields):
    reason: str = Field(min_length=2, max_length=500)


class OmissionCreate(BaseModel):
    """A volunteer's request to add a service that was not recorded (补录申请)."""

    team_id: uuid.UUID = Field(description="The team served with (the activity's team)")
    activity_id: uuid.UUID | None = Field(default=None, description="The activity, if any")
    category_code: str | None = Field(
        default=None, max_length=40, description="Required without an activity"
    )
    service_date: date
    hours: float = Field(gt=0, le=24)
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    content: str = Field(min_length=1, max_length=1000, description="服务内容")
    place: str = Field(default="", max_length=200)
    reason: str = Field(min_length=2, max_length=500, description="Why it was not recorded")


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
    rating: int | None = Field(default=None, description="The order's rating (1 … 5), if any")


class RecordDetailOut(BaseModel):
    record: LedgerRowOut
    amendments: list[LedgerRowOut]
    effective_minutes: int
    effective_hours: float
    effective_service_date: date
    effective_started_at: datetime | None
    effective_ended_at: datetime | None
    effective_category_code: str
    effective_content: str
    rule: str = Field(default=SERVICE_TIME_RULE)


class CorrectionOut(BaseModel):
    id: uuid.UUID
    record_id: uuid.UUID | None = Field(
        description="The record corrected; for an omission, the record its approval created"
    )
    omission: bool
    volunteer_id: uuid.UUID
    team_id: uuid.UUID
    activity_id: uuid.UUID | None
    minutes: int | None
    content: str | None
    category_code: str | None
    service_date: date | None
    started_at: datetime | None
    ended_at: datetime | None
    place: str | None
    reason: str
    status: str
    decided_by_id: uuid.UUID | None
    decision_reason: str | None
    amendment_id: uuid.UUID | None
    created_at: datetime
    decided_at: datetime | None
