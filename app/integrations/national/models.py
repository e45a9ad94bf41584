from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, LargeBinary, String
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class PushState(SQLModel, table=True):
    """How far a push connector's receiver has acknowledged the change feed."""

    __tablename__ = "push_state"

    connector: str = Field(primary_key=True, max_length=40)
    acknowledged_seq: int = Field(default=0, sa_type=BigInteger)
    # The batch being sent, kept byte for byte until it is acknowledged or parked: a retry after
    # a timeout, a crash or a later run sends exactly the same body with the same idempotency key
    # (fixed by its feed bounds), so a strict receiver sees a repeat, never a new body under an
    # old key, however the rows changed meanwhile.
    inflight_first_seq: int | None = Field(default=None, sa_type=BigInteger)
    inflight_last_seq: int | None = Field(default=None, sa_type=BigInteger)
    inflight_body: bytes | None = Field(default=None, sa_type=LargeBinary)
    # Runs that ended with the batch still unacknowledged (transient failures); at
    # DIANDAN_NATIONAL_PUSH_MAX_RUNS it is parked as a dead letter so that the rest can go on.
    inflight_runs: int = 0
    leased_by: str | None = Field(default=None, max_length=100)
    leased_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=300)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeadLetterStatus(StrEnum):
    PARKED = "parked"  # refused, or kept failing; waiting for an admin
    REPLAY = "replay"  # an admin asked to send it again
    DELIVERED = "delivered"


class PushDeadLetter(SQLModel, table=True):
    """A batch the receiver refused as invalid (4xx), or that kept failing for
    DIANDAN_NATIONAL_PUSH_MAX_RUNS runs: parked so that it does not block the rest."""

    __tablename__ = "push_dead_letter"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    connector: str = Field(max_length=40, index=True)
    first_seq: int = Field(sa_type=BigInteger)
    last_seq: int = Field(sa_type=BigInteger)
    # What the batch was about; a replay rebuilds the records from the current rows.
    subjects: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(default=DeadLetterStatus.PARKED.value, sa_type=String(10), index=True)
    # Each replay is a new batch (rebuilt from the current rows) with a key of its own,
    # `diandan-national-<first>-<last>-replay-<n>`; while it is being sent its key and body are
    # kept, so that its own retries repeat it exactly.
    replays: int = 0
    inflight_key: str | None = Field(default=None, max_length=100)
    inflight_body: bytes | None = Field(default=None, sa_type=LargeBinary)
    inflight_runs: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
