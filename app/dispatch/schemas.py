from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from app.dispatch.batch import Strategy


class BatchRequest(BaseModel):
    region_code: str | None = Field(default=None, pattern=r"^\d{12}$")
    strategy: Strategy = Strategy.JOINT
    limit: int = Field(default=1000, ge=1, le=5000)


class BatchAssignment(BaseModel):
    order_id: uuid.UUID
    team_id: uuid.UUID


class BatchOut(BaseModel):
    assigned: list[BatchAssignment]
    unassigned: list[uuid.UUID] = Field(description="Orders no team could take; still in the queue")
    total_cost: float = Field(description="Sum of costs in km-equivalents (distance, level, load)")
