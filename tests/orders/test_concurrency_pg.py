"""接单 races and the worker's leases on PostgreSQL, with real commits and parallel connections.

Each HTTP test fires its requests from their own threads and TestClients, released together by a
`threading.Barrier`. A `Rendezvous` on the app's engine then holds every request right after a
chosen statement until all have run it, so that they really are in flight at the same moment
and only the database (row locks, compare-and-set, SKIP LOCKED) can keep them apart.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.auth.security import issue_access_token
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.dispatch.models import Offer
from app.dispatch.service import expire_offers
from app.integrations.sms import HttpSmsNotifier
from app.main import create_app
from app.notifications.channels import Notifier
from app.notifications.models import OutboxMessage
from app.orders.models import Order, OrderEvent
from app.teams.models import Team
from app.worker.tasks import LEASE, claim_messages, deliver_one, deliver_outbox, run_once
from tests.conftest import Backend, offline_http_client, settings_for
from tests.factories import Factory
from tests.rendezvous import AT_BEGIN, Rendezvous, statuses, together

COUNTY = "140802000000"
TOWNSHIP = "140802100000"
VILLAGE = "140802100200"
SMS_URL = "https://sms.example.test/notify"
T = TypeVar("T")

# `accept` has compare-and-set its own offer; next it takes a place in the team's capacity.
AFTER_OFFER_TAKEN = "UPDATE dispatch_offer SET status="
# The worker's claim of orders with expired offers.
EXPIRY_CLAIM = "FROM service_order WHERE service_order.id IN (SELECT dispatch_offer.order_id"


@dataclass
class Live:
    """The real app on a database of its own: its own sessionmaker, real commits."""

    app: FastAPI
    settings: Settings
    backend: Backend
    codec: SensitiveCodec

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.engine
        return engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = self.app.state.sessionmaker
        return factory

    def session(self) -> Session:
        return Session(self.backend.engine, expire_on_commit=False)

    def factory(self, session: Session) -> Factory:
        return Factory(session=session, settings=self.settings, codec=self.codec)

    def headers(self, user: User) -> dict[str, str]:
        token, _ = issue_access_token(user.id, self.settings)
        return {"Authorization": f"Bearer {token}"}

    def post(self, url: str, user: User, body: Any = None) -> httpx.Response:
        response: httpx.Response = TestClient(self.app).post(
            url, json=body, headers=self.headers(user)
        )
        return response

    def accept_call(self, order_id: uuid.UUID, user: User) -> Callable[[], httpx.Response]:
        headers = self.headers(user)

        def call() -> httpx.Response:
            response: httpx.Response = TestClient(self.app).post(
                f"/api/v1/orders/{order_id}/accept", headers=headers
            )
            return response

        return call


@pytest.fixture
def live(fresh_postgres: Backend) -> Iterator[Live]:
    settings = settings_for(fresh_postgres.url)
    app = create_app(settings, http_client=offline_http_client())
    try:
        yield Live(app, settings, fresh_postgres, SensitiveCodec(settings.data_key_value))
    finally:
        app.state.engine.dispose()


@dataclass
class Seed:
    station_admin: User
    resident: User
    teams: list[Team]
    leaders: list[User]
    team_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # leader user → team


def seed(live: Live, *, regions: Sequence[str], capacity: int = 3) -> Seed:
    """A station admin and a resident of the village, and one 'care' team per entry of `regions`,
    each with its own leader. Committed."""
    with live.session() as session:
        make = live.factory(session)
        make.region(VILLAGE)
        station_admin = make.site_admin(VILLAGE)
        resident = make.user(display_name="居民", home_region=VILLAGE)
        teams, leaders = [], []
        for index, region in enumerate(regions):
            volunteer = make.volunteer(region, name=f"队长{index}")
            teams.append(
                make.team(region, name=f"服务队{index}", leader=volunteer, capacity=capacity)
            )
            leader = session.get(User, volunteer.user_id)
            assert leader is not None
            leaders.append(leader)
        session.commit()
    return Seed(
        station_admin=station_admin,
        resident=resident,
        teams=teams,
        leaders=leaders,
        team_of={leader.id: team.id for leader, team in zip(leaders, teams, strict=True)},
    )


def approved_order(live: Live, s: Seed, title: str = "帮独居老人买药") -> uuid.UUID:
    placed = live.post(
        "/api/v1/orders",
        s.resident,
        {
            "category_code": "care",
            "title": title,
            "region_code": VILLAGE,
            "contact_name": "张大爷",
            "contact_phone": "13912345678",
        },
    )
    assert placed.status_code == 201, placed.text
    order_id = uuid.UUID(placed.json()["id"])
    approved = live.post(f"/api/v1/orders/{order_id}/approve", s.station_admin)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "unassigned"
    return order_id


def dispatch(live: Live, s: Seed, order_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    response = live.post(f"/api/v1/orders/{order_id}/dispatch", s.station_admin, body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dispatching"
    return dict(response.json())


def event_kinds(session: Session, order_id: uuid.UUID) -> list[str]:
    return list(
        session.exec(
            select(OrderEvent.kind)
            .where(OrderEvent.order_id == order_id)
            .order_by(col(OrderEvent.seq))
        ).all()
    )


def active_orders(session: Session, teams: Sequence[Team]) -> list[int]:
    rows = {t.id: t.active_orders for t in session.exec(select(Team)).all()}
    return [rows[t.id] for t in teams]


def problem(response: httpx.Response, code: str, current_state: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["current_state"]) == (code, current_state), body


# ---- 接单 ----------------------------------------------------------------------------------------


def test_grab_six_leaders_accept_at_once_exactly_one_wins(live: Live) -> None:
    s = seed(live, regions=[VILLAGE, VILLAGE, TOWNSHIP, TOWNSHIP, COUNTY, COUNTY])
    order_id = approved_order(live, s)
    offered = dispatch(live, s, order_id, {"mode": "grab"})
    assert sorted(o["team"]["id"] for o in offered["offers"]) == sorted(str(t.id) for t in s.teams)

    calls = [live.accept_call(order_id, leader) for leader in s.leaders]
    with Rendezvous(live.engine, len(calls), AT_BEGIN):
        responses = together(calls)

    assert statuses(responses) == {200: 1, 409: 5}, [r.text for r in responses]
    [winner_index] = [i for i, r in enumerate(responses) if r.status_code == 200]
    winner = s.teams[winner_index]
    won = responses[winner_index].json()
    assert (won["status"], won["team"]["id"]) == ("accepted", str(winner.id))
    for response in responses:
        if response.status_code == 409:
            problem(response, "invalid_state", "accepted")

    with live.session() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert (order.status, order.team_id) == ("accepted", winner.id)
        offers = {
            o.team_id: o.status
            for o in session.exec(select(Offer).where(Offer.order_id == order_id)).all()
        }
        assert offers == {t.id: "accepted" if t is winner else "withdrawn" for t in s.teams}
        assert active_orders(session, s.teams) == [int(t is winner) for t in s.teams]
        assert event_kinds(session, order_id) == ["placed", "unassigned", "dispatching", "accepted"]
        withdrawn = session.exec(
            select(OutboxMessage.recipient_user_id).where(OutboxMessage.topic == "offer.withdrawn")
        ).all()
        losers = {leader.id for i, leader in enumerate(s.leaders) if i != winner_index}
        assert sorted(map(str, withdrawn)) == sorted(map(str, losers))
        told = session.exec(
            select(OutboxMessage.payload).where(
                OutboxMessage.topic == "order.status_changed",
                OutboxMessage.recipient_user_id == s.resident.id,
            )
        ).all()
        assert sorted(p["status"] for p in told) == ["accepted", "unassigned"]


def test_double_tap_one_leader_eight_accepts_exactly_one_succeeds(live: Live) -> None:
    s = seed(live, regions=[VILLAGE])
    [team], [leader] = s.teams, s.leaders
    order_id = approved_order(live, s)
    dispatch(live, s, order_id, {"team_id": str(team.id)})

    calls = [live.accept_call(order_id, leader) for _ in range(8)]
    with Rendezvous(live.engine, len(calls), AT_BEGIN):
        responses = together(calls)

    assert statuses(responses) == {200: 1, 409: 7}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            problem(response, "invalid_state", "accepted")
    with live.session() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert (order.status, order.team_id) == ("accepted", team.id)
        assert [o.status for o in session.exec(select(Offer)).all()] == ["accepted"]
        assert active_orders(session, [team]) == [1]
        assert event_kinds(session, order_id).count("accepted") == 1


def test_team_capacity_holds_under_parallel_accepts(live: Live) -> None:
    s = seed(live, regions=[VILLAGE], capacity=2)
    [team], [leader] = s.teams, s.leaders
    order_ids = [approved_order(live, s, title=f"订单{i}") for i in range(5)]
    for order_id in order_ids:
        dispatch(live, s, order_id, {"team_id": str(team.id)})

    calls = [live.accept_call(order_id, leader) for order_id in order_ids]
    # Every request has taken its own offer before any takes a place in the team.
    with Rendezvous(live.engine, len(calls), AFTER_OFFER_TAKEN):
        responses = together(calls)

    assert statuses(responses) == {200: 2, 409: 3}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            problem(response, "team_full", "dispatching")
    accepted = {oid for oid, r in zip(order_ids, responses, strict=True) if r.status_code == 200}
    with live.session() as session:
        assert active_orders(session, [team]) == [2]
        orders = {o.id: o for o in session.exec(select(Order)).all()}
        assert {oid: orders[oid].status for oid in order_ids} == {
            oid: "accepted" if oid in accepted else "dispatching" for oid in order_ids
        }
        assert {oid: orders[oid].team_id for oid in order_ids} == {
            oid: team.id if oid in accepted else None for oid in order_ids
        }
        # A refused accept leaves its offer open: the team may take the order once it has room.
        offers = {o.order_id: o.status for o in session.exec(select(Offer)).all()}
        assert offers == {oid: "accepted" if oid in accepted else "pending" for oid in order_ids}


# ---- the worker ---------------------------------------------------------------------------------


@dataclass
class SmsRelay:
    """Counts deliveries per outbox message (its id travels in the payload) and per worker."""

    per_message: Counter[str] = field(default_factory=Counter)
    per_worker: Counter[str] = field(default_factory=Counter)
    # Each worker's first delivery waits here until the other worker is delivering too.
    overlap: threading.Barrier | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def notifier(self, codec: SensitiveCodec, worker_id: str) -> Notifier:
        def handle(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            with self._lock:
                first = self.per_worker[worker_id] == 0
                self.per_message[body["params"]["message_id"]] += 1
                self.per_worker[worker_id] += 1
            if first and self.overlap is not None:
                self.overlap.wait()
            return httpx.Response(200, json={"ok": True})

        client = httpx.Client(transport=httpx.MockTransport(handle))
        return Notifier(codec, sms=HttpSmsNotifier(client, SMS_URL, None))


def outbox_messages(live: Live, count: int) -> list[uuid.UUID]:
    """`count` pending messages to users with phones, committed."""
    with live.session() as session:
        make = live.factory(session)
        make.region(VILLAGE)
        users = [make.user(home_region=VILLAGE) for _ in range(4)]
        ids = [uuid.uuid4() for _ in range(count)]
        for i, message_id in enumerate(ids):
            session.add(
                OutboxMessage(
                    id=message_id,
                    topic="order.status_changed",
                    recipient_user_id=users[i % len(users)].id,
                    payload={"message_id": str(message_id), "status": "accepted"},
                )
            )
        session.commit()
    return ids


def outbox_rows(live: Live) -> list[OutboxMessage]:
    with live.session() as session:
        return list(session.exec(select(OutboxMessage)).all())


def test_two_workers_deliver_every_message_exactly_once(live: Live) -> None:
    ids = outbox_messages(live, 40)
    relay = SmsRelay(overlap=threading.Barrier(2, timeout=15))
    now = utcnow()

    def work(worker_id: str) -> Callable[[], int]:
        notifier = relay.notifier(live.codec, worker_id)

        def loop() -> int:
            total = 0
            while delivered := deliver_outbox(
                live.sessions, notifier, worker_id=worker_id, now=now, limit=5
            ):
                total += delivered
            return total

        return loop

    totals = together([work("w1"), work("w2")])

    assert sum(totals) == 40
    assert relay.per_message == Counter({str(i): 1 for i in ids})
    # Both workers were delivering at the same time (the overlap barrier let them through).
    assert set(relay.per_worker) == {"w1", "w2"}
    assert dict(relay.per_worker) == {"w1": totals[0], "w2": totals[1]}
    rows = outbox_rows(live)
    assert {r.id: (r.status, r.attempts, r.sent_at) for r in rows} == {
        i: ("sent", 1, now) for i in ids
    }
    assert Counter(r.locked_by for r in rows) == {"w1": totals[0], "w2": totals[1]}
    assert all(r.locked_until is None for r in rows)


def test_messages_leased_by_a_dead_worker_wait_for_the_lease_then_go_once(live: Live) -> None:
    ids = outbox_messages(live, 10)
    relay = SmsRelay()
    alive = relay.notifier(live.codec, "alive")
    now = utcnow()
    with live.session() as session:
        claimed = claim_messages(session, worker_id="dead", now=now, limit=50)
        session.commit()
    assert sorted(claimed) == sorted(ids)

    for moment in (now, now + timedelta(seconds=30), now + LEASE):
        assert deliver_outbox(live.sessions, alive, worker_id="alive", now=moment) == 0
    assert relay.per_message == Counter()
    assert {(r.status, r.locked_by, r.attempts) for r in outbox_rows(live)} == {
        ("pending", "dead", 0)
    }

    later = now + LEASE + timedelta(seconds=1)
    assert deliver_outbox(live.sessions, alive, worker_id="alive", now=later) == 10
    assert relay.per_message == Counter({str(i): 1 for i in ids})
    # The dead worker comes back late: it holds no lease any more and sends nothing.
    late = relay.notifier(live.codec, "dead")
    assert not deliver_one(live.sessions, late, message_id=ids[0], worker_id="dead", now=later)
    assert deliver_outbox(live.sessions, alive, worker_id="alive", now=later) == 0
    assert relay.per_message == Counter({str(i): 1 for i in ids})
    assert {r.id: (r.status, r.locked_by, r.attempts, r.sent_at) for r in outbox_rows(live)} == {
        i: ("sent", "alive", 1, later) for i in ids
    }


def expiring_orders(live: Live, count: int) -> tuple[Seed, list[uuid.UUID], datetime]:
    """`count` orders auto-dispatched to the village team, whose offers have all expired."""
    s = seed(live, regions=[VILLAGE, TOWNSHIP, COUNTY])
    order_ids = [approved_order(live, s, title=f"订单{i}") for i in range(count)]
    for order_id in order_ids:
        offered = dispatch(live, s, order_id, {"mode": "auto"})
        assert [o["team"]["id"] for o in offered["offers"]] == [str(s.teams[0].id)]
    now = utcnow()
    with live.session() as session:
        session.execute(update(Offer).values(expires_at=now - timedelta(minutes=1)))
        session.commit()
    return s, order_ids, now


def assert_expired_once(live: Live, s: Seed, order_ids: list[uuid.UUID], now: datetime) -> None:
    village, township, _ = s.teams
    with live.session() as session:
        for order_id in order_ids:
            assert event_kinds(session, order_id) == [
                "placed",
                "unassigned",
                "dispatching",
                "offer_expired",
                "offered",
            ]
            offers = session.exec(select(Offer).where(Offer.order_id == order_id)).all()
            assert sorted((o.team_id, o.status) for o in offers) == sorted(
                [(village.id, "expired"), (township.id, "pending")]
            )
            [expired] = [o for o in offers if o.status == "expired"]
            assert expired.responded_at == now
        created = session.exec(
            select(OutboxMessage).where(OutboxMessage.topic == "offer.created")
        ).all()
        to_township = Counter(
            m.payload["order_id"] for m in created if m.recipient_user_id == s.leaders[1].id
        )
        assert to_township == Counter({str(o): 1 for o in order_ids})


def test_two_workers_expire_each_offer_once(live: Live) -> None:
    s, order_ids, now = expiring_orders(live, 6)
    notifier = Notifier(live.codec)

    def work(worker_id: str) -> Callable[[], dict[str, int]]:
        return lambda: run_once(
            live.sessions, live.settings, notifier, worker_id=worker_id, now=now
        )

    # Each worker holds after its claim until the other has claimed too: the second claim runs
    # while the first holds its row locks, and must skip them rather than take them again.
    with Rendezvous(live.engine, 2, EXPIRY_CLAIM):
        counts = together([work("w1"), work("w2")])

    # Whichever claimed first took the orders it found; the other skipped them. Together: each once.
    assert sum(c["expired_offers"] for c in counts) == 6
    assert all(c["expired_offers"] >= 0 for c in counts)  # -1: the task failed
    assert_expired_once(live, s, order_ids, now)


def test_two_workers_expiring_in_small_batches_process_each_order_once(live: Live) -> None:
    s, order_ids, now = expiring_orders(live, 6)

    def work() -> int:
        total = 0
        while True:
            with live.sessions() as session:
                handled = expire_offers(session=session, settings=live.settings, now=now, limit=2)
                session.commit()
            if not handled:
                return total
            total += handled

    totals = together([work, work])

    assert sum(totals) == 6
    assert_expired_once(live, s, order_ids, now)
