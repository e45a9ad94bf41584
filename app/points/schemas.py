from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class PolicyIn(BaseModel):
    points_per_hour: float = Field(ge=0, le=1000)
    five_star_bonus: int = Field(ge=0, le=1000)
    category_weights: dict[str, float] = Field(
        default_factory=dict, description="Per category code, 0–10; 1 where not listed"
    )


class PolicyOut(PolicyIn):
    updated_at: datetime


class EntryOut(BaseModel):
    id: uuid.UUID
    delta: int
    kind: str
    record_id: uuid.UUID | None
    order_id: uuid.UUID | None
    redemption_id: uuid.UUID | None
    reason: str
    created_at: datetime


class PointsOut(BaseModel):
    volunteer_id: uuid.UUID
    balance: int = Field(description="Always the sum of the entries; never negative")
    entries: list[EntryOut] = Field(description="Newest first (at most `limit`)")


class AdjustmentIn(BaseModel):
    points: int = Field(ge=-100_000, le=100_000, description="Positive to add, negative to take")
    reason: str = Field(min_length=2, max_length=300)


class RewardIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["环保购物袋"])
    description: str = Field(default="", max_length=500)
    points: int = Field(gt=0, le=1_000_000)
    stock: int = Field(ge=0, le=1_000_000)
    region_code: str = Field(description="Volunteers of this region's subtree may redeem it")


class RewardPatch(BaseModel):
    stock: int | None = Field(default=None, ge=0, le=1_000_000)
    active: bool | None = None


class RewardOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    points: int
    stock: int
    region_code: str
    active: bool


class RedemptionIn(BaseModel):
    item_id: uuid.UUID
    quantity: int = Field(default=1, ge=1, le=100)


class RedemptionOut(BaseModel):
    id: uuid.UUID
    item_id: uuid.UUID
    volunteer_id: uuid.UUID
    quantity: int
    points: int
    created_at: datetime
    balance: int | None = None
