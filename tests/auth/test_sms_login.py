"""SMS sign-in through the real HttpSmsSender, with the gateway faked by httpx.MockTransport."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, col, func, select

from app.accounts.models import SmsCode, User
from app.accounts.service import PHONE_CONTEXT, SMS_CODES_PER_HOUR
from app.config import Environment, Settings
from tests.auth.conftest import SMS_GATEWAY_URL, SmsGateway, app_with_outside, me, problem
from tests.conftest import Backend, settings_for
from tests.factories import Factory

PHONE = "13912345678"
OTHER_PHONE = "13987654321"
CODE_URL = "/api/v1/auth/sms-code"
LOGIN_URL = "/api/v1/auth/sms-login"


@pytest.fixture
def gateway() -> SmsGateway:
    return SmsGateway()


@pytest.fixture
def sms_settings(backend: Backend) -> Settings:
    return settings_for(
        backend.url, sms_gateway_url=SMS_GATEWAY_URL, sms_gateway_token="relay-token"
    )


@pytest.fixture
def sms_app(sms_settings: Settings, connection: Connection, gateway: SmsGateway) -> FastAPI:
    return app_with_outside(sms_settings, connection, gateway)


@pytest.fixture
def sms_client(sms_app: FastAPI) -> TestClient:
    return TestClient(sms_app)


def send_code(client: TestClient, phone: str = PHONE) -> httpx.Response:
    response: httpx.Response = client.post(CODE_URL, json={"phone": phone})
    return response


def sms_login(client: TestClient, code: str, phone: str = PHONE) -> httpx.Response:
    response: httpx.Response = client.post(LOGIN_URL, json={"phone": phone, "code": code})
    return response


def code_rows(db: Session, make: Factory, phone: str = PHONE) -> list[SmsCode]:
    db.expire_all()
    phone_hash = make.codec.lookup_hash(phone, context=PHONE_CONTEXT)
    rows = db.exec(
        select(SmsCode).where(SmsCode.phone_hash == phone_hash).order_by(col(SmsCode.created_at))
    ).all()
    return list(rows)


def users_with_phone(db: Session, make: Factory, phone: str = PHONE) -> int:
    phone_hash = make.codec.lookup_hash(phone, context=PHONE_CONTEXT)
    return db.exec(select(func.count()).where(User.phone_hash == phone_hash)).one()


def age_codes(db: Session, make: Factory, by: timedelta, phone: str = PHONE) -> None:
    """Move this phone's codes into the past, as if `by` had passed since they were sent."""
    for row in code_rows(db, make, phone):
        row.created_at -= by
        row.expires_at -= by
        db.add(row)
    db.flush()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_code_is_posted_to_the_gateway(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    response = send_code(sms_client, "+86 139-1234-5678")

    assert response.status_code == 200, response.text
    assert response.json() == {"sent": True, "resend_after_seconds": 60}
    assert len(gateway.received) == 1
    request = gateway.received[0]
    assert request.method == "POST"
    assert str(request.url) == SMS_GATEWAY_URL
    assert request.headers["authorization"] == "Bearer relay-token"
    payload = json.loads(request.content)
    assert payload["phone"] == PHONE
    assert payload["template"] == "login_code"
    code = payload["params"]["code"]
    assert re.fullmatch(r"\d{6}", code)
    assert code not in response.text
    # Stored as a keyed hash only: neither the phone nor the code is in the row.
    [row] = code_rows(db, make)
    assert row.attempts == 0
    assert row.consumed_at is None
    assert timedelta(seconds=295) < row.expires_at - row.created_at <= timedelta(seconds=300)
    stored = repr(row.model_dump())
    assert PHONE not in stored
    assert code not in stored


def test_sms_login_creates_a_resident_and_returns_a_token(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    assert users_with_phone(db, make) == 0
    assert send_code(sms_client).status_code == 200

    response = sms_login(sms_client, gateway.last_code(PHONE))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    caller = me(sms_client, body["access_token"])
    assert caller["roles"] == ["resident"]
    assert caller["phone"] == "139****5678"
    assert caller["username"] is None
    assert caller["display_name"] == "居民5678"
    assert caller["volunteer"] is None
    assert PHONE not in json.dumps(caller)
    assert users_with_phone(db, make) == 1
    [row] = code_rows(db, make)
    assert row.consumed_at is not None


def test_a_code_works_only_once(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    send_code(sms_client)
    code = gateway.last_code(PHONE)
    assert sms_login(sms_client, code).status_code == 200

    problem(sms_login(sms_client, code), 401, "bad_sms_code")
    assert users_with_phone(db, make) == 1


def test_returning_user_gets_the_same_account(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    send_code(sms_client)
    first = sms_login(sms_client, gateway.last_code(PHONE)).json()["access_token"]
    age_codes(db, make, timedelta(minutes=2))
    assert send_code(sms_client).status_code == 200

    second = sms_login(sms_client, gateway.last_code(PHONE)).json()["access_token"]

    assert me(sms_client, second)["id"] == me(sms_client, first)["id"]
    assert users_with_phone(db, make) == 1


def test_sms_login_signs_in_an_existing_user_with_that_phone(
    sms_client: TestClient, gateway: SmsGateway, make: Factory
) -> None:
    admin = make.site_admin("140802100200")
    owner = make.user("owner", phone=PHONE, display_name="已有用户")
    assert admin.id != owner.id
    send_code(sms_client)

    token = sms_login(sms_client, gateway.last_code(PHONE)).json()["access_token"]

    caller = me(sms_client, token)
    assert caller["id"] == str(owner.id)
    assert caller["username"] == "owner"
    assert caller["display_name"] == "已有用户"


def test_inactive_user_cannot_sign_in_by_sms(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    user = make.user(phone=PHONE)
    user.is_active = False
    db.add(user)
    db.flush()
    send_code(sms_client)

    problem(sms_login(sms_client, gateway.last_code(PHONE)), 401, "inactive_account")


def test_the_code_is_only_good_for_its_own_phone(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    send_code(sms_client, PHONE)
    send_code(sms_client, OTHER_PHONE)
    code = gateway.last_code(PHONE)
    if code == gateway.last_code(OTHER_PHONE):  # one chance in a million
        pytest.skip("both phones got the same code")

    problem(sms_login(sms_client, code, OTHER_PHONE), 401, "bad_sms_code")
    assert users_with_phone(db, make, OTHER_PHONE) == 0


def test_phone_is_normalised_on_login(sms_client: TestClient, gateway: SmsGateway) -> None:
    send_code(sms_client)

    response = sms_login(sms_client, f" {gateway.last_code(PHONE)} ", "+86 139 1234 5678")

    assert response.status_code == 200, response.text


def test_wrong_codes_are_counted(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    send_code(sms_client)
    code = gateway.last_code(PHONE)

    problem(sms_login(sms_client, wrong(code)), 401, "bad_sms_code")
    problem(sms_login(sms_client, "000"), 422, "validation_error")  # not a guess: too short
    problem(sms_login(sms_client, wrong(wrong(code))), 401, "bad_sms_code")

    [row] = code_rows(db, make)
    assert row.attempts == 2
    assert row.consumed_at is None
    # Below the limit the right code still works.
    assert sms_login(sms_client, code).status_code == 200


def test_after_max_attempts_even_the_right_code_fails(
    sms_client: TestClient,
    gateway: SmsGateway,
    db: Session,
    make: Factory,
    sms_settings: Settings,
) -> None:
    assert sms_settings.sms_code_max_attempts == 5
    send_code(sms_client)
    code = gateway.last_code(PHONE)
    guess = code
    for _ in range(5):
        guess = wrong(guess)
        problem(sms_login(sms_client, guess), 401, "bad_sms_code")

    problem(sms_login(sms_client, code), 401, "bad_sms_code")

    [row] = code_rows(db, make)
    assert row.attempts == 5
    assert row.consumed_at is None
    assert users_with_phone(db, make) == 0


def test_expired_code_fails(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    send_code(sms_client)
    code = gateway.last_code(PHONE)
    age_codes(db, make, timedelta(seconds=301))

    problem(sms_login(sms_client, code), 401, "bad_sms_code")


def test_only_the_latest_code_counts(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    send_code(sms_client)
    old = gateway.last_code(PHONE)
    age_codes(db, make, timedelta(seconds=90))
    send_code(sms_client)
    new = gateway.last_code(PHONE)
    if old == new:  # one chance in a million
        pytest.skip("both messages carried the same code")

    problem(sms_login(sms_client, old), 401, "bad_sms_code")
    assert sms_login(sms_client, new).status_code == 200


def test_login_without_any_code_fails(sms_client: TestClient) -> None:
    problem(sms_login(sms_client, "123456"), 401, "bad_sms_code")


def test_resend_within_a_minute_is_refused(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    assert send_code(sms_client).status_code == 200

    problem(send_code(sms_client), 429, "sms_code_too_soon")
    problem(send_code(sms_client, "+86 13912345678"), 429, "sms_code_too_soon")

    assert len(gateway.received) == 1
    assert len(code_rows(db, make)) == 1
    # Another phone number is not affected.
    assert send_code(sms_client, OTHER_PHONE).status_code == 200
    # After the minute, a new code may be sent.
    age_codes(db, make, timedelta(seconds=61))
    assert send_code(sms_client).status_code == 200
    assert len(gateway.received) == 3


def test_at_most_five_codes_an_hour(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory
) -> None:
    phone_hash = make.codec.lookup_hash(PHONE, context=PHONE_CONTEXT)
    now = datetime.now(UTC)
    for minutes in range(55, 55 - 10 * SMS_CODES_PER_HOUR, -10):  # 55, 45, ... 15 minutes ago
        sent = now - timedelta(minutes=minutes)
        db.add(
            SmsCode(
                phone_hash=phone_hash,
                code_hash="x" * 64,
                created_at=sent,
                expires_at=sent + timedelta(minutes=5),
            )
        )
    db.flush()

    problem(send_code(sms_client), 429, "sms_code_limit")
    assert gateway.received == []

    # Once the oldest is more than an hour old, there is room for one more.
    age_codes(db, make, timedelta(minutes=6))
    assert send_code(sms_client).status_code == 200


@pytest.mark.parametrize("phone", ["12345678901", "1391234567", "010-62345678", "+1 415 555 2671"])
def test_invalid_phone_is_422(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory, phone: str
) -> None:
    problem(send_code(sms_client, phone), 422, "invalid_phone")
    problem(sms_login(sms_client, "123456", phone), 422, "invalid_phone")
    assert gateway.received == []
    assert db.exec(select(func.count()).select_from(SmsCode)).one() == 0


@pytest.mark.parametrize("failure", ["status_500", "unreachable"])
def test_gateway_failure_is_502_and_nothing_is_stored(
    sms_client: TestClient, gateway: SmsGateway, db: Session, make: Factory, failure: str
) -> None:
    if failure == "status_500":
        gateway.status = 500
    else:
        gateway.unreachable = True

    problem(send_code(sms_client), 502, "sms_send_failed")

    assert len(gateway.received) == 1
    assert code_rows(db, make) == []
    # The failed send does not count against the resend limit.
    gateway.status, gateway.unreachable = 200, False
    assert send_code(sms_client).status_code == 200
    assert len(code_rows(db, make)) == 1
    assert sms_login(sms_client, gateway.last_code(PHONE)).status_code == 200


def production_settings(backend: Backend, **overrides: Any) -> Settings:
    return Settings(
        env=Environment.PRODUCTION,
        database_url=backend.url,
        secret_key="p" * 40,
        data_key=base64.b64encode(os.urandom(32)).decode(),
        **overrides,
    )


def test_production_without_a_gateway_is_503(
    backend: Backend, connection: Connection, gateway: SmsGateway
) -> None:
    client = TestClient(app_with_outside(production_settings(backend), connection, gateway))

    problem(send_code(client), 503, "sms_not_configured")
    assert gateway.received == []


def test_production_with_a_gateway_sends(
    backend: Backend, connection: Connection, gateway: SmsGateway
) -> None:
    settings = production_settings(backend, sms_gateway_url=SMS_GATEWAY_URL)
    client = TestClient(app_with_outside(settings, connection, gateway))

    assert send_code(client).status_code == 200
    assert len(gateway.received) == 1
    assert "authorization" not in gateway.received[0].headers
    assert sms_login(client, gateway.last_code(PHONE)).status_code == 200


def test_development_without_a_gateway_logs_the_code(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The `app` fixture refuses every outside call, so a 200 here means nothing was sent."""
    with caplog.at_level(logging.WARNING, logger="app.integrations.sms"):
        assert send_code(client).status_code == 200

    [record] = [r for r in caplog.records if r.name == "app.integrations.sms"]
    code = record.args[1] if isinstance(record.args, tuple) else None
    assert isinstance(code, str)
    assert re.fullmatch(r"\d{6}", code)
    assert sms_login(client, code).status_code == 200
