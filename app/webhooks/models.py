from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed; an admin can replay it
    CANCELLED = "cancelled"  # its subscription was deleted or disabled


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    url: str = Field(max_length=500)
    description: str = Field(default="", max_length=200)
    event_types: list[str] = Field(default_factory=list, sa_type=JSON)
    region_code: str | None = Field(default=None, foreign_key="region.code", sa_type=String(12))
    secret_cipher: bytes = Field(sa_type=LargeBinary)
    # After a rotation the old secret signs too, until `previous_secret_until`.
    previous_secret_cipher: bytes | None = Field(default=None, sa_type=LargeBinary)
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=SubscriptionStatus.ACTIVE.value, sa_type=String(10))
    disabled_reason: str | None = Field(default=None, max_length=300)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The feed position up to which changes have been turned into deliveries.
    cursor: int = Field(default=0, sa_type=BigInteger)
    created_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("subscription_id", "change_seq"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)  # the webhook-id
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id", index=True)
    change_seq: int = Field(sa_type=BigInteger)
    event_type: str = Field(max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default=DeliveryStatus.PENDING.value, sa_type=String(10), index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    locked_by: str | None = Field(default=None, max_length=100)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
