from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, String
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    actor_user_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", index=True)
    action: str = Field(max_length=60)
    subject_type: str = Field(max_length=40)
    subject_id: str = Field(max_length=64, index=True, sa_type=String(64))
    detail: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
