"""The push connector against a real HTTP receiver on 127.0.0.1 that fails the way real ones do:
500s, connections dropped before or after the batch is applied, answers slower than the client
waits (after applying), answers slow but in time, refusals. The receiver is strict: it applies
each Idempotency-Key once and refuses a key it has seen with a different body."""

from __future__ import annotations

import itertools
import json
import random
import socket
import statistics
import threading
import time
from collections import Counter
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
from app.integrations.national.models import DeadLetterStatus, PushDeadLetter, PushState
from app.integrations.national.push import PUSHED, PushClient, Pusher, batch_key, push_once
from app.sync.models import ChangeEvent
from tests.conftest import _savepoint_sessions, settings_for
from tests.factories import Factory

TIMEOUT = 0.3


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay: float = 0.0
    drop: bool = False  # close the connection instead of answering


@dataclass
class Receiver:
    faults: random.Random | None = None  # None: always answers 200 at once
    script: list[float] = field(default_factory=list)  # rolls to use before the random ones
    refuse: set[str] = field(default_factory=set)  # subject ids whose batch is answered 422
    broken: set[str] = field(default_factory=set)  # subject ids whose batch is always a 500
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: dict[str, bytes] = field(default_factory=dict)  # the first body sent under each key
    conflicts: list[str] = field(default_factory=list)  # keys reused with a different body
    requests: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, key: str, token: str | None, raw: bytes) -> Answer:
        with self.lock:
            self.requests.append(key)
            assert token == "Bearer s3cret"
            if self.seen.setdefault(key, raw) != raw:
                self.conflicts.append(key)
                return Answer(422)
            body = json.loads(raw)
            ids = {r["id"] for r in body["records"]}
            if ids & self.refuse:
                return Answer(422)
            if ids & self.broken:
                return Answer(500)
            roll = (
                self.script.pop(0) if self.script else self.faults.random() if self.faults else 1.0
            )
            outcome, answer = self._fault(roll)
            self.outcomes[outcome] += 1
            if outcome != "500" and outcome != "dropped before applying":
                self.applied.setdefault(key, body)  # a repeat of an applied key changes nothing
            return answer

    @staticmethod
    def _fault(roll: float) -> tuple[str, Answer]:
        if roll < 0.15:
            return "500", Answer(500)
        if roll < 0.25:
            return "dropped before applying", Answer(drop=True)
        if roll < 0.35:
            return "dropped after applying", Answer(drop=True)
        if roll < 0.45:
            return "answered too late", Answer(delay=TIMEOUT * 2)
        if roll < 0.6:
            return "slow but in time", Answer(delay=TIMEOUT * 0.4)
        return "at once", Answer()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["content-length"]))
            answer = state.handle(
                self.headers["idempotency-key"], self.headers.get("authorization"), raw
            )
            if answer.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            time.sleep(answer.delay)
            self.send_response(answer.status)
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
    connector.receiver.script = [0.1, 0.2, 0.3, 0.4, 0.5, 0.9]  # each kind of fault at least once
    random.Random(11).shuffle(connector.receiver.script)
    connector.pusher.settings.national_push_batch = 2
    for county in ("140802000000", "140803000000"):
        make.world(county)
    for _ in range(24):
        make.volunteer("140802100200")
    db.commit()

    connector.push_until_caught_up(db)

    assert connector.receiver.conflicts == []  # no key ever came back with another body
    assert db.exec(select(PushDeadLetter)).all() == []
    batches = sorted(connector.receiver.applied.values(), key=lambda b: b["first_seq"])
    delivered = [(r["entity"], r["id"]) for batch in batches for r in batch["records"]]
    assert len(delivered) == len(set(delivered))  # no subject applied twice
    assert set(delivered) == subjects_in_feed(db)
    for earlier, later in itertools.pairwise(batches):
        assert earlier["last_seq"] < later["first_seq"]  # in feed order, never overlapping
    # The faults really happened: every kind, repeats of one key, and waits between them.
    assert set(connector.receiver.outcomes) == {
        "500", "dropped before applying", "dropped after applying", "answered too late",
        "slow but in time", "at once",
    }  # fmt: skip
    assert len(connector.receiver.requests) > len(connector.receiver.applied)
    assert connector.delays
    volunteer = next(r for b in batches for r in b["records"] if r["entity"] == "volunteer")
    assert "*" in volunteer["data"]["id_number"]  # masked unless configured otherwise


