from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.types import UTCDateTime


class Category(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=40, sa_type=String(40))
    name_zh: str = Field(max_length=50)
    name_en: str = Field(max_length=100)
    description: str = Field(default="", max_length=500)
    sort_order: int = 0
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
