"""The feed under concurrent writers on PostgreSQL: no gaps, no duplicates, nothing missed.

Writers commit in an order other than the one their changes were inserted in (each sleeps a
random moment after writing its change row), while a reader keeps polling the feed. A feed that
numbered changes by insert order would let the reader pass a late committer's position.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func
from sqlmodel import Session, select

from app.auth.security import issue_access_token
from app.common.crypto import SensitiveCodec
from app.sync.models import ChangeEvent
from tests.factories import Factory

pytestmark = pytest.mark.postgres

WRITERS = 6
WRITES_EACH = 8


def _late_commits(engine: Engine) -> None:
    rng = random.Random(7)

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO change_event"):
            time.sleep(rng.uniform(0, 0.05))

    event.listen(engine, "after_cursor_execute", after)


def test_concurrent_writers_and_a_polling_reader(live_app: FastAPI) -> None:
    engine: Engine = live_app.state.engine
    settings = live_app.state.settings
    with Session(engine, expire_on_commit=False) as session:
        make = Factory(
            session=session, settings=settings, codec=SensitiveCodec(settings.data_key_value)
        )
        admin = make.platform_admin()
        teams = [make.team("140802100200", name=f"队{i}") for i in range(WRITERS)]
        session.commit()
    token, _ = issue_access_token(admin.id, settings)
    headers = {"Authorization": f"Bearer {token}"}
    _late_commits(engine)

    done = threading.Event()
    seen: list[int] = []
    cursor = "0"

    def poll_once() -> bool:
        nonlocal cursor
        page = (
            TestClient(live_app)
            .get("/api/v1/sync/changes", params={"cursor": cursor, "limit": 7}, headers=headers)
            .json()
        )
        seen.extend(c["seq"] for c in page["items"])
        cursor = page["next_cursor"]
        return bool(page["has_more"])

    def reader() -> None:
        while not done.is_set():
            poll_once()

    def writer(index: int) -> None:
        client = TestClient(live_app)
        for n in range(WRITES_EACH):
            response = client.patch(
                f"/api/v1/teams/{teams[index].id}",
                json={"description": f"第{n}次修改"},
                headers=headers,
            )
            assert response.status_code == 200, response.text

    with ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
        polling = pool.submit(reader)
        writing = [pool.submit(writer, i) for i in range(WRITERS)]
        for future in writing:
            future.result()  # a writer's failure fails the test
        done.set()
        polling.result()
    while poll_once():
        pass

    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(ChangeEvent)).one()
        updates = session.exec(
            select(func.count()).select_from(ChangeEvent).where(ChangeEvent.op == "update")
        ).one()
    assert updates == WRITERS * WRITES_EACH
    assert seen == list(range(1, total + 1))  # every change once, in feed order, no gap
