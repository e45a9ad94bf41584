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

# Not a statement: the moment a request's transaction begins (a write request begins it before
# sign-in). Holding every request there makes them all reach the endpoint's locks together,
# whether or not sign-in reads the database (the principal cache may answer it).
AT_BEGIN = "<transaction begins>"


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
        if self.match in " ".join(statement.split()):
            self._arrive(conn)

    def _arrive(self, conn: Any) -> None:
        key = id(conn.connection.dbapi_connection)
        with self._lock:
            if key in self.arrived or len(self.arrived) >= self.parties:
                return
            self.arrived.add(key)
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            self.broken = True

    def _hook(self) -> tuple[str, Callable[..., None]]:
        if self.match == AT_BEGIN:
            return "begin", self._arrive
        return "after_cursor_execute", self._after_execute

    def __enter__(self) -> Rendezvous:
        event.listen(self.engine, *self._hook())
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, *self._hook())
        if self.strict:
            assert not self.broken, "the requests did not all reach the rendezvous together"
            assert len(self.arrived) == self.parties
