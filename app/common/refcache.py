"""Near-static reference rows (service categories, the region tree and its sites) remembered
for a few seconds per web process, so that placing an order does not read them every time.

An entry lives at most `ttl` seconds: a change made by another process shows within that time.
A change flushed by any session of this process drops every entry at once: the module that
caches rows names their models to `watch`, whose flush hook moves a generation counter.
Entries are plain snapshots, never ORM rows, so they cannot leak from one session into another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlmodel import Session

T = TypeVar("T")

_generation = 0
_generation_lock = threading.Lock()


def invalidate_all() -> None:
    """Forget every entry of every cache in this process."""
    global _generation
    with _generation_lock:
        _generation += 1


def watch(*models: type[Any]) -> None:
    """Drop every entry whenever a flush writes a row of one of `models`."""

    @event.listens_for(Session, "after_flush")
    def _on_flush(session: Session, _context: Any) -> None:
        for rows in (session.new, session.dirty, session.deleted):
            if any(isinstance(row, models) for row in rows):
                invalidate_all()
                return


class ReferenceCache:
    def __init__(
        self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        generation, now = _generation, self._clock()
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


def cached(session: Session, key: Hashable, load: Callable[[], T]) -> T:
    """`load()`, remembered when the session's factory carries a cache (web requests do)."""
    cache = session.info.get("reference_cache")
    if cache is None:
        return load()
    assert isinstance(cache, ReferenceCache)
    return cache.get(key, load)
