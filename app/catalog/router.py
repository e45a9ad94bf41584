from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import col, select

from app.auth.deps import PlatformAdmin
from app.catalog import service
from app.catalog.models import Category
from app.catalog.schemas import CategoryCreate, CategoryOut, CategoryUpdate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/categories", tags=["catalog"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=list[CategoryOut])
def list_categories(
    session: DbSession,
    include_inactive: Annotated[bool, Query(description="Also retired categories")] = False,
) -> list[Category]:
    """The service catalog (服务菜单). Public: the ordering screen shows it before sign-in."""
    stmt = select(Category).order_by(col(Category.sort_order), col(Category.code))
    if not include_inactive:
        stmt = stmt.where(col(Category.active))
    return list(session.exec(stmt).all())


@router.get("/{code}", response_model=CategoryOut)
def read_category(code: str, session: DbSession) -> Category:
    return service.get_category(session, code)


@router.post("", response_model=CategoryOut, status_code=status.HTTP_201_CREATED)
def create_category(body: CategoryCreate, session: DbSession, _admin: PlatformAdmin) -> Category:
    category = service.create_category(session=session, data=body)
    session.commit()
    return category


@router.patch("/{code}", response_model=CategoryOut)
def update_category(
    code: str, body: CategoryUpdate, session: DbSession, _admin: PlatformAdmin
) -> Category:
    category = service.update_category(session=session, code=code, data=body)
    session.commit()
    return category
