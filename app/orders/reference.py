"""What placing an order reads that almost never changes: the category's rules, and the site
that reviews orders of a region. Read as plain columns and remembered a few seconds per web
process (`app/common/refcache.py`); a flush that writes a category, region or site drops them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.catalog.models import Category
from app.common.refcache import cached, watch
from app.errors import Invalid, NotFound
from app.regions.codes import ancestors
from app.regions.models import Region
from app.regions.queries import check_code
from app.sites.models import Site

watch(Category, Region, Site)


@dataclass(frozen=True)
class CategoryRules:
    code: str
    auto_approve: bool
    auto_dispatch: bool
    review_hours: int
    accept_hours: int


@dataclass(frozen=True)
class ReviewPlace:
    """An order's region, and the nearest site at or above it, whose admins review the order."""

    region_code: str
    site_id: uuid.UUID


_ACTIVE_CATEGORY = sa_select(
    col(Category.code),
    col(Category.auto_approve),
    col(Category.auto_dispatch),
    col(Category.review_hours),
    col(Category.accept_hours),
).where(col(Category.code) == bindparam("code"), col(Category.active).is_(True))

_CHAIN_SITES = (
    sa_select(col(Region.code), col(Site.id))
    .select_from(Region)
    .outerjoin(Site, col(Site.region_code) == col(Region.code))
    .where(col(Region.code).in_(bindparam("chain", expanding=True)))
)


def active_category(session: Session, code: str) -> CategoryRules:
    def load() -> CategoryRules | None:
        row = session.execute(_ACTIVE_CATEGORY, {"code": code}).first()
        return CategoryRules(*row) if row is not None else None

    rules = cached(session, ("category", code), load)
    if rules is None:
        raise Invalid(
            f"未知的服务类别 / unknown or inactive category {code!r}", code="unknown_category"
        )
    return rules


def review_place(session: Session, region_code: str) -> ReviewPlace:
    """One query over the region's chain of ancestors."""
    chain = [check_code(region_code), *ancestors(region_code)]

    def load() -> ReviewPlace | str:
        sites = {code: site_id for code, site_id in session.execute(_CHAIN_SITES, {"chain": chain})}
        if region_code not in sites:
            return "region_not_found"
        for code in chain:
            if sites.get(code) is not None:
                return ReviewPlace(region_code, sites[code])
        return "region_without_site"

    place = cached(session, ("review_place", region_code), load)
    if place == "region_not_found":
        raise NotFound(f"未找到该区划 / no region {region_code}", code="region_not_found")
    if place == "region_without_site":
        raise Invalid(
            "该地区还没有新时代文明实践站点 / no practice site covers this region",
            code="region_without_site",
        )
    assert isinstance(place, ReviewPlace)
    return place
