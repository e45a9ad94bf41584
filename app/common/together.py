"""Inserts and additive upserts of several tables in one statement (`write_together`).

For a write path whose checks are done and whose remaining writes are plain inserts and "add to
a total" upserts: on PostgreSQL they travel as one statement, one round trip (each table's rows
one JSON parameter through `json_populate_recordset`, each write a data-modifying CTE); elsewhere
one statement per table. The writes run in the order given, also on PostgreSQL (each CTE waits
for the one before it), so that writers that lock total rows keep one lock order.

A read (`Before`) can travel with the writes: it answers as of before them, on PostgreSQL
because a statement's CTE writes are invisible to the rest of it, elsewhere because it runs
first.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


@dataclass(frozen=True)
class Add:
    """On a conflict on `keys`, add `added` to the stored row and overwrite `replaced`."""

    keys: tuple[str, ...]
    added: tuple[str, ...]
    replaced: tuple[str, ...] = ()


Write = tuple[type[SQLModel], list[dict[str, Any]], Add | None]


@dataclass(frozen=True)
class Before:
    """A query to answer with the writes, as of before them. `portable` runs on any database;
    `postgres` is the same query for PostgreSQL (it may use arrays where `portable` expands a
    list); `params` bind both."""

    portable: Select[Any]
    postgres: Select[Any]
    params: Mapping[str, Any] = field(default_factory=dict)


def write_together(
    session: Session, writes: list[Write], *, before: Before | None = None
) -> Sequence[Row[Any]]:
    """The writes in the order given (a `None` conflict rule: a plain insert); rows of one
    table share their keys. Returns the rows of `before` (none without it)."""
    writes = [w for w in writes if w[1]]
    connection = session.connection()
    if connection.dialect.name != "postgresql" or not writes:
        read = connection.execute(before.portable, before.params).all() if before else []
        for model, rows, add in writes:
            connection.execute(_one(connection.dialect.name, model, add), rows)
        return read
    shape = tuple((model, tuple(rows[0]), add) for model, rows, add in writes)
    sql, defaults = _together(shape, before.postgres if before else None)
    params = {f"rows_{i}": json.dumps(rows, default=_json) for i, (_, rows, _) in enumerate(writes)}
    result = connection.exec_driver_sql(
        sql, {**defaults, **params, **(before.params if before else {})}
    )
    return result.all() if before else []


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


_PG = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]


@cache
def _together(
    shape: tuple[tuple[type[SQLModel], tuple[str, ...], Add | None], ...],
    before: Select[Any] | None,
) -> tuple[str, dict[str, Any]]:
    """The statement in the driver's own parameter style, and the default values of the
    parameters that `before` compiled with (its literals)."""
    # Names from our own table metadata, never from input; the rows are bound parameters.
    # Identifiers quoted only where PostgreSQL needs it: psycopg remembers the conversion of a
    # statement's placeholders only for statements of at most 4,096 characters.
    quote = _PG.identifier_preparer.quote
    parts = []
    for i, (model, keys, add) in enumerate(shape):
        table = _table(model)
        name = quote(table.name)
        after = f" WHERE (SELECT count(*) FROM w_{i - 1}) >= 0" if i else ""  # noqa: S608
        if set(keys) == set(table.c.keys()):  # every column: the record type's own order
            into, values = f"INSERT INTO {name} AS t", "*"
        else:
            columns = ", ".join(quote(table.c[key].name) for key in keys)
            into, values = f"INSERT INTO {name} AS t ({columns})", columns
        sql = (
            f"{into} SELECT {values} "  # noqa: S608
            f"FROM json_populate_recordset(NULL::{name}, %(rows_{i})s::json){after}"
        )
        if add is not None:
            sets = [f"{quote(c)} = t.{quote(c)} + EXCLUDED.{quote(c)}" for c in add.added]
            sets += [f"{quote(c)} = EXCLUDED.{quote(c)}" for c in add.replaced]
            sql += f" ON CONFLICT ({', '.join(add.keys)}) DO UPDATE SET {', '.join(sets)}"
        parts.append(f"w_{i} AS ({sql} RETURNING 1)")
    if before is None:
        query, defaults = f"SELECT (SELECT count(*) FROM w_{len(shape) - 1})", {}  # noqa: S608
    else:
        compiled = before.compile(dialect=_PG)
        query, defaults = str(compiled), dict(compiled.params)
    return f"WITH {', '.join(parts)} {query}", defaults
