from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class SubscriptionCreate(BaseModel):
    url: str = Field(max_length=500, description="https in production; public addresses only")
    event_types: list[str] = Field(
        min_length=1,
        max_length=30,
        description="`entity.op` (e.g. `order.update`), `entity.*` or `*`; entities as in the feed",
    )
    region_code: str | None = Field(default=None, description="Only changes in this subtree")
    description: str = Field(default="", max_length=200)


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    region_code: str | None
    description: str
    status: str
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime


class SubscriptionWithSecret(SubscriptionOut):
    secret: str = Field(description="Shown once: keep it to verify the `webhook-signature` header")


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="The `webhook-id` header")
    event_type: str
    change_seq: int
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
