"""A located point as the API takes it, and the columns every located row stores."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import String
from sqlmodel import Field as ColumnField
from sqlmodel import SQLModel

from app.common.geo import CoordSystem, to_wgs84


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90, description="Latitude in `coord_system`")
    lng: float = Field(ge=-180, le=180, description="Longitude in `coord_system`")
    coord_system: CoordSystem = Field(
        default=CoordSystem.WGS84,
        description="wgs84 (GPS), gcj02 (WeChat, Tencent and AMap maps) or bd09 (Baidu maps)",
    )


class LocatedRow(SQLModel):
    """Columns of a stored point: as given, its system, and the WGS-84 point used for distances."""

    lat: float | None = None
    lng: float | None = None
    coord_system: str | None = ColumnField(default=None, sa_type=String(8))
    wgs_lat: float | None = None
    wgs_lng: float | None = None

    def location(self) -> Location | None:
        if self.lat is None or self.lng is None or self.coord_system is None:
            return None
        return Location(lat=self.lat, lng=self.lng, coord_system=CoordSystem(self.coord_system))


def location_columns(location: Location | None) -> dict[str, Any]:
    if location is None:
        return {"lat": None, "lng": None, "coord_system": None, "wgs_lat": None, "wgs_lng": None}
    wgs_lat, wgs_lng = to_wgs84(location.lat, location.lng, location.coord_system)
    return {
        "lat": location.lat,
        "lng": location.lng,
        "coord_system": location.coord_system.value,
        "wgs_lat": wgs_lat,
        "wgs_lng": wgs_lng,
    }
