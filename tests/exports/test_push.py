"""The push connector against a real HTTP receiver on 127.0.0.1 that fails the way real ones do:
500s, answers slower than the client waits (after it has applied the batch), refusals."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func
from sqlmodel import Session, col, select

from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.integrations.national.models import PushDeadLetter, PushState
from app.integrations.national.push import PUSHED, PushClient, Pusher, push_once
from app.sync.models import ChangeEvent
from tests.conftest import _savepoint_sessions
from tests.factories import Factory

TIMEOUT = 0.3


@dataclass
class Receiver:
    """Applies each batch once per Idempotency-Key, like a receiver that honours the header."""

    faults: random.Random | None = None  # None: always answers 200 at once
    refuse: set[str] = field(default_factory=set)  # subject ids whose batch is answered 422
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, key: str, token: str | None, body: dict[str, Any]) -> tuple[int, float]:
        """The status to answer and how long to wait before answering."""
        with self.lock:
            self.requests.append(key)
            assert token == "Bearer s3cret"
            if any(r["id"] in self.refuse for r in body["records"]):
                return 422, 0.0
            roll = self.faults.random() if self.faults else 1.0
            if roll < 0.3:
                return 500, 0.0
            self.applied.setdefault(key, body)  # a repeat of an applied key changes nothing
            return 200, (TIMEOUT * 2 if roll < 0.45 else 0.0)  # slow: applied, answered late


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            status, delay = state.handle(
                self.headers["idempotency-key"], self.headers.get("authorization"), body
            )
            time.sleep(delay)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/exchange"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Connector:
    pusher: Pusher
    receiver: Receiver
    factory: Any
    delays: list[float]

    def push(self, worker_id: str = "w1") -> int:
        return push_once(self.factory, self.pusher, worker_id=worker_id, now=utcnow())

    def push_until_caught_up(self, db: Session, passes: int = 200) -> None:
        for _ in range(passes):
            self.push()
            if self.state(db).acknowledged_seq >= last_pushed_seq(db):
                return
        raise AssertionError("the connector never caught up")

    def state(self, db: Session) -> PushState:
        db.expire_all()
        found = db.get(PushState, "national")
        assert found is not None
        return found


def last_pushed_seq(db: Session) -> int:
    return (
        db.exec(select(func.max(ChangeEvent.seq)).where(col(ChangeEvent.entity).in_(PUSHED))).one()
        or 0
    )


@pytest.fixture
def connector(
    receiver: tuple[Receiver, str], settings: Settings, connection: Connection
) -> Iterator[Connector]:
    state, url = receiver
    settings.national_push_batch = 3
    settings.national_push_max_attempts = 3
    delays: list[float] = []
    with httpx.Client() as http:
        client = PushClient(http, url=url, token="s3cret", timeout=TIMEOUT)
        pusher = Pusher(
            client,
            settings,
            SensitiveCodec(settings.data_key_value),
            sleep=delays.append,
            rng=random.Random(3),
        )
        yield Connector(pusher, state, _savepoint_sessions(connection), delays)


def subjects_in_feed(db: Session) -> set[tuple[str, str]]:
    rows = db.exec(
        select(ChangeEvent.entity, ChangeEvent.entity_id).where(col(ChangeEvent.entity).in_(PUSHED))
    ).all()
    return {(entity, entity_id) for entity, entity_id in rows}


def test_every_change_arrives_once_through_faults_and_timeouts(
    connector: Connector, make: Factory, db: Session
) -> None:
    connector.receiver.faults = random.Random(11)
    for county in ("140802000000", "140803000000"):
        make.world(county)
    for _ in range(24):
        make.volunteer("140802100200")
    db.commit()

    connector.push_until_caught_up(db)

    batches = sorted(connector.receiver.applied.values(), key=lambda b: b["first_seq"])
    delivered = [(r["entity"], r["id"]) for batch in batches for r in batch["records"]]
    assert len(delivered) == len(set(delivered))  # no subject applied twice
    assert set(delivered) == subjects_in_feed(db)
    for earlier, later in itertools.pairwise(batches):
        assert earlier["last_seq"] < later["first_seq"]  # in feed order, never overlapping
    # The faults really happened: repeats of one key, and waits between them.
    assert len(connector.receiver.requests) > len(connector.receiver.applied)
    assert connector.delays
    assert all(0 <= d <= connector.pusher.settings.national_push_base_delay_seconds * 4
               for d in connector.delays)  # fmt: skip
    volunteer = next(r for b in batches for r in b["records"] if r["entity"] == "volunteer")
    assert "*" in volunteer["data"]["id_number"]  # masked unless configured otherwise


def test_a_batch_left_in_flight_is_resent_with_the_same_bounds_and_key(
    connector: Connector, make: Factory, db: Session
) -> None:
    connector.receiver.faults = random.Random()
    connector.receiver.faults.random = lambda: 0.0  # type: ignore[method-assign]  # down: 500s
    world = make.world("140802000000")
    db.commit()
    assert connector.push() == 0
    first_keys = set(connector.receiver.requests)
    assert len(connector.receiver.requests) == 3  # max attempts, then left for the next run
    [key] = first_keys
    in_flight = connector.state(db)
    assert in_flight.inflight_last_seq is not None
    assert in_flight.acknowledged_seq == 0
    assert in_flight.leased_by is None
    assert "500" in (in_flight.last_error or "")

    world.team.description = "新的介绍"  # a change after the batch was cut
    db.add(world.team)
    db.commit()
    connector.receiver.faults = None
    assert connector.push() > 0
    assert connector.receiver.requests[3] == key  # the same batch again
    assert list(connector.receiver.applied) == [key]
    connector.push_until_caught_up(db)
    later = [k for k in connector.receiver.applied if k != key]
    assert later, "the change after the cut goes in a later batch"


def test_a_held_lease_keeps_a_second_pusher_out(
    connector: Connector, make: Factory, db: Session
) -> None:
    make.world("140802000000")
    db.commit()
    connector.push()  # creates the state row
    state = connector.state(db)
    state.leased_by, state.leased_until = "other", utcnow().replace(year=2100)
    db.add(state)
    db.commit()
    connector.receiver.requests.clear()
    make.volunteer("140802100200")
    db.commit()
    assert connector.push() == 0
    assert connector.receiver.requests == []


def test_a_refused_batch_is_parked_and_can_be_replayed(
    connector: Connector, make: Factory, db: Session, client: TestClient
) -> None:
    world = make.world("140802000000")
    db.commit()
    connector.receiver.refuse = {str(world.team.id)}
    connector.push_until_caught_up(db)
    db.expire_all()
    [letter] = db.exec(select(PushDeadLetter)).all()
    assert letter.last_status_code == 422
    assert {"entity": "team", "id": str(world.team.id)} in letter.subjects
    assert connector.state(db).acknowledged_seq == last_pushed_seq(db)  # the rest went on

    admin = make.headers(make.platform_admin())
    db.commit()
    state = client.get("/api/v1/sync/push", headers=admin).json()
    assert state["dead_letters"] == 1
    assert state["enabled"] is False  # no URL configured for the app itself
    [listed] = client.get("/api/v1/sync/push/dead-letters", headers=admin).json()
    assert listed["id"] == str(letter.id)

    replay = client.post(f"/api/v1/sync/push/dead-letters/{letter.id}/replay", headers=admin)
    assert replay.status_code == 200, replay.text
    assert replay.json()["status"] == "replay"
    again = client.post(f"/api/v1/sync/push/dead-letters/{letter.id}/replay", headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "not_replayable"

    connector.receiver.refuse = set()
    connector.push()
    db.expire_all()
    assert db.get(PushDeadLetter, letter.id).status == "delivered"  # type: ignore[union-attr]
    key = f"diandan-national-{letter.first_seq}-{letter.last_seq}"
    assert str(world.team.id) in {r["id"] for r in connector.receiver.applied[key]["records"]}


def test_push_state_is_for_platform_admins_only(
    make: Factory, client: TestClient, db: Session
) -> None:
    world = make.world("140802000000")
    db.commit()
    for user in (world.center_admin, world.leader, world.resident):
        for path in ("/api/v1/sync/push", "/api/v1/sync/push/dead-letters"):
            assert client.get(path, headers=make.headers(user)).status_code == 403
    assert client.get("/api/v1/sync/push").status_code == 401
    missing = client.post(
        "/api/v1/sync/push/dead-letters/00000000-0000-0000-0000-000000000000/replay",
        headers=make.headers(make.platform_admin()),
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
