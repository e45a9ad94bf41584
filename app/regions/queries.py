from __future__ import annotations

from sqlmodel import Session, col, select

from app.errors import Invalid, NotFound
from app.regions.codes import ancestors, is_valid_code
from app.regions.models import Region
from app.regions.schemas import LEVEL_NAMES, RegionDetail, RegionLevelName, RegionOut


def region_out(region: Region) -> RegionOut:
    return RegionOut(
        code=region.code,
        name=region.name,
        level=RegionLevelName(LEVEL_NAMES[region.level]),
        parent_code=region.parent_code,
    )


def check_code(code: str) -> str:
    if not is_valid_code(code):
        raise Invalid(
            f"区划代码应为12位数字 / a region code has 12 digits: {code!r}",
            code="invalid_region_code",
        )
    return code


def get_region(session: Session, code: str) -> Region:
    region = session.get(Region, check_code(code))
    if region is None:
        raise NotFound(f"未找到该区划 / no region {code}", code="region_not_found")
    return region


def region_detail(session: Session, region: Region) -> RegionDetail:
    codes = ancestors(region.code)
    rows = session.exec(select(Region).where(col(Region.code).in_(codes))).all() if codes else []
    path = sorted((region_out(r) for r in rows), key=lambda r: r.code)
    return RegionDetail(**region_out(region).model_dump(), path=path)
