from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from app.common.location import Location
from app.teams.models import MemberRole, TeamStatus

SPECIALTIES_MAX = 20


class TeamCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["蓝色法律援助志愿服务队"])
    site_id: uuid.UUID = Field(description="Home site; its level is the team's dispatch level")
    specialties: list[str] = Field(min_length=1, max_length=SPECIALTIES_MAX)
    brand: str | None = Field(default=None, max_length=30, examples=["蓝色法律援助"])
    description: str = Field(default="", max_length=1000)
    location: Location | None = Field(default=None, description="Base location")
    service_radius_km: float | None = Field(default=None, gt=0, le=500)
    capacity: int = Field(default=3, ge=1, le=1000, description="Requests held at once")
    founded_on: date | None = None
    leader_volunteer_id: uuid.UUID | None = None


class TeamUpdate(BaseModel):
    """Leaders may change the profile fields; `status` and `leader_volunteer_id` are for admins."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    specialties: list[str] | None = Field(default=None, min_length=1, max_length=SPECIALTIES_MAX)
    brand: str | None = Field(default=None, max_length=30)
    description: str | None = Field(default=None, max_length=1000)
    location: Location | None = None
    service_radius_km: float | None = Field(default=None, gt=0, le=500)
    capacity: int | None = Field(default=None, ge=1, le=1000)
    founded_on: date | None = None
    status: TeamStatus | None = None
    leader_volunteer_id: uuid.UUID | None = None


class TeamLeaderOut(BaseModel):
    volunteer_id: uuid.UUID
    name: str = Field(description="Masked for callers outside the team, e.g. 张*")


class TeamOut(BaseModel):
    id: uuid.UUID
    name: str
    site_id: uuid.UUID
    region_code: str
    brand: str | None
    description: str
    specialties: list[str]
    location: Location | None
    service_radius_km: float | None
    capacity: int
    status: TeamStatus
    founded_on: date | None
    leader: TeamLeaderOut | None
    member_count: int
    created_at: datetime


class MemberAdd(BaseModel):
    volunteer_id: uuid.UUID
    role: MemberRole = MemberRole.MEMBER


class MemberOut(BaseModel):
    volunteer_id: uuid.UUID
    real_name: str
    phone: str = Field(description="Masked")
    role: MemberRole
    joined_at: datetime


class ProjectCreate(BaseModel):
    title: str = Field(min_length=2, max_length=100, examples=["上门理发"])
    description: str = Field(default="", max_length=1000)
    category_code: str = Field(max_length=40, description="One of the team's specialties")


class ProjectUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=2, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    active: bool | None = None


class ProjectOut(BaseModel):
    id: uuid.UUID
    team_id: uuid.UUID
    team_name: str
    region_code: str = Field(description="The team's home region")
    category_code: str
    title: str
    description: str
    active: bool
    created_at: datetime
