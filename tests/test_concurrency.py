"""Races settled by the database, on PostgreSQL with real commits and real parallel connections.

Each test fires N requests from N threads at once. A `Rendezvous` on the app's engine holds every
request right after it has read the row it is about to change, until all N have read it: so every
request sees the same "before" state, and only the database (compare-and-set, unique constraints,
row locks) can stop them from all succeeding. Without it the race window is a millisecond wide and
a check-then-act bug would pass most runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from app.accounts.models import SmsCode, User
from app.accounts.service import PHONE_CONTEXT
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.main import create_app
from app.volunteers.models import Volunteer, VolunteerStatus
from tests.auth.conftest import SMS_GATEWAY_URL, SmsGateway, problem
from tests.conftest import Backend, settings_for
from tests.factories import Factory, valid_id_number
from tests.rendezvous import Rendezvous, statuses, together

N = 8
VILLAGE = "140802100200"
TOWNSHIP = "140802100000"
PHONE = "13912345678"


Call = Callable[[TestClient], httpx.Response]


def post(url: str, *, headers: dict[str, str] | None = None, json: Any = None) -> Call:
    def call(client: TestClient) -> httpx.Response:
        response: httpx.Response = client.post(url, json=json, headers=headers)
        return response

    return call


def in_parallel(app: FastAPI, calls: Sequence[Call]) -> list[httpx.Response]:
    """Run each call on its own thread and TestClient, released together."""
    clients = [TestClient(app) for _ in calls]
    return together(
        [functools.partial(call, client) for call, client in zip(calls, clients, strict=True)]
    )


@dataclass
class Live:
    app: FastAPI
    settings: Settings
    gateway: SmsGateway
    backend: Backend

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.engine
        return engine

    def session(self) -> Session:
        return Session(self.backend.engine, expire_on_commit=False)

    def factory(self, session: Session) -> Factory:
        return Factory(
            session=session,
            settings=self.settings,
            codec=SensitiveCodec(self.settings.data_key_value),
        )


@pytest.fixture
def live(fresh_postgres: Backend) -> Iterator[Live]:
    """The real app on a database of its own: its own sessionmaker, real commits."""
    gateway = SmsGateway()
    settings = settings_for(fresh_postgres.url, sms_gateway_url=SMS_GATEWAY_URL)
    app = create_app(settings, http_client=httpx.Client(transport=httpx.MockTransport(gateway)))
    try:
        yield Live(app, settings, gateway, fresh_postgres)
    finally:
        app.state.engine.dispose()


def test_parallel_approvals_by_two_admins_only_one_wins(live: Live) -> None:
    with live.session() as session:
        make = live.factory(session)
        admins = [make.site_admin(VILLAGE), make.site_admin(TOWNSHIP)]
        volunteer = make.volunteer(VILLAGE, status=VolunteerStatus.PENDING)
        headers = [make.headers(a) for a in admins]
        session.commit()
    url = f"/api/v1/volunteers/{volunteer.id}/approve"

    calls = [post(url, headers=headers[i % 2]) for i in range(N)]
    with Rendezvous(live.engine, N, "FROM volunteer WHERE volunteer.id ="):
        responses = in_parallel(live.app, calls)

    assert statuses(responses) == {200: 1, 409: N - 1}, [r.text for r in responses]
    [winner] = [r for r in responses if r.status_code == 200]
    assert winner.json()["status"] == "approved"
    for response in responses:
        if response.status_code == 409:
            assert problem(response, 409, "invalid_state")["current_state"] == "approved"
    with live.session() as session:
        stored = session.get(Volunteer, volunteer.id)
        assert stored is not None
        assert stored.status == "approved"
        assert stored.reviewed_by_id in {a.id for a in admins}


def test_parallel_approve_and_reject_settle_in_some_serial_order(live: Live) -> None:
    """Approve works from pending or rejected, reject only from pending. Whatever the order the
    database picks, one approval wins, at most one rejection wins (before it), and the volunteer
    ends approved by the approving admin."""
    with live.session() as session:
        make = live.factory(session)
        station, institute = make.site_admin(VILLAGE), make.site_admin(TOWNSHIP)
        volunteer = make.volunteer(VILLAGE, status=VolunteerStatus.PENDING)
        approver, rejecter = make.headers(station), make.headers(institute)
        session.commit()
    base = f"/api/v1/volunteers/{volunteer.id}"

    approve = post(f"{base}/approve", headers=approver)
    reject = post(f"{base}/reject", json={"reason": "并发驳回"}, headers=rejecter)

    with Rendezvous(live.engine, N, "FROM volunteer WHERE volunteer.id ="):
        responses = in_parallel(live.app, [approve if i % 2 else reject for i in range(N)])

    approvals, rejections = responses[1::2], responses[0::2]
    assert statuses(approvals)[200] == 1, [r.text for r in responses]
    assert statuses(rejections)[200] in (0, 1), [r.text for r in responses]
    assert statuses(responses)[200] + statuses(responses)[409] == N
    for response in responses:
        if response.status_code == 409:
            body = problem(response, 409, "invalid_state")
            assert body["current_state"] in {"approved", "rejected"}
    with live.session() as session:
        stored = session.get(Volunteer, volunteer.id)
        assert stored is not None
        assert stored.status == "approved"
        assert stored.reviewed_by_id == station.id


def test_parallel_registrations_with_one_id_number_only_one_wins(live: Live) -> None:
    id_number = valid_id_number(20950)
    with live.session() as session:
        make = live.factory(session)
        make.region(VILLAGE)
        users = [make.user(home_region=VILLAGE) for _ in range(N)]
        headers = [make.headers(u) for u in users]
        session.commit()

    def register(i: int) -> Call:
        body = {
            "real_name": f"申请人{i}",
            "phone": f"1391234{i:04d}",
            "id_number": id_number,
            "region_code": VILLAGE,
        }
        return post("/api/v1/volunteers", json=body, headers=headers[i])

    with Rendezvous(live.engine, N, "WHERE volunteer.id_number_hash ="):
        responses = in_parallel(live.app, [register(i) for i in range(N)])

    assert statuses(responses) == {201: 1, 409: N - 1}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            body = response.json()
            assert body["code"] in {"id_number_taken", "concurrent_conflict"}, body
            problem(response, 409, body["code"])
    [winner] = [r for r in responses if r.status_code == 201]
    with live.session() as session:
        rows = session.exec(select(Volunteer)).all()
        assert [str(v.id) for v in rows] == [winner.json()["id"]]
    # Afterwards the loser is told why, with the stable code.
    loser = next(h for h, r in zip(headers, responses, strict=True) if r.status_code == 409)
    retry = TestClient(live.app).post(
        "/api/v1/volunteers",
        json={
            "real_name": "重试",
            "phone": "13912349999",
            "id_number": id_number,
            "region_code": VILLAGE,
        },
        headers=loser,
    )
    problem(retry, 409, "id_number_taken")


def test_parallel_registrations_by_one_user_create_one_volunteer(live: Live) -> None:
    with live.session() as session:
        make = live.factory(session)
        make.region(VILLAGE)
        user = make.user(home_region=VILLAGE)
        headers = make.headers(user)
        session.commit()

    def register(i: int) -> Call:
        body = {
            "real_name": "连点用户",
            "phone": "13912340000",
            "id_number": valid_id_number(20960 + i),
            "region_code": VILLAGE,
        }
        return post("/api/v1/volunteers", json=body, headers=headers)

    with Rendezvous(live.engine, N, "WHERE volunteer.id_number_hash ="):
        responses = in_parallel(live.app, [register(i) for i in range(N)])

    assert statuses(responses) == {201: 1, 409: N - 1}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] in {"already_registered", "concurrent_conflict"}
    with live.session() as session:
        count = session.exec(
            select(func.count()).select_from(Volunteer).where(Volunteer.user_id == user.id)
        ).one()
        assert count == 1


def request_code(live: Live) -> str:
    response = TestClient(live.app).post("/api/v1/auth/sms-code", json={"phone": PHONE})
    assert response.status_code == 200, response.text
    return live.gateway.last_code(PHONE)


def phone_users(live: Live) -> int:
    codec = SensitiveCodec(live.settings.data_key_value)
    phone_hash = codec.lookup_hash(PHONE, context=PHONE_CONTEXT)
    with live.session() as session:
        return session.exec(
            select(func.count()).select_from(User).where(User.phone_hash == phone_hash)
        ).one()


def login_with(code: str) -> Call:
    return post("/api/v1/auth/sms-login", json={"phone": PHONE, "code": code})


def test_parallel_sms_logins_with_one_code_only_one_succeeds(live: Live) -> None:
    code = request_code(live)

    with Rendezvous(live.engine, N, "FROM sms_code WHERE"):
        responses = in_parallel(live.app, [login_with(code) for _ in range(N)])

    assert statuses(responses) == {200: 1, 401: N - 1}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 401:
            problem(response, 401, "bad_sms_code")
    assert phone_users(live) == 1


def test_parallel_wrong_guesses_are_all_counted(live: Live) -> None:
    """Guessing in parallel must not get more tries than guessing one at a time."""
    code = request_code(live)
    max_attempts = live.settings.sms_code_max_attempts
    assert max_attempts < N
    guesses = [f"{(int(code) + 1 + i) % 1_000_000:06d}" for i in range(N)]

    with Rendezvous(live.engine, N, "FROM sms_code WHERE"):
        responses = in_parallel(live.app, [login_with(g) for g in guesses])

    assert statuses(responses) == {401: N}
    for response in responses:
        problem(response, 401, "bad_sms_code")
    with live.session() as session:
        [row] = session.exec(select(SmsCode)).all()
        assert row.attempts == max_attempts
        assert row.consumed_at is None
    problem(
        TestClient(live.app).post("/api/v1/auth/sms-login", json={"phone": PHONE, "code": code}),
        401,
        "bad_sms_code",
    )
    assert phone_users(live) == 0


def test_parallel_code_requests_send_one_sms(live: Live) -> None:
    """One code a minute per number, also when the requests come all at once."""
    send = "/api/v1/auth/sms-code"

    with Rendezvous(live.engine, N, "FROM sms_code WHERE", strict=False, timeout=3.0):
        responses = in_parallel(live.app, [post(send, json={"phone": PHONE}) for _ in range(N)])

    assert statuses(responses) == {200: 1, 429: N - 1}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 429:
            problem(response, 429, "sms_code_too_soon")
    assert len(live.gateway.received) == 1
    with live.session() as session:
        assert len(session.exec(select(SmsCode)).all()) == 1
