from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class Certificate(SQLModel, table=True):
    __tablename__ = "certificate"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code: str = Field(max_length=16, unique=True)  # the verification code
    number: str = Field(max_length=40, unique=True)  # 证明编号
    volunteer_id: uuid.UUID = Field(foreign_key="volunteer.id", index=True)
    # What the certificate states, exactly as signed.
    content: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    signature: str = Field(max_length=64)
    issued_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
