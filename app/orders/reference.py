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
from app.common.refcache import cached
from app.errors import Invalid, NotFound
from app.regions.codes import ancestors
from app.regions.models import Region
from app.regions.queries import check_code
from app.sites.models import Site


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

# Practice sites are few (one per station, institute and centre of a county): all of them are
# remembered as one entry, region code to site.
_SITES = sa_select(col(Site.region_code), col(Site.id))
_REGION_EXISTS = sa_select(col(Region.code)).where(col(Region.code) == bindparam("code"))


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


def _region_exists(session: Session, code: str) -> bool:
    return session.execute(_REGION_EXISTS, {"code": code}).first() is not None


def review_place(session: Session, region_code: str) -> ReviewPlace:
    """The nearest site on the region's chain of ancestors."""
    chain = [check_code(region_code), *ancestors(region_code)]
    sites: dict[str, uuid.UUID] = cached(
        session, "sites", lambda: {code: site_id for code, site_id in session.execute(_SITES)}
    )
    # A region with a site of its own exists (the site refers to it); others are looked up.
    if region_code not in sites and not cached(
        session, ("region", region_code), lambda: _region_exists(session, region_code)
    ):
        raise NotFound(f"未找到该区划 / no region {region_code}", code="region_not_found")
    for code in chain:
        if code in sites:
            return ReviewPlace(region_code, sites[code])
    raise Invalid(
        "该地区还没有新时代文明实践站点 / no practice site covers this region",
        code="region_without_site",
    )
