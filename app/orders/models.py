from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.location import LocatedRow
from app.common.types import UTCDateTime


class Order(LocatedRow, table=True):
    __tablename__ = "service_order"
    __table_args__ = (
        Index("ix_service_order_status_region_code", "status", "region_code"),
        Index("ix_service_order_team_id_status", "team_id", "status"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    requester_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    category_code: str = Field(foreign_key="category.code", sa_type=String(40))
    preferred_team_id: uuid.UUID | None = Field(default=None, foreign_key="team.id")
    project_id: uuid.UUID | None = Field(default=None, foreign_key="service_project.id")
    title: str = Field(max_length=100)
    description: str = Field(default="", sa_type=Text)
    address: str = Field(default="", max_length=200)
    region_code: str = Field(foreign_key="region.code", sa_type=String(12))
    review_site_id: uuid.UUID = Field(foreign_key="site.id", index=True)
    window_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    window_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    people_needed: int = 1
    contact_name: str = Field(max_length=50)
    contact_phone_cipher: bytes = Field(sa_type=LargeBinary)
    contact_phone_masked: str = Field(max_length=16)
    channel: str = Field(sa_type=String(12))
    status: str = Field(sa_type=String(20))
    status_reason: str | None = Field(default=None, max_length=500)
    referral: str | None = Field(default=None, max_length=500)
    team_id: uuid.UUID | None = Field(default=None, foreign_key="team.id")
    dispatch_mode: str | None = Field(default=None, sa_type=String(10))
    review_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accept_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    complete_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    overdue_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    volunteer_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    report_summary: str | None = Field(default=None, sa_type=Text)
    report_photos: list[str] = Field(default_factory=list, sa_type=JSON)
    participants: int | None = None
    party_members: int | None = None
    # Serialises the events of one order: each event takes the next number under the row lock.
    last_event_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OrderEvent(SQLModel, table=True):
    __tablename__ = "order_event"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    order_id: uuid.UUID = Field(foreign_key="service_order.id")
    seq: int
    kind: str = Field(sa_type=String(30))
    from_status: str | None = Field(default=None, sa_type=String(20))
    to_status: str | None = Field(default=None, sa_type=String(20))
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    actor_role: str = Field(default="system", sa_type=String(20))
    reason: str | None = Field(default=None, max_length=500)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrderRating(SQLModel, table=True):
    __tablename__ = "order_rating"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    order_id: uuid.UUID = Field(foreign_key="service_order.id", unique=True)
    team_id: uuid.UUID = Field(foreign_key="team.id", index=True)
    stars: int
    timeliness: int | None = None
    attitude: int | None = None
    result: int | None = None
    comment: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Complaint(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    order_id: uuid.UUID = Field(foreign_key="service_order.id", index=True)
    requester_id: uuid.UUID = Field(foreign_key="app_user.id")
    region_code: str = Field(foreign_key="region.code", index=True, sa_type=String(12))
    content: str = Field(max_length=2000)
    status: str = Field(default="open", sa_type=String(12))
    resolution: str | None = Field(default=None, max_length=2000)
    resolved_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
