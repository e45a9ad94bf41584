from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, text
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class DispatchMode(StrEnum):
    MANUAL = "manual"
    AUTO = "auto"
    GRAB = "grab"


class Offer(SQLModel, table=True):
    __tablename__ = "dispatch_offer"
    __table_args__ = (
        # At most one open offer per team and order.
        Index(
            "uq_dispatch_offer_open",
            "order_id",
            "team_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_dispatch_offer_status_expires_at", "status", "expires_at"),
        Index("ix_dispatch_offer_team_id_status", "team_id", "status"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    order_id: uuid.UUID = Field(foreign_key="service_order.id", index=True)
    team_id: uuid.UUID = Field(foreign_key="team.id")
    mode: str = Field(sa_type=String(10))
    rank: int = 0
    status: str = Field(default=OfferStatus.PENDING.value, sa_type=String(12))
    reason: str | None = Field(default=None, max_length=500)
    offered_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    offered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    responded_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
