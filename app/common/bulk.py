"""Many rows in one statement, for the few writes that touch hundreds of rows at once.

On PostgreSQL each column travels as one array parameter and the rows come back out of
`unnest(...)`: one statement, a handful of parameters, whatever the number of rows. An
`executemany` costs a round of binding and parsing per row instead. SQLite's `executemany` runs in
C inside the process and needs no such help.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import JSON, Table, any_, bindparam, insert
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import Uuid


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (all with the same keys) into `table`, without RETURNING."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    columns = [_column_values(table, name, rows, dialect) for name in names]
    if all(c.same for c in columns):  # unnest needs one array to give the rows
        columns[0] = columns[0]._replace(same=False)
    constants: list[Any] = []
    arrays: list[Any] = []
    sources, targets = [], []
    for values, same, element_type, cast_to in columns:
        if same:  # one value for every row (a mode, a status, the actor, the time): sent once
            if values[0] is None:
                targets.append(f"CAST(NULL AS {cast_to})")
            else:
                targets.append(f"CAST(CAST(%b AS {element_type}) AS {cast_to})")
                constants.append(values[0])
            continue
        if all(v is None for v in values):  # an all-NULL list has no element type to send
            sources.append(f"array_fill(CAST(NULL AS {element_type}), ARRAY[{len(values)}])")
        else:
            # %b: binary arrays, no quoting or escaping of each element.
            sources.append(f"CAST(%b AS {element_type}[])")
            arrays.append(values)
        source = f"u.c{len(sources) - 1}"
        targets.append(source if element_type == cast_to else f"CAST({source} AS {cast_to})")
    params = constants + arrays  # in the order of their placeholders: the targets come first
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    aliases = ", ".join(f"c{i}" for i in range(len(sources)))
    # Names come from the table; values travel as parameters.
    statement = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) "  # noqa: S608
        f"SELECT {', '.join(targets)} FROM unnest({', '.join(sources)}) AS u({aliases})"
    )
    # The driver's own cursor, in the connection's transaction: SQLAlchemy's execute would
    # send the arrays in text format, quoting every element.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement, params)
    finally:
        cursor.close()


class _Column(NamedTuple):
    values: list[Any]
    same: bool  # every row holds the same value
    element_type: str  # the type the values travel as
    cast_to: str  # the column's type


def _column_values(
    table: Table, name: str, rows: Sequence[Mapping[str, Any]], dialect: Dialect
) -> _Column:
    """Every row's value, as sent; `same` where they are one value (as sent: `True` and `1`, or
    two key orders of one JSON object, compare equal in Python yet are sent apart)."""
    column = table.c[name]
    sql_type = column.type.compile(dialect=dialect)
    values = [row[name] for row in rows]
    if isinstance(column.type, JSON):
        # Sent as text, each element cast back to the column's JSON type.
        values = [None if v is None else json.dumps(v) for v in values]
        element_type = "TEXT"
    else:
        process = column.type._cached_bind_processor(dialect)
        if process is not None:
            values = [process(v) for v in values]
        element_type = sql_type
    first, kind = values[0], type(values[0])
    same = all(type(v) is kind and v == first for v in values)
    return _Column(values, same, element_type, sql_type)


@contextmanager
def pipelined(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, statements executed inside go out without waiting for each one's result
    (the driver's pipeline mode), so that the database works on one while Python prepares the
    next; an error surfaces by the end of the block at the latest. Only statements whose results
    nobody reads belong inside (`insert_rows`). Elsewhere, nothing changes."""
    if connection.dialect.name != "postgresql":
        yield
        return
    try:
        with connection.connection.driver_connection.pipeline():  # type: ignore[union-attr]
            yield
    except psycopg.Error as error:  # as SQLAlchemy would raise it (IntegrityError → 409)
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error


def id_in(column: Any, ids: Collection[uuid.UUID], dialect: str) -> Any:
    """`column IN ids`; on PostgreSQL `= ANY(array)`, one parameter instead of one per id."""
    return any_of(column, ids, dialect, Uuid())


def any_of(column: Any, values: Collection[Any], dialect: str, item_type: Any) -> Any:
    """`column IN values`; on PostgreSQL `= ANY(array)`, one parameter instead of one per value."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(item_type)))
    return column.in_(list(values))
