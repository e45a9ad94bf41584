from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlmodel import Field

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.location import LocatedRow
from app.common.types import UTCDateTime


class ActivityStatus(StrEnum):
    PUBLISHED = "published"  # open for sign-up until the deadline
    CONFIRMED = "confirmed"  # attendance confirmed: records written
    CANCELLED = "cancelled"


class Activity(LocatedRow, table=True):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("signed_up <= capacity", name="within_capacity"),
        Index("ix_activity_region_starts", "region_code", "starts_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    team_id: uuid.UUID = Field(foreign_key="team.id", index=True)
    order_id: uuid.UUID | None = Field(default=None, foreign_key="service_order.id")
    region_code: str = Field(foreign_key="region.code", sa_type=String(12))
    title: str = Field(max_length=100)
    category_code: str = Field(foreign_key="category.code", sa_type=String(40))
    description: str = Field(default="", max_length=2000)
    place: str = Field(max_length=200)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    signup_deadline: datetime = Field(sa_type=UTCDateTime)
    capacity: int
    signed_up: int = 0
    status: str = Field(default=ActivityStatus.PUBLISHED.value, sa_type=String(10))
    created_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str | None = Field(default=None, max_length=500)
    # The activity record (志愿服务活动记录表), filed within `DIANDAN_ACTIVITY_REPORT_DAYS`
    # after the activity ends.
    organiser: str | None = Field(default=None, max_length=100)
    leading_official: str | None = Field(default=None, max_length=50)
    party_members: int | None = None
    unit_party_members: int | None = None
    report: str | None = Field(default=None, max_length=2000)
    photo_url: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=1000)
    filed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignupStatus(StrEnum):
    SIGNED_UP = "signed_up"
    CANCELLED = "cancelled"


class ActivitySignup(LocatedRow, table=True):
    """A volunteer's place in an activity; the located columns hold where they checked in."""

    __tablename__ = "activity_signup"
    __table_args__ = (UniqueConstraint("activity_id", "volunteer_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    activity_id: uuid.UUID = Field(foreign_key="activity.id", index=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    status: str = Field(default=SignupStatus.SIGNED_UP.value, sa_type=String(10))
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    check_in_by: str | None = Field(default=None, sa_type=String(8))  # "phone" or "roster"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _register_in_change_feed() -> None:
    from app.sync.capture import Tracked, track

    track(Activity, Tracked("activity", lambda a: a.id, lambda _s, a: a.region_code))


_register_in_change_feed()
