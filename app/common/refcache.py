"""Rows that change rarely but are read on every request, remembered for a few seconds per web
process: service categories, the region tree and its sites (placing an order), and who a caller
is (`app.auth.principal`: every signed-in request), a team's home region (every record).

Each cache has a `Generation`, which names the tables its entries are read from. A flush that
writes one of them, or an ORM-level `insert`/`update`/`delete` on one, moves the counter, and the
entries filled before are dropped at once. It moves again when the writing transaction ends, so
that an entry loaded by another request while the change was flushed but not yet committed (and
so still showing the old row) is dropped too. On PostgreSQL the writing transaction also tells
the other processes (`announce`; `refcache_notify.Listener` hears it after the commit). An entry
lives at most `ttl` seconds whatever happens: the backstop for a change no hook saw (a statement
on the raw connection, another program). Entries are plain snapshots, never ORM rows, so they
cannot leak from one session into another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Connection, event, inspect
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session

T = TypeVar("T")

_PENDING = "refcache_pending"  # session.info: the generations its open transaction has moved


class Generation:
    """A counter that every entry filled under it compares against, and the tables whose
    writes move it. The tables are named here, not by the modules that cache: every process
    that writes them (web, worker, commands) must move the counter and tell the others
    (`announce`), whichever modules it imported."""

    _all: ClassVar[list[Generation]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str, *tables: str) -> None:
        self.name = name
        self.tables = frozenset(tables)
        self.value = 0
        Generation._all.append(self)

    def bump(self) -> None:
        with Generation._lock:
            self.value += 1

    @classmethod
    def all(cls) -> list[Generation]:
        return list(cls._all)


# Category rules, the sites map, the points policy, star thresholds (`orders/reference.py`,
# `points/service.py`, `scoring/star_thresholds.py`).
REFERENCE = Generation(
    "reference", "category", "region", "site", "points_policy", "star_thresholds"
)
# Who a caller is (`auth/principal.py`): account, volunteer profile, grants, memberships, sites.
PRINCIPALS = Generation("principals", "app_user", "volunteer", "role_grant", "team_member", "site")
# A team's home region (`records/entry.py`: every service record reads it).
TEAMS = Generation("teams", "team")


def invalidate_all() -> None:
    """Forget every entry of every cache in this process."""
    for generation in Generation._all:
        generation.bump()


CHANNEL = "diandan_refcache"


def announce(connection: Connection, generation: Generation) -> None:
    """Tell the other web processes that `generation` moved, when this transaction commits
    (PostgreSQL only; `refcache_notify.Listener` hears it). PostgreSQL folds identical
    notifications of one transaction into one."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "SELECT pg_notify(%(channel)s, %(name)s)", {"channel": CHANNEL, "name": generation.name}
        )


def _moved(session: Session, written: set[str]) -> None:
    for generation in Generation._all:
        if generation.tables.isdisjoint(written):
            continue
        generation.bump()
        pending: set[Generation] = session.info.setdefault(_PENDING, set())
        if generation not in pending:
            pending.add(generation)
            announce(session.connection(), generation)


# Columns no cache reads that change often: a sign-in stamps `last_login_at`, and that must not
# drop every remembered principal of every process.
_IGNORED = {"app_user": frozenset({"last_login_at"})}


def _changed(row: Any, ignored: frozenset[str]) -> bool:
    state = inspect(row)
    return any(a.key not in ignored and a.history.has_changes() for a in state.attrs)


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _context: Any) -> None:
    written = {getattr(row, "__tablename__", "") for rows in (session.new, session.deleted)
               for row in rows}  # fmt: skip
    for row in session.dirty:
        name = getattr(row, "__tablename__", "")
        if name not in written and (name not in _IGNORED or _changed(row, _IGNORED[name])):
            written.add(name)
    _moved(session, written)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    """An ORM-level `insert`/`update`/`delete` statement, which no flush reports."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        _moved(state.session, {getattr(table, "name", "")})  # type: ignore[arg-type]


def _on_end(session: Session, *_: Any) -> None:
    for generation in session.info.pop(_PENDING, ()):
        generation.bump()


event.listen(Session, "after_commit", _on_end)
event.listen(Session, "after_soft_rollback", _on_end)


class ReferenceCache:
    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
        generation: Generation = REFERENCE,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = generation
        self._clock = clock
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}

    def peek(self, key: Hashable, missing: object) -> object:
        """The entry for `key` if it is still good, else `missing`; never loads."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] == self.generation.value and self._clock() < entry[1]:
            return entry[2]
        return missing

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        generation, now = self.generation.value, self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] == generation and now < entry[1]:
            value: T = entry[2]
            return value
        value = load()
        if self.ttl > 0:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # bounded, whatever keys callers make up
            self._entries[key] = (generation, now + self.ttl, value)
        return value


def cached(
    session: Session, key: Hashable, load: Callable[[], T], *, cache: str = "reference_cache"
) -> T:
    """`load()`, remembered when the session's factory carries that cache (web requests do)."""
    found = session.info.get(cache)
    if found is None:
        return load()
    assert isinstance(found, ReferenceCache)
    return found.get(key, load)


def peek(session: Session, key: Hashable, *, cache: str, missing: object) -> object:
    """What `cached` would answer without loading, or `missing`."""
    found = session.info.get(cache)
    if found is None:
        return missing
    assert isinstance(found, ReferenceCache)
    return found.peek(key, missing)
