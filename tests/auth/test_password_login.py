"""POST /auth/token (OAuth2 password form) and the bearer token on every other route."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from app.auth.security import read_access_token
from app.config import Settings
from app.errors import Unauthorized
from tests.auth.conftest import bearer, me, problem
from tests.factories import PASSWORD, Factory

TOKEN_URL = "/api/v1/auth/token"


def login(client: TestClient, username: str, password: str) -> Any:
    return client.post(TOKEN_URL, data={"username": username, "password": password})


def claims_for(user_id: uuid.UUID, settings: Settings, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], settings: Settings, key: str | None = None) -> str:
    return jwt.encode(claims, key or settings.secret_key_value, algorithm="HS256")


def test_password_login_returns_a_token_that_works_on_me(
    client: TestClient, make: Factory, settings: Settings
) -> None:
    user = make.user("alice", display_name="爱丽丝")

    response = login(client, "alice", PASSWORD)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    claims = jwt.decode(
        body["access_token"],
        settings.secret_key_value,
        algorithms=["HS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    assert claims["sub"] == str(user.id)
    assert claims["exp"] - claims["iat"] == settings.access_token_minutes * 60

    caller = me(client, body["access_token"])
    assert caller["id"] == str(user.id)
    assert caller["username"] == "alice"
    assert caller["display_name"] == "爱丽丝"
    assert caller["roles"] == ["resident"]


def test_password_login_records_last_login(client: TestClient, make: Factory, db: Session) -> None:
    user = make.user("bob")
    assert user.last_login_at is None

    assert login(client, "bob", PASSWORD).status_code == 200

    db.refresh(user)
    assert user.last_login_at is not None
    assert datetime.now(UTC) - user.last_login_at < timedelta(minutes=1)


def test_site_admin_login_shows_admin_role(client: TestClient, make: Factory) -> None:
    admin = make.site_admin("140802100200")
    assert admin.username is not None

    token = login(client, admin.username, PASSWORD).json()["access_token"]

    caller = me(client, token)
    assert caller["roles"] == ["resident", "site_admin"]
    assert [s["region_code"] for s in caller["admin_of_sites"]] == ["140802100200"]


def test_wrong_password_is_refused(client: TestClient, make: Factory) -> None:
    make.user("carol")

    response = login(client, "carol", PASSWORD + "!")

    problem(response, 401, "bad_credentials")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "access_token" not in response.json()


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(
    client: TestClient, make: Factory
) -> None:
    make.user("dave")

    unknown = problem(login(client, "nobody", PASSWORD), 401, "bad_credentials")
    wrong = problem(login(client, "dave", "wrong password"), 401, "bad_credentials")

    assert unknown["detail"] == wrong["detail"]
    assert unknown["title"] == wrong["title"]


def test_username_is_case_sensitive(client: TestClient, make: Factory) -> None:
    make.user("erin")

    problem(login(client, "ERIN", PASSWORD), 401, "bad_credentials")


def test_user_without_a_password_cannot_use_password_login(
    client: TestClient, make: Factory
) -> None:
    make.user("frank", password="")  # e.g. a user who signs in by SMS only

    problem(login(client, "frank", ""), 422, "validation_error")
    problem(login(client, "frank", "anything"), 401, "bad_credentials")


def test_inactive_user_cannot_log_in(client: TestClient, make: Factory, db: Session) -> None:
    user = make.user("grace")
    user.is_active = False
    db.add(user)
    db.flush()

    problem(login(client, "grace", PASSWORD), 401, "inactive_account")
    # A wrong password does not reveal that the account exists but is inactive.
    problem(login(client, "grace", "wrong password"), 401, "bad_credentials")


def test_token_of_a_deactivated_user_stops_working(
    client: TestClient, make: Factory, db: Session
) -> None:
    user = make.user("heidi")
    token = login(client, "heidi", PASSWORD).json()["access_token"]
    assert me(client, token)["id"] == str(user.id)

    user.is_active = False
    db.add(user)
    db.flush()

    problem(client.get("/api/v1/me", headers=bearer(token)), 401, "inactive_account")


def test_missing_form_fields_are_a_validation_error(client: TestClient) -> None:
    body = problem(client.post(TOKEN_URL, data={"username": "x"}), 422, "validation_error")
    assert ["body", "password"] in [e["loc"] for e in body["errors"]]


def test_missing_authorization_header_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/me")

    problem(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_non_bearer_scheme_is_401(client: TestClient, make: Factory) -> None:
    user = make.user("ivan")
    token = make.headers(user)["Authorization"].removeprefix("Bearer ")

    problem(
        client.get("/api/v1/me", headers={"Authorization": f"Basic {token}"}),
        401,
        "not_authenticated",
    )


def test_factory_token_is_accepted(client: TestClient, make: Factory, settings: Settings) -> None:
    """The control for the bad-token cases below: a well-formed token with the same claims."""
    user = make.user("judy")
    token = sign(claims_for(user.id, settings), settings)

    assert me(client, token)["id"] == str(user.id)


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "wrong_key",
        "missing_exp",
        "missing_sub",
        "sub_not_a_uuid",
        "unsigned",
        "other_algorithm",
        "garbage",
        "empty_signature",
    ],
)
def test_bad_tokens_are_401_invalid_token(
    client: TestClient, make: Factory, settings: Settings, case: str
) -> None:
    user = make.user("mallory")
    past = datetime.now(UTC) - timedelta(hours=2)
    good = sign(claims_for(user.id, settings), settings)
    tokens: dict[str, Callable[[], str]] = {
        "expired": lambda: sign(
            claims_for(user.id, settings, iat=past, exp=past + timedelta(hours=1)), settings
        ),
        "wrong_audience": lambda: sign(claims_for(user.id, settings, aud="other-api"), settings),
        "wrong_issuer": lambda: sign(claims_for(user.id, settings, iss="someone-else"), settings),
        "wrong_key": lambda: sign(claims_for(user.id, settings), settings, key="k" * 64),
        "missing_exp": lambda: sign(claims_for(user.id, settings, exp=None), settings),
        "missing_sub": lambda: sign(claims_for(user.id, settings, sub=None), settings),
        "sub_not_a_uuid": lambda: sign(claims_for(user.id, settings, sub="alice"), settings),
        "unsigned": lambda: jwt.encode(claims_for(user.id, settings), "", algorithm="none"),
        "other_algorithm": lambda: jwt.encode(
            claims_for(user.id, settings), settings.secret_key_value, algorithm="HS384"
        ),
        "garbage": lambda: "not-a-token",
        "empty_signature": lambda: good.rpartition(".")[0] + ".",
    }

    response = client.get("/api/v1/me", headers=bearer(tokens[case]()))

    problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_for_a_user_that_does_not_exist_is_401(
    client: TestClient, settings: Settings
) -> None:
    token = sign(claims_for(uuid.uuid4(), settings), settings)

    problem(client.get("/api/v1/me", headers=bearer(token)), 401, "inactive_account")


def test_a_remembered_token_is_refused_once_it_expires(
    client: TestClient, make: Factory, settings: Settings
) -> None:
    """Verified tokens are remembered (`security._VERIFIED`), never past their `exp`."""
    user = make.user("brief")
    expires = int(time.time()) + 2
    token = sign(claims_for(user.id, settings, exp=expires), settings)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200  # remembered
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    problem(client.get("/api/v1/me", headers=bearer(token)), 401, "invalid_token")


def test_a_token_remembered_under_one_key_is_refused_under_another(
    client: TestClient, make: Factory, settings: Settings
) -> None:
    user = make.user("keyed")
    token = sign(claims_for(user.id, settings), settings)
    assert read_access_token(token, settings) == user.id
    rotated = settings.model_copy(update={"secret_key": SecretStr("r" * 64)})
    with pytest.raises(Unauthorized):
        read_access_token(token, rotated)
