"""Small helpers over the ORM session."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Index, Insert, Table, insert, inspect, text
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, SQLModel

Model = TypeVar("Model", bound=SQLModel)


def already_loaded(session: Session, model: type[Model], key: Any) -> Model | None:
    """The row if this session holds it already (no query), else None."""
    row = session.identity_map.get(inspect(model).identity_key_from_primary_key((key,)))
    return row if isinstance(row, model) else None


@cache
def _insert_for(model: type[SQLModel]) -> Insert:
    """Each table's INSERT, built once (building a statement costs more than running it)."""
    return insert(model)


def column_values(row: SQLModel) -> dict[str, Any]:
    """The row's column values, as a Core insert takes them."""
    table: Table = row.__table__  # type: ignore[attr-defined]
    return {column.key: getattr(row, column.key) for column in table.columns}


def attach_new(session: Session, row: SQLModel) -> None:
    """Hold a row that a Core statement inserts (or just inserted) as persistent in the session,
    without the unit of work: the flush hook never sees it, so a tracked table's change must be
    reported (`report_core_write`). For hot write paths: the unit of work costs several times
    the statement."""
    make_transient_to_detached(row)
    session.add(row)


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Insert plain rows with one Core statement (nothing to attach: nobody reads them back)."""
    if rows:
        session.connection().execute(_insert_for(model), rows[0] if len(rows) == 1 else rows)


def partial_index(name: str, *columns: str, unique: bool = True) -> Index:
    """An index of the rows whose first column has a value: the key of an optional column,
    whose NULLs never conflict and are never looked up, so that rows without it cost no entry."""
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, unique=unique, postgresql_where=where, sqlite_where=where)
