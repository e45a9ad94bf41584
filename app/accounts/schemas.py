from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from app.volunteers.models import VolunteerStatus


class AdminSiteOut(BaseModel):
    site_id: uuid.UUID
    region_code: str


class MyVolunteerOut(BaseModel):
    id: uuid.UUID
    status: VolunteerStatus


class MyTeamOut(BaseModel):
    team_id: uuid.UUID
    role: str


class MeOut(BaseModel):
    id: uuid.UUID
    username: str | None
    display_name: str
    phone: str | None = Field(description="Masked")
    home_region_code: str | None
    roles: list[str] = Field(
        description="resident, volunteer, team_leader, site_admin, platform_admin, integrator"
    )
    admin_of_sites: list[AdminSiteOut] = Field(description="Site admins act on these subtrees")
    volunteer: MyVolunteerOut | None
    teams: list[MyTeamOut]


class MeUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=50)
    home_region_code: str | None = Field(default=None, pattern=r"^\d{12}$")


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=128)
    display_name: str = Field(min_length=1, max_length=50)
    phone: str | None = Field(default=None, max_length=20)


class UserOut(BaseModel):
    id: uuid.UUID
    username: str | None
    display_name: str
