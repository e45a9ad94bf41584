"""Integrator API keys: issued once, scoped, region-limited, revocable, and refused elsewhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, select

from app.apikeys.models import ApiKey
from app.audit.models import AuditEntry
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.integrations.national.personal import PersonalData
from app.main import create_app
from tests.conftest import Backend, _savepoint_sessions, offline_http_client, settings_for
from tests.factories import Factory, World

KEYS = "/api/v1/api-keys"
COUNTY, OTHER = "140802000000", "140803000000"


@pytest.fixture
def app(settings: Settings, connection: Connection) -> FastAPI:
    """The usual test app, with webhook host names resolving to a public address."""
    application = create_app(
        settings,
        http_client=offline_http_client(),
        webhook_resolver=lambda _host, _port: ["93.184.216.34"],
    )
    application.state.sessionmaker = _savepoint_sessions(connection)
    return application


@pytest.fixture
def worlds(make: Factory, db: Session) -> tuple[World, World]:
    here, there = make.world(COUNTY), make.world(OTHER)
    db.commit()
    return here, there


def issue(client: TestClient, make: Factory, **body: Any) -> dict[str, Any]:
    payload = {"name": "志愿中国同步", "scopes": ["changes:read"], **body}
    response = client.post(KEYS, json=payload, headers=make.headers(make.platform_admin()))
    assert response.status_code == 201, response.text
    return dict(response.json())


def with_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_a_key_is_shown_once_and_kept_only_as_a_hash(
    client: TestClient, make: Factory, db: Session
) -> None:
    make.region(COUNTY)
    created = issue(client, make, scopes=["changes:read", "records:read"], region_code=COUNTY)
    key = created["key"]
    assert key.startswith(f"ddk_{created['prefix']}_")
    assert created["scopes"] == ["changes:read", "records:read"]
    admin = make.headers(make.platform_admin())
    listed = client.get(KEYS, headers=admin).json()["items"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    stored = db.exec(select(ApiKey)).one()
    assert key not in stored.key_hash
    assert stored.key_hash != key
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "api_key.create")).one()


def test_only_platform_admins_manage_keys(
    client: TestClient, make: Factory, worlds: tuple[World, World]
) -> None:
    here, _ = worlds
    body = {"name": "x", "scopes": ["changes:read"]}
    for user in (here.center_admin, here.leader, here.resident):
        assert client.post(KEYS, json=body, headers=make.headers(user)).status_code == 403
        assert client.get(KEYS, headers=make.headers(user)).status_code == 403
    assert client.post(KEYS, json=body).status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "scopes": []}, 422),
        ({"name": "x", "scopes": ["orders:delete"]}, 422),
        ({"name": "", "scopes": ["changes:read"]}, 422),
        ({"name": "x", "scopes": ["changes:read"], "region_code": "999999999999"}, 404),
        ({"name": "x", "scopes": ["changes:read"], "expires_at": "2001-01-01T00:00:00Z"}, 422),
    ],
)
def test_bad_key_requests_are_refused_clearly(
    client: TestClient, make: Factory, body: dict[str, Any], code: int
) -> None:
    response = client.post(KEYS, json=body, headers=make.headers(make.platform_admin()))
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_feed_through_a_key_stays_in_its_region(
    client: TestClient, make: Factory, worlds: tuple[World, World], db: Session
) -> None:
    here, there = worlds
    key = issue(client, make, region_code=COUNTY)["key"]
    response = client.get("/api/v1/sync/changes?limit=1000", headers=with_key(key))
    assert response.status_code == 200, response.text
    regions = {c["region_code"] for c in response.json()["items"] if c["region_code"]}
    assert regions
    assert all(r.startswith(COUNTY[:6]) for r in regions)
    team_ids = {c["entity_id"] for c in response.json()["items"] if c["entity"] == "team"}
    assert str(here.team.id) in team_ids
    assert str(there.team.id) not in team_ids


def test_a_key_does_only_what_its_scopes_say(
    client: TestClient, make: Factory, worlds: tuple[World, World]
) -> None:
    here, _ = worlds
    key = issue(client, make, scopes=["volunteers:read"])["key"]
    assert client.get("/api/v1/exports/volunteers", headers=with_key(key)).status_code == 200
    refused = client.get("/api/v1/exports/service_records", headers=with_key(key))
    assert refused.status_code == 403
    assert refused.json()["code"] == "scope_required"
    assert client.get("/api/v1/sync/changes", headers=with_key(key)).status_code == 403
    # Endpoints that do not take keys do not see them at all.
    for path in ("/api/v1/volunteers", f"/api/v1/teams/{here.team.id}", "/api/v1/me", KEYS):
        assert client.get(path, headers=with_key(key)).status_code == 401, path


def test_exports_through_a_key_are_masked_and_in_region(
    client: TestClient, make: Factory, worlds: tuple[World, World], settings: Settings
) -> None:
    here, there = worlds
    settings.export_personal_data = PersonalData.FULL
    masked_only = issue(client, make, scopes=["volunteers:read"], region_code=COUNTY)["key"]
    response = client.get("/api/v1/exports/volunteers", headers=with_key(masked_only))
    ids = {row["local_id"] for row in map(__import__("json").loads, response.text.splitlines())}
    assert str(here.member_volunteer.id) in ids
    assert str(there.member_volunteer.id) not in ids
    full = client.get("/api/v1/exports/volunteers?personal=full", headers=with_key(masked_only))
    assert full.status_code == 403
    personal = issue(client, make, scopes=["volunteers:read", "personal_data:read"])["key"]
    full = client.get("/api/v1/exports/volunteers?personal=full", headers=with_key(personal))
    assert full.status_code == 200
    assert "*" not in full.text.splitlines()[0].split('"id_number":')[1][:25]


@pytest.mark.parametrize("spoil", ["revoke", "expire", "wrong_secret", "malformed"])
def test_revoked_expired_and_forged_keys_are_refused(
    client: TestClient, make: Factory, db: Session, spoil: str
) -> None:
    created = issue(client, make)
    key = created["key"]
    assert client.get("/api/v1/sync/changes", headers=with_key(key)).status_code == 200
    if spoil == "revoke":
        admin = make.headers(make.platform_admin())
        assert client.delete(f"{KEYS}/{created['id']}", headers=admin).status_code == 204
        assert client.get(f"{KEYS}/{created['id']}", headers=admin).json()["revoked_at"]
    elif spoil == "expire":
        stored = db.exec(select(ApiKey)).one()
        stored.expires_at = utcnow() - timedelta(seconds=1)
        db.add(stored)
        db.commit()
    elif spoil == "wrong_secret":
        key = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    else:
        key = "not-a-key"
    response = client.get("/api/v1/sync/changes", headers=with_key(key))
    assert response.status_code == 401
    assert response.json()["code"] == "bad_api_key"


def test_a_key_manages_only_its_own_webhooks_within_its_region(
    client: TestClient, make: Factory, worlds: tuple[World, World]
) -> None:
    admin = make.headers(make.platform_admin())
    theirs = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/a", "event_types": ["*"]},
        headers=admin,
    ).json()
    key = issue(client, make, scopes=["webhooks:manage", "changes:read"], region_code=COUNTY)["key"]
    mine = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/b", "event_types": ["order.*"]},
        headers=with_key(key),
    )
    assert mine.status_code == 201, mine.text
    assert mine.json()["region_code"] == COUNTY  # the key's region by default
    outside = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/c", "event_types": ["*"], "region_code": OTHER},
        headers=with_key(key),
    )
    assert outside.status_code == 403
    listed = client.get("/api/v1/webhooks", headers=with_key(key)).json()["items"]
    assert [s["id"] for s in listed] == [mine.json()["id"]]
    assert client.get(f"/api/v1/webhooks/{theirs['id']}", headers=with_key(key)).status_code == 404
    gone = client.delete(f"/api/v1/webhooks/{theirs['id']}", headers=with_key(key))
    assert gone.status_code == 404
    assert len(client.get("/api/v1/webhooks", headers=admin).json()["items"]) == 2


@pytest.mark.postgres
def test_use_is_noted_in_a_transaction_of_its_own(fresh_postgres: Backend) -> None:
    """With real commits: a read through a key notes when the key was last used."""
    app = create_app(settings_for(fresh_postgres.url), http_client=offline_http_client())
    try:
        with Session(fresh_postgres.engine, expire_on_commit=False) as session:
            settings = app.state.settings
            make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
            admin = make.headers(make.platform_admin())
            session.commit()
            client = TestClient(app)
            created = client.post(
                KEYS, json={"name": "x", "scopes": ["changes:read"]}, headers=admin
            )
            key = created.json()["key"]
            assert session.exec(select(ApiKey)).one().last_used_at is None
            assert client.get("/api/v1/sync/changes", headers=with_key(key)).status_code == 200
            session.expire_all()
            assert session.exec(select(ApiKey)).one().last_used_at is not None
    finally:
        app.state.engine.dispose()
