from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class PushState(SQLModel, table=True):
    """How far a push connector's receiver has acknowledged the change feed."""

    __tablename__ = "push_state"

    connector: str = Field(primary_key=True, max_length=40)
    acknowledged_seq: int = Field(default=0, sa_type=BigInteger)
    # The batch being sent: after a crash it is rebuilt with the same bounds and the same
    # idempotency key, so the receiver can tell a repeat from a new batch.
    inflight_last_seq: int | None = Field(default=None, sa_type=BigInteger)
    leased_by: str | None = Field(default=None, max_length=100)
    leased_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=300)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeadLetterStatus(StrEnum):
    PARKED = "parked"  # the receiver refused it; waiting for an admin
    REPLAY = "replay"  # an admin asked to send it again
    DELIVERED = "delivered"


class PushDeadLetter(SQLModel, table=True):
    """A batch the receiver refused as invalid (4xx): parked so that it does not block the rest."""

    __tablename__ = "push_dead_letter"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    connector: str = Field(max_length=40, index=True)
    first_seq: int = Field(sa_type=BigInteger)
    last_seq: int = Field(sa_type=BigInteger)
    # What the batch was about; a replay rebuilds the records from the current rows.
    subjects: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(default=DeadLetterStatus.PARKED.value, sa_type=String(10), index=True)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
