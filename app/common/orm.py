"""Small helpers over the ORM session."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlmodel import Session, SQLModel

Model = TypeVar("Model", bound=SQLModel)


def already_loaded(session: Session, model: type[Model], key: Any) -> Model | None:
    """The row if this session holds it already (no query), else None."""
    row = session.identity_map.get(inspect(model).identity_key_from_primary_key((key,)))
    return row if isinstance(row, model) else None
