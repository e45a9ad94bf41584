"""Making concurrent requests really overlap: each waits after a chosen statement for the rest."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine, event

T = TypeVar("T")

# The caller's team memberships are the last thing sign-in loads: holding every request there
# makes them all reach the endpoint's locks together.
AFTER_AUTH = "FROM team_member WHERE team_member.volunteer_id ="


def request_as(
    app: Any, user_id: uuid.UUID, method: str, path: str, body: Any = None
) -> Callable[[], httpx.Response]:
    """A request of the user's, on a TestClient of its own, to run on a thread of its own."""
    from fastapi.testclient import TestClient

    from app.auth.security import issue_access_token

    token, _ = issue_access_token(user_id, app.state.settings)

    def call() -> httpx.Response:
        response: httpx.Response = TestClient(app).request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return response

    return call


def together(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run each task on its own thread, released at once by a barrier."""
    start = threading.Barrier(len(tasks), timeout=30)

    def run(task: Callable[[], T]) -> T:
        start.wait()
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        return list(pool.map(run, tasks))


def statuses(responses: Sequence[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


class Rendezvous:
    """Holds the first `parties` connections that run a matching statement until all have run it.

    `strict=False` is for code that may serialise the requests before that statement (a lock):
    then they cannot all get there together, and after `timeout` each goes on alone.
    """

    def __init__(
        self,
        engine: Engine,
        parties: int,
        match: str,
        *,
        strict: bool = True,
        timeout: float = 15.0,
    ) -> None:
        self.engine = engine
        self.parties = parties
        self.match = match
        self.strict = strict
        self.barrier = threading.Barrier(parties, timeout=timeout)
        self.arrived: set[int] = set()
        self.broken = False
        self._lock = threading.Lock()

    def _after_execute(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.match not in " ".join(statement.split()):
            return
        key = id(conn.connection.dbapi_connection)
        with self._lock:
            if key in self.arrived or len(self.arrived) >= self.parties:
                return
            self.arrived.add(key)
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            self.broken = True

    def __enter__(self) -> Rendezvous:
        event.listen(self.engine, "after_cursor_execute", self._after_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "after_cursor_execute", self._after_execute)
        if self.strict:
            assert not self.broken, "the requests did not all reach the rendezvous together"
            assert len(self.arrived) == self.parties
