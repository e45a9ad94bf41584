from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, LargeBinary, String
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class VolunteerStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Volunteer(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", unique=True)
    real_name: str = Field(max_length=50)
    phone_cipher: bytes = Field(sa_type=LargeBinary)
    phone_hash: str = Field(max_length=64, index=True)
    phone_masked: str = Field(max_length=16)
    id_number_cipher: bytes | None = Field(default=None, sa_type=LargeBinary)
    id_number_hash: str | None = Field(default=None, unique=True, max_length=64)
    id_number_masked: str | None = Field(default=None, max_length=24)
    region_code: str = Field(foreign_key="region.code", index=True, sa_type=String(12))
    skills: list[str] = Field(default_factory=list, sa_type=JSON)
    national_code: str | None = Field(default=None, unique=True, max_length=40)
    status: str = Field(default=VolunteerStatus.PENDING.value, sa_type=String(12), index=True)
    review_reason: str | None = Field(default=None, max_length=500)
    reviewed_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VolunteerTransfer(SQLModel, table=True):
    """A volunteer's move to another region or team: who moved them, when, from where, to where
    and why. The volunteer's records, totals, points, stars and certificates stay theirs."""

    __tablename__ = "volunteer_transfer"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    from_region_code: str = Field(sa_type=String(12))
    to_region_code: str = Field(foreign_key="region.code", sa_type=String(12))
    # Teams left with the move, and the team joined (if any).
    left_team_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    to_team_id: uuid.UUID | None = Field(default=None, foreign_key="team.id")
    reason: str = Field(max_length=500)
    moved_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
