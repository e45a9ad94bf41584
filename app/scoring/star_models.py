"""Tables of the star-level process: per-region thresholds, eligibility notices, applications."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, String, text
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class StarThresholds(SQLModel, table=True):
    """Hours for 1★, 2★ … in a region's subtree; the nearest ancestor's row applies, and
    `DIANDAN_STAR_THRESHOLDS_HOURS` where no region above has one."""

    __tablename__ = "star_thresholds"

    region_code: str = Field(foreign_key="region.code", primary_key=True, sa_type=String(12))
    hours: list[int] = Field(sa_type=JSON)
    updated_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StarNotice(SQLModel, table=True):
    """The highest level a volunteer has been told they qualify for: each level is told once."""

    __tablename__ = "star_notice"

    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", primary_key=True)
    level: int
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StarApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class StarApplication(SQLModel, table=True):
    """A volunteer's application for the level their hours qualify for, and its decision."""

    __tablename__ = "star_application"
    __table_args__ = (
        # One open application per volunteer.
        Index(
            "uq_star_application_pending",
            "volunteer_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    level: int
    eligible_level: int  # when applying
    note: str = Field(default="", max_length=300)
    status: str = Field(default=StarApplicationStatus.PENDING.value, sa_type=String(12))
    decided_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_reason: str | None = Field(default=None, max_length=300)
    grant_id: uuid.UUID | None = Field(default=None, foreign_key="star_grant.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
