from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.location import LocatedRow
from app.common.types import UTCDateTime


class SiteLevel(StrEnum):
    CENTER = "center"  # 新时代文明实践中心, county or district
    INSTITUTE = "institute"  # 新时代文明实践所, township or street
    STATION = "station"  # 新时代文明实践站, village or community


class Site(LocatedRow, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100)
    level: str = Field(sa_type=String(12))
    region_code: str = Field(
        foreign_key="region.code",
        unique=True,
        sa_type=String(12),
        description="One site per region; its admins act on this region's subtree",
    )
    address: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
