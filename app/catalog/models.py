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
    # Service levels (a city hotline's tiers are the defaults: 2 h urgent, 24 h, 7 d, 15 d).
    auto_approve: bool = False
    auto_dispatch: bool = False
    review_hours: int = 24
    accept_hours: int = 24
    complete_hours: int = 168
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
