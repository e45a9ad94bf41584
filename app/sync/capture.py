"""Changes are captured from the ORM's flushes, and from the Core statements that bypass them.

Each flush adds one multi-row INSERT into `change_event`, after the flush's own statements and in
the same transaction: a rolled-back write reports nothing. Order moves are compare-and-set
statements outside the ORM's unit of work, but each writes an `OrderEvent` row through it, so an
order's new event reports the order as changed.

A Core `update()`/`insert()` on a tracked table (a compare-and-set, a counter, a bulk write) is
invisible to the flush: the code that runs it calls `report_core_write` right after it, with the
ids it wrote, and the change row lands in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, inspect, select
from sqlmodel import Session, SQLModel, col

from app.common.bulk import insert_rows
from app.common.clock import utcnow
from app.common.orm import already_loaded
from app.orders.models import Order, OrderEvent
from app.records.models import ServiceRecord
from app.sync.models import OPS, ChangeEvent
from app.teams.models import Team, TeamMember
from app.volunteers.models import Volunteer


@dataclass(frozen=True)
class Tracked:
    entity: str
    key: Callable[[Any], object]  # the id the change is about
    region: Callable[[Session, Any], str | None]


def _own_region(_: Session, row: Any) -> str | None:
    code: str | None = row.region_code
    return code


def _team_region(session: Session, member: TeamMember) -> str | None:
    team = already_loaded(session, Team, member.team_id)
    if team is not None:
        return team.region_code
    region: str | None = (
        session.connection()
        .execute(select(col(Team.region_code)).where(col(Team.id) == member.team_id))
        .scalar_one_or_none()
    )
    return region


def _order_region(session: Session, event: OrderEvent) -> str | None:
    order = already_loaded(session, Order, event.order_id)
    if order is not None:
        return order.region_code
    region: str | None = (
        session.connection()
        .execute(select(col(Order.region_code)).where(col(Order.id) == event.order_id))
        .scalar_one_or_none()
    )
    return region


TRACKED: dict[type[SQLModel], Tracked] = {
    Volunteer: Tracked("volunteer", lambda v: v.id, _own_region),
    Team: Tracked("team", lambda t: t.id, _own_region),
    TeamMember: Tracked("team_member", lambda m: m.id, _team_region),
    # An amendment is a ledger row of its own that changes the record it amends.
    ServiceRecord: Tracked(
        "service_record", lambda r: getattr(r, "amends_id", None) or r.id, _own_region
    ),
    Order: Tracked("order", lambda o: o.id, _own_region),
    OrderEvent: Tracked("order", lambda e: e.order_id, _order_region),
}


_INSERT_CHANGES = insert(ChangeEvent)


def track(model: type[SQLModel], tracked: Tracked) -> None:
    """Register another kind of row for the feed (domain packages call this at import)."""
    TRACKED[model] = tracked


def report_core_write(
    session: Session,
    model: type[SQLModel],
    ids: Iterable[Any],
    *,
    op: str = "update",
    fields: Iterable[str],
) -> None:
    """Report rows of `model` that a Core statement wrote, one change each, in this transaction.

    Call it after the statement, with the ids it really wrote (after the row-count check of a
    compare-and-set). Regions are read from the rows.
    """
    rows = core_write_changes(session, model, ids, op=op, fields=fields)
    if rows:
        session.connection().execute(_INSERT_CHANGES, rows[0] if len(rows) == 1 else rows)


def core_write_changes(
    session: Session,
    model: type[SQLModel],
    ids: Iterable[Any],
    *,
    op: str = "update",
    fields: Iterable[str],
) -> list[dict[str, Any]]:
    """The `change_event` rows `report_core_write` inserts, for a caller that inserts them in a
    statement of its own (in the same transaction)."""
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}")
    tracked = TRACKED[model]
    now = utcnow()
    changed = sorted(set(fields))
    rows = []
    for entity_id, key in sorted({str(i): i for i in ids}.items()):
        row = session.get(model, key)  # the session's copy if it holds one
        rows.append(
            {
                "entity": tracked.entity,
                "entity_id": entity_id,
                "op": op,
                "region_code": tracked.region(session, row) if row is not None else None,
                "fields": changed,
                "changed_at": now,
            }
        )
    return rows


def report_core_insert(session: Session, rows: Sequence[SQLModel]) -> None:
    """Report rows a Core `insert()` just wrote, as a flush of them would: one change each, in
    this transaction. The rows are the values inserted, as model objects (not in the session)."""
    changes = core_insert_changes(session, rows)
    if changes:
        session.connection().execute(insert(ChangeEvent), changes)


def core_insert_changes(session: Session, rows: Sequence[SQLModel]) -> list[dict[str, Any]]:
    """The `change_event` rows `report_core_insert` inserts, for a caller that inserts them in a
    statement of its own (in the same transaction)."""
    changes: dict[tuple[str, str], dict[str, Any]] = {}
    now = utcnow()
    for row in rows:
        tracked = TRACKED.get(type(row))
        if tracked is None:
            continue
        key = (tracked.entity, str(tracked.key(row)))
        op = _op(row, created=True)
        seen = changes.get(key)
        if seen is not None:
            seen["op"] = op if seen["op"] == "update" else seen["op"]
            continue
        changes[key] = {"entity": key[0], "entity_id": key[1], "op": op,
                        "region_code": tracked.region(session, row), "fields": [],
                        "changed_at": now}  # fmt: skip
    return [changes[k] for k in sorted(changes)]


def report_core_rows(
    session: Session,
    model: type[SQLModel],
    regions: Mapping[Any, str | None],
    *,
    op: str = "update",
    fields: Iterable[str],
) -> None:
    """`report_core_write` for a bulk statement whose caller knows each row's region already
    (`regions`: id → region code): one statement, and no row is looked up."""
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}")
    entity = TRACKED[model].entity
    now = utcnow()
    changed = sorted(set(fields))
    rows = [
        {
            "entity": entity,
            "entity_id": entity_id,
            "op": op,
            "region_code": region,
            "fields": changed,
            "changed_at": now,
        }
        for entity_id, region in sorted((str(k), r) for k, r in regions.items())
    ]
    insert_rows(session.connection(), ChangeEvent.__table__, rows)  # type: ignore[attr-defined]


def _changed_fields(row: Any) -> list[str]:
    state = inspect(row)
    return sorted(a.key for a in state.attrs if a.history.has_changes())


def _op(row: Any, created: bool) -> str:
    if created and getattr(row, "amends_id", None) is None and not isinstance(row, OrderEvent):
        return "create"
    return "update"


def capture(
    session: Session, new: Iterable[Any], dirty: Iterable[Any], deleted: Iterable[Any]
) -> None:
    changes: dict[tuple[str, str], dict[str, Any]] = {}
    now = utcnow()

    def add(row: Any, op: str, fields: list[str]) -> None:
        tracked = TRACKED.get(type(row))
        if tracked is None:
            return
        key = (tracked.entity, str(tracked.key(row)))
        seen = changes.get(key)
        if seen is not None:
            # One change per entity per flush; a create or delete outranks an update.
            if seen["op"] == "update" and op != "update":
                seen["op"] = op
            seen["fields"] = sorted(set(seen["fields"]) | set(fields))
            return
        changes[key] = {
            "entity": key[0],
            "entity_id": key[1],
            "op": op,
            "region_code": tracked.region(session, row),
            "fields": fields,
            "changed_at": now,
        }

    for row in new:
        add(row, _op(row, created=True), [])
    for row in dirty:
        fields = _changed_fields(row)
        if fields:
            add(row, "update", fields)
    for row in deleted:
        add(row, "delete", [])
    if changes:
        ordered = [changes[k] for k in sorted(changes)]
        session.connection().execute(_INSERT_CHANGES, ordered)
