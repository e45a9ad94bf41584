from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class ScorePart(BaseModel):
    value: float = Field(description="0..1")
    weight: float
    detail: str


class TeamScoreOut(BaseModel):
    team_id: uuid.UUID
    score: float = Field(description="0..1; what dispatch ranking uses")
    scored: bool = Field(description="False until the team has any history: the parts are priors")
    bayesian_rating: float = Field(description="Stars, 1..5, after the prior")
    ratings: int
    parts: dict[str, ScorePart] = Field(description="rating, completion, speed, regularity")
