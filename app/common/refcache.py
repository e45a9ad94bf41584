"""Rows that change rarely but are read on every request, remembered for a few seconds per web
process: service categories, the region tree and its sites (placing an order), and who a caller
is (`app.auth.principal`: every signed-in request), a team's home region (every record).

An entry lives at most `ttl` seconds: a change made by another process shows within that time.
A change made by any session of this process drops the entries at once: the module that caches
rows names their models to `watch`, and a flush that writes one of them, or an ORM-level
`insert`/`update`/`delete` on their tables, moves that group's generation counter. It moves
again when the writing transaction ends, so that an entry loaded by another request while the
change was flushed but not yet committed (and so still showing the old row) is dropped too.
Entries are plain snapshots, never ORM rows, so they cannot leak from one session into another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Table, event
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session

T = TypeVar("T")

_PENDING = "refcache_pending"  # session.info: the generations its open transaction has moved


class Generation:
    """A counter that every entry filled under it compares against."""

    _all: ClassVar[list[Generation]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0
        Generation._all.append(self)

    def bump(self) -> None:
        with Generation._lock:
            self.value += 1


REFERENCE = Generation("reference")
PRINCIPALS = Generation("principals")
TEAMS = Generation("teams")  # a team's home region (every service record reads it)


def invalidate_all() -> None:
    """Forget every entry of every cache in this process."""
    for generation in Generation._all:
        generation.bump()


def _moved(session: Session, generation: Generation) -> None:
    generation.bump()
    session.info.setdefault(_PENDING, set()).add(generation)


def watch(*models: type[Any], into: Generation = REFERENCE) -> None:
    """Drop the entries of `into` whenever this process writes a row of one of `models`."""
    tables: set[Table] = {model.__table__ for model in models}

    @event.listens_for(Session, "after_flush")
    def _on_flush(session: Session, _context: Any) -> None:
        for rows in (session.new, session.dirty, session.deleted):
            if any(isinstance(row, models) for row in rows):
                _moved(session, into)
                return

    @event.listens_for(Session, "do_orm_execute")
    def _on_execute(state: ORMExecuteState) -> None:
        writes = state.is_insert or state.is_update or state.is_delete
        if writes and getattr(state.statement, "table", None) in tables:
            _moved(state.session, into)  # type: ignore[arg-type]


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