def test_a_batch_left_in_flight_is_resent_byte_for_byte_under_its_key(
    connector: Connector, make: Factory, db: Session
) -> None:
    connector.receiver.faults = random.Random()
    connector.receiver.faults.random = lambda: 0.0  # type: ignore[method-assign]  # down: 500s
    world = make.world("140802000000")
    db.commit()
    assert connector.push() == 0
    assert len(connector.receiver.requests) == 3  # max attempts, then left for the next run
    [key] = set(connector.receiver.requests)
    in_flight = connector.state(db)
    assert in_flight.inflight_last_seq is not None
    assert in_flight.inflight_runs == 1
    assert in_flight.acknowledged_seq == 0
    assert in_flight.leased_by is None
    assert "500" in (in_flight.last_error or "")
    first_body = connector.receiver.seen[key]

    # Everything the batch is about changes after it was cut: a rebuilt batch would differ.
    world.team.name = "改名后的队伍"
    for volunteer in (world.leader_volunteer, world.member_volunteer):
        volunteer.real_name = volunteer.real_name + "改"
    db.add_all([world.team, world.leader_volunteer, world.member_volunteer])
    db.commit()
    connector.receiver.faults = None
    assert connector.push() > 0
    assert connector.receiver.requests[3] == key  # the same batch again …
    assert connector.receiver.conflicts == []  # … with the same body
    assert json.dumps(connector.receiver.applied[key]).encode() != b""
    assert connector.receiver.seen[key] == first_body
    assert list(connector.receiver.applied) == [key]
    done = connector.state(db)
    assert (done.inflight_body, done.inflight_runs, done.last_error) == (None, 0, None)
    connector.push_until_caught_up(db)
    later = [k for k in connector.receiver.applied if k != key]
    assert later, "the changes after the cut go in a later batch"
    names = {
        r["data"]["name"] for k in later for r in connector.receiver.applied[k]["records"]
        if r["entity"] == "team"
    }  # fmt: skip
    assert "改名后的队伍" in names
    assert connector.receiver.conflicts == []


def test_a_batch_that_keeps_failing_is_parked_after_max_runs_and_the_rest_goes_on(
    connector: Connector, make: Factory, db: Session, client: TestClient
) -> None:
    connector.pusher.settings.national_push_max_runs = 3
    world = make.world("140802000000")
    for _ in range(4):
        make.volunteer("140802100200")
    db.commit()
    connector.receiver.broken = {str(world.team.id)}
    for _ in range(2):
        assert connector.push() == 0
    assert connector.state(db).inflight_runs == 2
    assert db.exec(select(PushDeadLetter)).all() == []  # not yet
    connector.push_until_caught_up(db)

    db.expire_all()
    [letter] = db.exec(select(PushDeadLetter)).all()
    original = batch_key(letter.first_seq, letter.last_seq)
    assert connector.receiver.requests.count(original) == 3 * 3  # 3 runs of 3 attempts
    assert letter.last_status_code == 500
    assert "gave up after 3 runs" in (letter.last_error or "")
    assert {"entity": "team", "id": str(world.team.id)} in letter.subjects
    assert connector.state(db).acknowledged_seq == last_pushed_seq(db)  # the rest went on
    assert original not in connector.receiver.applied

    # Replayed by an admin: a new batch under a new key, kept while the receiver is still down.
    admin = make.headers(make.platform_admin())
    db.commit()
    replay = client.post(f"/api/v1/sync/push/dead-letters/{letter.id}/replay", headers=admin)
    assert replay.status_code == 200, replay.text
    connector.push()
    db.expire_all()
    letter = db.get(PushDeadLetter, letter.id)  # type: ignore[assignment]
    assert (letter.status, letter.replays, letter.inflight_runs) == ("replay", 1, 1)
    replay_key = batch_key(letter.first_seq, letter.last_seq, 1)
    assert letter.inflight_key == replay_key != original
    connector.receiver.broken = set()
    connector.push()
    db.expire_all()
    letter = db.get(PushDeadLetter, letter.id)  # type: ignore[assignment]
    assert letter.status == DeadLetterStatus.DELIVERED.value
    assert letter.inflight_body is None
    assert str(world.team.id) in {
        r["id"] for r in connector.receiver.applied[replay_key]["records"]
    }
    assert connector.receiver.conflicts == []  # the replay's retries repeated it exactly


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


def test_a_refused_batch_is_parked_and_replayed_under_a_new_key(
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
    original = batch_key(letter.first_seq, letter.last_seq)
    assert connector.receiver.requests.count(original) == 1  # a refusal is not retried

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
    assert connector.receiver.conflicts == []  # the original key was never reused
    key = batch_key(letter.first_seq, letter.last_seq, 1)
    assert key != original
    assert str(world.team.id) in {r["id"] for r in connector.receiver.applied[key]["records"]}
    assert connector.receiver.applied[key]["batch_id"] == key


def test_retry_delays_are_exponential_with_full_jitter() -> None:
    """Each wait is drawn over the whole window [0, base·2^attempt]: without jitter (every wait
    at the ceiling) or with a half-window "equal jitter" the mean and spread below fail."""
    base = 0.5
    settings = settings_for(
        "sqlite://", national_push_max_attempts=6, national_push_base_delay_seconds=base
    )
    delays: list[float] = []
    down = httpx.Client(transport=httpx.MockTransport(lambda _request: httpx.Response(503)))
    client = PushClient(down, url="https://national.example/exchange", token=None, timeout=1)
    pusher = Pusher(
        client,
        settings,
        SensitiveCodec(settings.data_key_value),
        sleep=delays.append,
        rng=random.Random(5),
    )
    ratios: list[float] = []
    for _ in range(200):
        delays.clear()
        assert pusher.send_with_retries(b"{}", "k").status_code == 503
        assert len(delays) == 5  # a wait between attempts, none after the last
        for attempt, delay in enumerate(delays):
            ceiling = base * 2**attempt
            assert 0 <= delay <= ceiling
            ratios.append(delay / ceiling)
    assert 0.45 < statistics.mean(ratios) < 0.55  # uniform over the window
    assert min(ratios) < 0.02
    assert max(ratios) > 0.98
    assert len(set(ratios)) == len(ratios)
    down.close()


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
