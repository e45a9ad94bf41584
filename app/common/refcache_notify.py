"""Cache invalidation across web processes on PostgreSQL (`LISTEN`/`NOTIFY`).

A transaction that moves a cache's generation (`refcache.watch`) also sends
`NOTIFY diandan_refcache, '<generation name>'` on its own connection (`refcache.announce`):
PostgreSQL delivers it when that transaction commits, and never when it rolls back. Every web
process listens on a connection of its own (`Listener`) and moves the named generations as soon
as a notification arrives, so a revoked role or a deactivated account stops working in every
process within moments of the commit, not after the cache lifetime. The lifetime stays as the
backstop: a notification sent while a listener was reconnecting is lost, so a reconnect drops
everything.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import URL

from app.common import refcache
from app.common.refcache import CHANNEL

log = logging.getLogger(__name__)


class Listener:
    """A daemon thread that moves this process's generations as notifications arrive."""

    def __init__(self, dsn: str, *, poll_seconds: float = 1.0, retry_seconds: float = 2.0) -> None:
        self._dsn = dsn
        self._poll = poll_seconds
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="refcache-listener", daemon=True)
        self.listening = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._poll + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                log.warning("cache listener lost its connection (%s); retrying", error)
            self.listening.clear()
            refcache.invalidate_all()  # what was sent while not listening is lost
            self._stop.wait(self._retry)

    def _listen(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            while not self._stop.is_set():
                for notice in connection.notifies(timeout=self._poll):
                    _moved(notice.payload)


def _moved(payload: str) -> None:
    wanted = set(payload.split(","))
    for generation in refcache.Generation.all():
        if generation.name in wanted:
            generation.bump()


def libpq_dsn(url: URL) -> str:
    """A SQLAlchemy URL of PostgreSQL as a libpq connection string."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
