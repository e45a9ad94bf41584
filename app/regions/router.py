from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES
from app.regions.models import Region
from app.regions.queries import check_code, get_region, region_detail, region_out
from app.regions.schemas import RegionDetail, RegionOut

router = APIRouter(prefix="/regions", tags=["regions"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=Page[RegionOut])
def list_regions(
    session: DbSession,
    page: PageQuery,
    parent: Annotated[
        str | None, Query(description="List the children of this code; omit for the top level")
    ] = None,
    q: Annotated[str | None, Query(max_length=50, description="Name contains")] = None,
) -> Page[RegionOut]:
    """Administrative regions, one level at a time. Public reference data: no sign-in needed."""
    stmt = select(Region)
    if parent is not None:
        get_region(session, parent)
        stmt = stmt.where(Region.parent_code == check_code(parent))
    elif q is None:
        stmt = stmt.where(col(Region.parent_code).is_(None))
    if q:
        stmt = stmt.where(col(Region.name).contains(q))
    rows, cursor = paginate(session, stmt, key=col(Region.code), params=page)
    return Page(items=[region_out(r) for r in rows], next_cursor=cursor)


@router.get("/{code}", response_model=RegionDetail)
def read_region(code: str, session: DbSession) -> RegionDetail:
    """One region with its ancestors."""
    return region_detail(session, get_region(session, code))
