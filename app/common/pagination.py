"""Keyset pagination: a bounded page and an opaque cursor that survives concurrent inserts."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlmodel import Session

from app.errors import Invalid

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page"
    )


class PageParams(BaseModel):
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


def _page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")] = (
        DEFAULT_PAGE_SIZE
    ),
    cursor: Annotated[str | None, Query(max_length=200, description="From `next_cursor`")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageQuery = Annotated[PageParams, Depends(_page_params)]


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise Invalid("分页游标无效 / the cursor is not valid", code="invalid_cursor") from None


def paginate(
    session: Session,
    stmt: Select[Any],
    *,
    key: Any,
    params: PageParams,
    parse_key: Callable[[str], Any] = str,
) -> tuple[Sequence[Any], str | None]:
    """Rows ordered by a unique `key` column (`col(Model.attr)`), after the cursor, and the
    cursor of the next page."""
    if params.cursor is not None:
        raw = decode_cursor(params.cursor)
        try:
            after = parse_key(raw)
        except ValueError:
            raise Invalid("分页游标无效 / the cursor is not valid", code="invalid_cursor") from None
        stmt = stmt.where(key > after)
    rows = session.exec(stmt.order_by(key).limit(params.limit + 1)).all()  # type: ignore[call-overload]
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last_key = getattr(rows[-1], str(key.key))
    return rows, encode_cursor(str(last_key))
