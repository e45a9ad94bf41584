from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.volunteers.models import VolunteerStatus

SKILLS_MAX = 20


class VolunteerCreate(BaseModel):
    real_name: str = Field(min_length=1, max_length=50, examples=["李明"])
    phone: str = Field(min_length=5, max_length=20, examples=["13800138000"])
    id_number: str | None = Field(
        default=None, max_length=18, description="Optional 18-character resident ID number"
    )
    region_code: str = Field(pattern=r"^\d{12}$", description="Where the volunteer lives")
    skills: list[str] = Field(
        default_factory=list, max_length=SKILLS_MAX, description="Category codes"
    )
    national_code: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[0-9A-Za-z-]+$",
        description="Unified national volunteer code, if already registered nationally",
    )


class VolunteerUpdate(BaseModel):
    skills: list[str] | None = Field(default=None, max_length=SKILLS_MAX)
    national_code: str | None = Field(default=None, max_length=40, pattern=r"^[0-9A-Za-z-]+$")


class VolunteerOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    real_name: str
    phone: str = Field(description="Masked, e.g. 138****8000")
    id_number: str | None = Field(description="Masked, e.g. 110105********0123")
    region_code: str
    skills: list[str]
    national_code: str | None
    status: VolunteerStatus
    review_reason: str | None
    reviewed_at: datetime | None
    created_at: datetime


class VolunteerPersonal(BaseModel):
    """Unmasked numbers; every read is written to the audit log."""

    id: uuid.UUID
    real_name: str
    phone: str
    id_number: str | None


class ApproveVolunteer(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class RejectVolunteer(BaseModel):
    reason: str = Field(min_length=2, max_length=500, examples=["身份信息不完整,请补充后重新提交"])


class TransferIn(BaseModel):
    region_code: str = Field(pattern=r"^\d{12}$", description="Where the volunteer now lives")
    team_id: uuid.UUID | None = Field(default=None, description="A team to join at the new place")
    leave_teams: bool = Field(
        default=True, description="Leave the teams of the old place (the new team is kept)"
    )
    reason: str = Field(min_length=2, max_length=500, examples=["搬迁至新社区居住"])


class TransferOut(BaseModel):
    id: uuid.UUID
    volunteer_id: uuid.UUID
    from_region_code: str
    to_region_code: str
    left_team_ids: list[uuid.UUID]
    to_team_id: uuid.UUID | None
    reason: str
    moved_by_id: uuid.UUID
    created_at: datetime
