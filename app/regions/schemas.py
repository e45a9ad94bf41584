from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class RegionLevelName(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


LEVEL_NAMES = {1: "province", 2: "city", 3: "county", 4: "township", 5: "village"}


class RegionOut(BaseModel):
    code: str = Field(description="12-digit statistical division code")
    name: str
    level: RegionLevelName
    parent_code: str | None


class RegionDetail(RegionOut):
    path: list[RegionOut] = Field(description="Ancestors from the province down to the parent")
