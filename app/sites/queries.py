from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.regions.models import Region
from app.sites.models import Site, SiteLevel
from app.sites.schemas import SiteOut


def region_names(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.exec(select(Region.code, Region.name).where(col(Region.code).in_(codes))).all()
    return dict(rows)


def sites_out(session: Session, sites: Sequence[Site]) -> list[SiteOut]:
    names = region_names(session, {s.region_code for s in sites})
    return [
        SiteOut(
            id=s.id,
            name=s.name,
            level=SiteLevel(s.level),
            region_code=s.region_code,
            region_name=names.get(s.region_code, ""),
            address=s.address,
            location=s.location(),
            created_at=s.created_at,
        )
        for s in sites
    ]
