"""Service records (志愿服务记录): hours per volunteer per order or activity."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.orm import partial_index as _partial
from app.common.types import UTCDateTime


class RecordSource(StrEnum):
    ORDER = "order"  # written when a served order is completed
    ACTIVITY = "activity"  # confirmed attendance of an activity
    MANUAL = "manual"  # entered by a team leader or site admin (POST /records)
    IMPORT = "import"  # historical hours from another platform
    AMENDMENT = "amendment"  # a correction of another record: its minutes are the difference
    # When a correction moves a record to another day or category, the minutes leave the old
    # day first (a reversal, minus the current minutes) and an amendment restates them.
    REVERSAL = "reversal"


class ServiceRecord(SQLModel, table=True):
    """Actual service time (the rule is `DIANDAN_SERVICE_TIME_RULE`), stored exactly in minutes.
    Rows are never updated or deleted (on PostgreSQL a trigger refuses it): corrections are
    amendments that refer to the record. An amendment carries the record's corrected state
    (date, times, category, content); the service's rating is read from the order's rating."""

    __tablename__ = "service_record"
    __table_args__ = (
        # One record per volunteer per order, per activity and per imported key; the keys of
        # optional columns index only the rows that have a value (a manual record has none).
        _partial("uq_service_record_order_id_volunteer_id", "order_id", "volunteer_id"),
        _partial("uq_service_record_activity_id_volunteer_id", "activity_id", "volunteer_id"),
        _partial("uq_service_record_external_ref", "external_ref"),
        _partial("ix_service_record_amends_id", "amends_id", unique=False),
        # A volunteer's records by day: the daily limit, their list, and their lookups.
        Index("ix_service_record_volunteer_day", "volunteer_id", "service_date"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id")
    team_id: uuid.UUID = Field(foreign_key="team.id", index=True)
    order_id: uuid.UUID | None = Field(default=None, foreign_key="service_order.id")
    activity_id: uuid.UUID | None = Field(default=None, foreign_key="activity.id")
    source: str = Field(default=RecordSource.ORDER.value, sa_type=String(12))
    category_code: str = Field(foreign_key="category.code", sa_type=String(40))
    region_code: str = Field(foreign_key="region.code", sa_type=String(12))
    service_date: date
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    minutes: int
    content: str = Field(default="", max_length=1000)
    place: str = Field(default="", max_length=200)
    recorded_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # An amendment names the record it corrects and why; its `minutes` is the change (negative
    # to reduce), so that every total is the plain sum of the ledger.
    amends_id: uuid.UUID | None = Field(default=None, foreign_key="service_record.id")
    reason: str = Field(default="", max_length=500)
    # An imported record's key in the system it came from: importing it again changes nothing.
    external_ref: str | None = Field(default=None, max_length=64)


class CorrectionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CorrectionRequest(SQLModel, table=True):
    """A volunteer's request to correct an error in a record, or to add an omitted one (no
    `record_id` until it is approved: approval lands the record); the team leader or a site
    admin decides. Kept with its decision."""

    __tablename__ = "correction_request"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # The record corrected; for an omission, the record its approval created.
    record_id: uuid.UUID | None = Field(default=None, foreign_key="service_record.id", index=True)
    omission: bool = False
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    # Who decides: the team's leaders and admins over the team's region.
    team_id: uuid.UUID = Field(foreign_key="team.id", index=True)
    region_code: str = Field(foreign_key="region.code", sa_type=String(12))
    activity_id: uuid.UUID | None = Field(default=None, foreign_key="activity.id")
    requested_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    # What is asked for (None: unchanged); an omission states the date, duration and content.
    minutes: int | None = None
    content: str | None = Field(default=None, max_length=1000)
    category_code: str | None = Field(default=None, foreign_key="category.code", sa_type=String(40))
    service_date: date | None = None
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    place: str | None = Field(default=None, max_length=200)
    reason: str = Field(max_length=500)
    status: str = Field(default=CorrectionStatus.PENDING.value, sa_type=String(10), index=True)
    decided_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    decision_reason: str | None = Field(default=None, max_length=500)
    amendment_id: uuid.UUID | None = Field(default=None, foreign_key="service_record.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
