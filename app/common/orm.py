"""Small helpers over the ORM session."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Insert, Table, TextClause, insert, inspect, text
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


def insert_together(
    session: Session, parts: list[tuple[type[SQLModel], list[dict[str, Any]]]]
) -> None:
    """Rows for several tables, inserted in the order given. On PostgreSQL one statement, one
    round trip: each table's rows travel as one JSON parameter (`json_populate_recordset`), every
    insert but the last a data-modifying CTE. Elsewhere one statement per table. Rows of one
    table share their keys."""
    parts = [(model, rows) for model, rows in parts if rows]
    if len(parts) < 2 or session.get_bind().dialect.name != "postgresql":
        for model, rows in parts:
            insert_rows(session, model, rows)
        return
    shape = tuple((model, tuple(rows[0])) for model, rows in parts)
    params = {
        f"rows_{i}": json.dumps(rows, default=_json_value) for i, (_, rows) in enumerate(parts)
    }
    session.connection().execute(_together(shape), params)


def _json_value(value: object) -> object:
    if isinstance(value, uuid.UUID | datetime):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()  # bytea's hex input format
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


@cache
def _together(shape: tuple[tuple[type[SQLModel], tuple[str, ...]], ...]) -> TextClause:
    inserts = []
    for i, (model, keys) in enumerate(shape):
        table: Table = model.__table__  # type: ignore[attr-defined]
        columns = ", ".join(f'"{table.c[key].name}"' for key in keys)
        # Names from our own table metadata, never from input; the rows are bound parameters.
        inserts.append(
            f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} '  # noqa: S608
            f'FROM json_populate_recordset(NULL::"{table.name}", CAST(:rows_{i} AS json))'
        )
    *ctes, last = inserts
    written = ", ".join(f"written_{i} AS ({sql})" for i, sql in enumerate(ctes))
    return text(f"WITH {written} {last}")
