from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from app.common.location import Location


class ActivityCreate(BaseModel):
    title: str = Field(min_length=2, max_length=100, examples=["五号志愿服务日:义诊"])
    category_code: str = Field(max_length=40)
    description: str = Field(default="", max_length=2000)
    place: str = Field(min_length=1, max_length=200)
    location: Location | None = Field(default=None, description="Needed for phone check-in")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    signup_deadline: AwareDatetime | None = Field(default=None, description="Default: the start")
    capacity: int = Field(ge=1, le=10_000, description="Volunteers wanted")
    order_id: uuid.UUID | None = Field(default=None, description="The order it serves, if any")


class ActivityOut(BaseModel):
    id: uuid.UUID
    team_id: uuid.UUID
    order_id: uuid.UUID | None
    region_code: str
    title: str
    category_code: str
    description: str
    place: str
    location: Location | None
    starts_at: datetime
    ends_at: datetime
    signup_deadline: datetime
    capacity: int
    signed_up: int
    status: str
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    filed_at: datetime | None = Field(default=None, description="When the record was filed")
    report_due_at: datetime = Field(
        description="The activity record is due `DIANDAN_ACTIVITY_REPORT_DAYS` after the end"
    )
    report_overdue: bool = Field(description="Not filed by its due time (and not cancelled)")
    my_signup: str | None = Field(default=None, description="The caller's sign-up, if any")


class Cancellation(BaseModel):
    reason: str = Field(min_length=2, max_length=500, examples=["暴雨预警,活动取消"])


class TeamWithoutActivity(BaseModel):
    team_id: uuid.UUID
    name: str
    region_code: str
    last_activity_at: datetime | None = Field(description="Its last confirmed activity's start")


class CheckIn(BaseModel):
    location: Location


class RosterEntry(BaseModel):
    volunteer_id: uuid.UUID
    checked_in_at: AwareDatetime | None = None
    checked_out_at: AwareDatetime | None = None


class Roster(BaseModel):
    entries: list[RosterEntry] = Field(min_length=1, max_length=1000)


class Attendance(BaseModel):
    volunteer_id: uuid.UUID
    hours: float | None = Field(
        default=None, gt=0, le=24, description="Default: the checked-in time within the activity"
    )


class Confirmation(BaseModel):
    attendance: list[Attendance] | None = Field(
        default=None, description="Default: everyone checked in", max_length=1000
    )


class SignupOut(BaseModel):
    volunteer_id: uuid.UUID
    name: str
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    check_in_by: str | None


class AttendanceOut(SignupOut):
    hours: float | None = Field(description="Recorded hours (after amendments); None: none yet")


class ActivityReport(BaseModel):
    """志愿服务活动记录表: due `DIANDAN_ACTIVITY_REPORT_DAYS` (3) days after the activity."""

    organiser: str = Field(min_length=1, max_length=100, description="组织单位")
    leading_official: str = Field(min_length=1, max_length=50, description="带队领导")
    party_members: int = Field(ge=0, le=100_000, description="参加党员人数")
    unit_party_members: int = Field(ge=0, le=100_000, description="本单位党员总数")
    report: str = Field(min_length=1, max_length=2000, description="服务内容")
    photo_url: str | None = Field(default=None, max_length=500, description="活动照片")
    notes: str | None = Field(default=None, max_length=1000, description="备注")
