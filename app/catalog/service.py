from __future__ import annotations

import threading
import weakref

from sqlalchemy import Engine
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


# Codes known to exist, per database. Categories are never deleted (only deactivated), so a code
# once seen stays valid; a miss always asks the database.
_known_codes: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()


def category_exists(session: Session, code: str) -> bool:
    """Whether a category (active or not) has this code: records keep their category even
    after it is retired. Asked with every record, so known codes are remembered."""
    engine = session.get_bind().engine
    with _known_lock:
        if code in _known_codes.get(engine, ()):
            return True
    if session.get(Category, code) is None:
        return False
    with _known_lock:
        _known_codes.setdefault(engine, set()).add(code)
    return True


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
