from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("principal_id", "key"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    principal_id: uuid.UUID = Field(foreign_key="app_user.id")
    key: str = Field(max_length=255)
    operation: str = Field(sa_type=String(100))
    fingerprint: str = Field(max_length=64)
    # None while the first request is still running.
    response_status: int | None = None
    response_body: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
