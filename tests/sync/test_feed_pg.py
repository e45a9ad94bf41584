"""The feed under concurrent writers on PostgreSQL: no gaps, no duplicates, nothing missed.

Writers of several kinds run at once: team edits (ORM flushes), volunteer approvals (a
compare-and-set `UPDATE` reported by `report_core_write`), sign-ups to one activity (a counter
`UPDATE` on one shared row), and orders placed and approved (an ORM insert, then a state move).
They commit in an order other than the one their changes were inserted in (each sleeps a random
moment after writing its change row), while a reader keeps polling the feed. A feed that numbered
changes by insert order would let the reader pass a late committer's position.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func
from sqlmodel import Session, col, select

from app.auth.security import issue_access_token
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.sync.models import ChangeEvent
from app.volunteers.models import VolunteerStatus
from tests.factories import Factory

pytestmark = pytest.mark.postgres

PAIRS = 2  # writers of each kind
WRITES_EACH = 6
VILLAGE = "140802100200"


def _late_commits(engine: Engine) -> None:
    rng = random.Random(7)

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO change_event"):
            time.sleep(rng.uniform(0, 0.05))

    event.listen(engine, "after_cursor_execute", after)


class Calls:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def headers(self, user_id: uuid.UUID) -> dict[str, str]:
        token, _ = issue_access_token(user_id, self.app.state.settings)
        return {"Authorization": f"Bearer {token}"}

    def __call__(
        self, user_id: uuid.UUID, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        response = TestClient(self.app).request(
            method, f"/api/v1{path}", json=body, headers=self.headers(user_id)
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())


def _order(region: str) -> dict[str, Any]:
    return {
        "category_code": "care",
        "title": "帮独居老人买药",
        "address": "曲村3组12号",
        "location": {"lat": 35.051, "lng": 110.912, "coord_system": "wgs84"},
        "region_code": region,
        "contact_name": "张大爷",
        "contact_phone": "13912345678",
    }


def test_concurrent_writers_of_every_kind_and_a_polling_reader(live_app: FastAPI) -> None:
    engine: Engine = live_app.state.engine
    settings = live_app.state.settings
    call = Calls(live_app)
    n = PAIRS * WRITES_EACH
    with Session(engine, expire_on_commit=False) as session:
        make = Factory(
            session=session, settings=settings, codec=SensitiveCodec(settings.data_key_value)
        )
        admin = make.platform_admin()
        w = make.world("140802000000")
        teams = [make.team(VILLAGE, name=f"队{i}") for i in range(PAIRS)]
        pending = [make.volunteer(VILLAGE, status=VolunteerStatus.PENDING) for _ in range(n)]
        joiners = [make.volunteer(VILLAGE) for _ in range(n)]
        for volunteer in joiners:
            make.member(w.team, volunteer)
        session.commit()
        leader, resident, station = w.leader.id, w.resident.id, w.station_admin.id
        team_ids = [t.id for t in teams]
        pending_ids = [v.id for v in pending]
        joiner_users = [v.user_id for v in joiners]
    now = utcnow()
    activity = call(
        leader,
        "POST",
        f"/teams/{w.team.id}/activities",
        {
            "title": "五号志愿服务日:义诊",
            "category_code": "care",
            "place": "曲村文化广场",
            "location": {"lat": 35.0263, "lng": 111.0071},
            "starts_at": (now + timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=3)).isoformat(),
            "capacity": n,
        },
    )
    with Session(engine) as session:
        before = session.exec(select(func.max(ChangeEvent.id))).one() or 0
    _late_commits(engine)

    def edit_team(i: int) -> None:
        for k in range(WRITES_EACH):
            call(admin.id, "PATCH", f"/teams/{team_ids[i]}", {"description": f"第{k}次修改"})

    def approve(i: int) -> None:
        for volunteer_id in pending_ids[i::PAIRS]:
            call(admin.id, "POST", f"/volunteers/{volunteer_id}/approve")

    def sign_up(i: int) -> None:
        for user_id in joiner_users[i::PAIRS]:
            call(user_id, "POST", f"/activities/{activity['id']}/signups")

    def place_and_approve(_: int) -> None:
        for _k in range(WRITES_EACH):
            order = call(resident, "POST", "/orders", _order(VILLAGE))
            call(station, "POST", f"/orders/{order['id']}/approve")

    writers: list[Callable[[int], None]] = [edit_team, approve, sign_up, place_and_approve]
    done = threading.Event()
    seen: list[int] = []
    cursor = "0"
    reader = call.headers(admin.id)

    def poll_once() -> bool:
        nonlocal cursor
        page = (
            TestClient(live_app)
            .get("/api/v1/sync/changes", params={"cursor": cursor, "limit": 7}, headers=reader)
            .json()
        )
        seen.extend(c["seq"] for c in page["items"])
        cursor = page["next_cursor"]
        return bool(page["has_more"])

    def poll() -> None:
        while not done.is_set():
            poll_once()

    with ThreadPoolExecutor(max_workers=len(writers) * PAIRS + 1) as pool:
        polling = pool.submit(poll)
        writing = [pool.submit(writer, i) for writer in writers for i in range(PAIRS)]
        for future in writing:
            future.result()  # a writer's failure fails the test
        done.set()
        polling.result()
    while poll_once():
        pass

    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(ChangeEvent)).one()
        rows = session.exec(
            select(ChangeEvent.entity, ChangeEvent.op).where(col(ChangeEvent.id) > before)
        ).all()
    assert seen == list(range(1, total + 1))  # every change once, in feed order, no gap
    orders = PAIRS * WRITES_EACH
    assert Counter(rows) == {
        ("team", "update"): PAIRS * WRITES_EACH,
        ("volunteer", "update"): n,
        ("activity", "update"): n,
        ("order", "create"): orders,
        ("order", "update"): orders,
    }
