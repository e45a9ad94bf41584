from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.common.location import Location
from app.sites.models import SiteLevel


class SiteCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["盐湖区新时代文明实践中心"])
    region_code: str = Field(
        pattern=r"^\d{12}$",
        description="The site's region; its level decides the site's: county and above → center, "
        "township → institute, village/community → station",
    )
    address: str = Field(default="", max_length=200)
    location: Location | None = None


class SiteUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, max_length=200)
    location: Location | None = None


class SiteOut(BaseModel):
    id: uuid.UUID
    name: str
    level: SiteLevel
    region_code: str
    region_name: str
    address: str
    location: Location | None
    created_at: datetime


class SiteAdminAdd(BaseModel):
    user_id: uuid.UUID


class SiteAdminOut(BaseModel):
    user_id: uuid.UUID
    display_name: str
    username: str | None
