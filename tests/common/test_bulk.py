"""`insert_rows` on both databases: varying columns travel as arrays, columns with one value for
every row (a status, the actor, a time, a JSON document) travel once, and both come back as
inserted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, select

from app.common.bulk import insert_rows, pipelined
from app.sync.models import ChangeEvent

TABLE = ChangeEvent.__table__  # type: ignore[attr-defined]
AT = datetime(2026, 3, 5, 8, 30, tzinfo=UTC)


def _stored(connection: Connection) -> list[tuple[Any, ...]]:
    rows = connection.execute(
        select(TABLE.c.entity, TABLE.c.entity_id, TABLE.c.op, TABLE.c.region_code,
               TABLE.c.fields, TABLE.c.changed_at)
        .where(TABLE.c.entity == "bulk_test")
        .order_by(TABLE.c.id)
    ).all()  # fmt: skip
    return [tuple(r) for r in rows]


def test_constant_and_varying_columns_come_back_as_inserted(connection: Connection) -> None:
    rows: list[dict[str, Any]] = [
        {"entity": "bulk_test", "entity_id": f"e{i}", "op": "update", "region_code": None,
         "fields": ["status", "team_id"], "changed_at": AT}
        for i in range(5)
    ]  # fmt: skip
    rows[2]["fields"] = ["status"]  # one JSON value differs: that column travels as an array
    insert_rows(connection, TABLE, rows)
    stored = _stored(connection)
    assert [r[1] for r in stored] == [f"e{i}" for i in range(5)]
    assert {r[2] for r in stored} == {"update"}
    assert {r[3] for r in stored} == {None}
    assert [r[4] for r in stored] == [["status", "team_id"]] * 2 + [["status"]] + [
        ["status", "team_id"]
    ] * 2
    # SQLite gives the time back without its zone
    assert {r[5] if r[5].tzinfo else r[5].replace(tzinfo=UTC) for r in stored} == {AT}


def test_rows_that_are_all_alike_are_all_inserted(connection: Connection) -> None:
    row = {"entity": "bulk_test", "entity_id": "same", "op": "create",
           "region_code": "140100000000", "fields": {"k": "值"}, "changed_at": AT}  # fmt: skip
    insert_rows(connection, TABLE, [dict(row) for _ in range(3)])
    stored = _stored(connection)
    assert len(stored) == 3
    assert {(r[1], r[2], r[3]) for r in stored} == {("same", "create", "140100000000")}
    assert [r[4] for r in stored] == [{"k": "值"}] * 3


def test_a_column_null_in_some_rows_keeps_its_values(connection: Connection) -> None:
    rows: list[dict[str, Any]] = [
        {"entity": "bulk_test", "entity_id": f"n{i}", "op": "update",
         "region_code": None if i % 2 else "140100000000", "fields": [], "changed_at": AT}
        for i in range(4)
    ]  # fmt: skip
    insert_rows(connection, TABLE, rows)
    assert [r[3] for r in _stored(connection)] == ["140100000000", None, "140100000000", None]


def test_pipelined_writes_all_land(connection: Connection) -> None:
    with pipelined(connection):
        for name in ("first", "second", "third"):
            insert_rows(connection, TABLE, [_change(f"{name}-{i}") for i in range(3)])
    assert len(_stored(connection)) == 9


def test_an_error_inside_a_pipeline_surfaces_by_its_end(connection: Connection) -> None:
    def clash_then_more() -> None:
        with pipelined(connection):
            insert_rows(connection, TABLE, [_change("a") | {"seq": 7}, _change("b") | {"seq": 7}])
            insert_rows(connection, TABLE, [_change("c")])

    with pytest.raises(Exception, match=r"uq_change_event_seq|UNIQUE"):
        clash_then_more()


def _change(entity_id: str) -> dict[str, Any]:
    return {"entity": "bulk_test", "entity_id": entity_id, "op": "update", "region_code": None,
            "fields": [], "changed_at": AT}  # fmt: skip


def test_alike_rows_whose_first_column_is_json_are_all_inserted(connection: Connection) -> None:
    row = {"fields": ["status"], "changed_at": AT, "entity": "bulk_test", "entity_id": "j",
           "op": "update"}  # fmt: skip
    insert_rows(connection, TABLE, [dict(row) for _ in range(4)])
    assert len(_stored(connection)) == 4


def test_values_python_calls_equal_but_json_tells_apart_stay_apart(connection: Connection) -> None:
    rows = [_change("t") | {"fields": {"on": True}}, _change("o") | {"fields": {"on": 1}}]
    insert_rows(connection, TABLE, rows)
    assert [r[4] for r in _stored(connection)] == [{"on": True}, {"on": 1}]
