"""Inserts and additive upserts of several tables in one statement (`write_together`).

For a write path whose checks are done and whose remaining writes are plain inserts and "add to
a total" upserts: on PostgreSQL they travel as one statement, one round trip (each table's rows
one JSON parameter through `json_populate_recordset`, each write a data-modifying CTE); elsewhere
one statement per table. The writes run in the order given, also on PostgreSQL (each CTE waits
for the one before it), so that writers that lock total rows keep one lock order.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, TextClause, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


@dataclass(frozen=True)
class Add:
    """On a conflict on `keys`, add `added` to the stored row and overwrite `replaced`."""

    keys: tuple[str, ...]
    added: tuple[str, ...]
    replaced: tuple[str, ...] = ()


Write = tuple[type[SQLModel], list[dict[str, Any]], Add | None]


def write_together(session: Session, writes: list[Write]) -> None:
    """The writes in the order given (a `None` conflict rule: a plain insert). Rows of one
    table share their keys."""
    writes = [w for w in writes if w[1]]
    if not writes:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for model, rows, add in writes:
            connection.execute(_one(connection.dialect.name, model, add), rows)
        return
    shape = tuple((model, tuple(rows[0]), add) for model, rows, add in writes)
    params = {f"rows_{i}": json.dumps(rows, default=_json) for i, (_, rows, _) in enumerate(writes)}
    connection.execute(_together(shape), params)


def _json(value: object) -> object:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()  # bytea's hex input format
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


@cache
def _one(dialect_name: str, model: type[SQLModel], add: Add | None) -> Any:
    table = _table(model)
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    if add is None:
        return stmt
    return stmt.on_conflict_do_update(
        index_elements=list(add.keys),
        set_={
            **{c: table.c[c] + stmt.excluded[c] for c in add.added},
            **{c: stmt.excluded[c] for c in add.replaced},
        },
    )


@cache
def _together(shape: tuple[tuple[type[SQLModel], tuple[str, ...], Add | None], ...]) -> TextClause:
    # Names from our own table metadata, never from input; the rows are bound parameters.
    parts = []
    for i, (model, keys, add) in enumerate(shape):
        table = _table(model)
        name = f'"{table.name}"'
        columns = ", ".join(f'"{table.c[key].name}"' for key in keys)
        after = f" WHERE (SELECT count(*) FROM w_{i - 1}) >= 0" if i else ""  # noqa: S608
        sql = (
            f"INSERT INTO {name} AS t ({columns}) SELECT {columns} "  # noqa: S608
            f"FROM json_populate_recordset(NULL::{name}, CAST(:rows_{i} AS json)){after}"
        )
        if add is not None:
            sets = [f'"{c}" = t."{c}" + EXCLUDED."{c}"' for c in add.added]
            sets += [f'"{c}" = EXCLUDED."{c}"' for c in add.replaced]
            sql += f" ON CONFLICT ({', '.join(add.keys)}) DO UPDATE SET {', '.join(sets)}"
        parts.append(f"w_{i} AS ({sql} RETURNING 1)")
    last = len(shape) - 1
    return text(f"WITH {', '.join(parts)} SELECT (SELECT count(*) FROM w_{last})")  # noqa: S608
