from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"


class CategoryBase(BaseModel):
    name_zh: str = Field(min_length=1, max_length=50, examples=["法律援助"])
    name_en: str = Field(min_length=1, max_length=100, examples=["Legal aid and mediation"])
    description: str = Field(default="", max_length=500)
    sort_order: int = Field(default=0, ge=0, le=100_000)
    active: bool = True
    auto_approve: bool = Field(default=False, description="Orders skip review (审核)")
    auto_dispatch: bool = Field(
        default=False, description="Approved orders go to the best candidate at once"
    )
    review_hours: int = Field(default=24, ge=1, le=24 * 60, description="Review deadline")
    accept_hours: int = Field(default=24, ge=1, le=24 * 60, description="Acceptance deadline")
    complete_hours: int = Field(default=168, ge=1, le=24 * 90, description="Completion deadline")


class CategoryCreate(CategoryBase):
    code: str = Field(pattern=CODE_PATTERN, description="Stable code, lower_snake_case")


class CategoryUpdate(BaseModel):
    name_zh: str | None = Field(default=None, min_length=1, max_length=50)
    name_en: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    sort_order: int | None = Field(default=None, ge=0, le=100_000)
    active: bool | None = None
    auto_approve: bool | None = None
    auto_dispatch: bool | None = None
    review_hours: int | None = Field(default=None, ge=1, le=24 * 60)
    accept_hours: int | None = Field(default=None, ge=1, le=24 * 60)
    complete_hours: int | None = Field(default=None, ge=1, le=24 * 90)


class CategoryOut(CategoryBase):
    code: str
    updated_at: datetime
