from __future__ import annotations

from sqlmodel import Session, col, select

from app.catalog.models import Category
from app.catalog.schemas import CategoryCreate, CategoryUpdate
from app.common.clock import utcnow
from app.errors import Conflict, Invalid, NotFound


def get_category(session: Session, code: str) -> Category:
    category = session.get(Category, code)
    if category is None:
        raise NotFound(f"未找到该服务类别 / no category {code!r}", code="category_not_found")
    return category


def check_active_categories(session: Session, codes: list[str]) -> list[str]:
    """The codes, deduplicated, after checking each is an active category."""
    unique = list(dict.fromkeys(codes))
    found = set(
        session.exec(
            select(Category.code).where(col(Category.code).in_(unique), col(Category.active))
        ).all()
    )
    unknown = [c for c in unique if c not in found]
    if unknown:
        raise Invalid(
            f"未知的服务类别 / unknown or inactive categories: {', '.join(unknown)}",
            code="unknown_category",
        )
    return unique


def create_category(*, session: Session, data: CategoryCreate) -> Category:
    if session.get(Category, data.code) is not None:
        raise Conflict(f"类别代码已存在 / category {data.code!r} exists", code="category_exists")
    category = Category.model_validate(data)
    session.add(category)
    session.flush()
    return category


def update_category(*, session: Session, code: str, data: CategoryUpdate) -> Category:
    category = get_category(session, code)
    category.sqlmodel_update(data.model_dump(exclude_unset=True, exclude_none=True))
    category.updated_at = utcnow()
    session.flush()
    return category
