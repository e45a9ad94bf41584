from __future__ import annotations

from sqlalchemy import SmallInteger, String
from sqlmodel import Field, SQLModel

import app.common  # noqa: F401  (sets the naming convention first)


class Region(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=12, sa_type=String(12))
    name: str = Field(max_length=100)
    level: int = Field(sa_type=SmallInteger, description="1 province … 5 village/community")
    parent_code: str | None = Field(
        default=None, foreign_key="region.code", index=True, sa_type=String(12)
    )
