"""The usage log of API keys: counted per day and scope, the last address kept, a structured log
line per call, and shown to platform admins only."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.apikeys.models import ApiKeyUsage
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.main import create_app
from tests.conftest import Backend, offline_http_client, settings_for
from tests.factories import Factory, World

KEYS = "/api/v1/api-keys"
COUNTY = "140802000000"


def issue(client: TestClient, admin: dict[str, str], scopes: list[str]) -> dict[str, Any]:
    body = {"name": "志愿中国同步", "scopes": scopes}
    response = client.post(KEYS, json=body, headers=admin)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.mark.postgres
def test_each_call_is_counted_per_day_and_scope(
    fresh_postgres: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """With real commits: the count is written in a transaction of its own, so reads (whose
    transaction is rolled back) are counted too."""
    app = create_app(settings_for(fresh_postgres.url), http_client=offline_http_client())
    try:
        with Session(fresh_postgres.engine, expire_on_commit=False) as session:
            settings = app.state.settings
            make = Factory(session, settings, SensitiveCodec(settings.data_key_value))
            make.world(COUNTY)
            admin = make.headers(make.platform_admin())
            session.commit()
            client = TestClient(app)
            created = issue(client, admin, ["changes:read", "teams:read"])
            _count_and_check(client, admin, created, caplog)
    finally:
        app.state.engine.dispose()


def _count_and_check(
    client: TestClient,
    admin: dict[str, str],
    created: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = {"X-API-Key": created["key"]}
    caplog.set_level(logging.INFO, logger="app.apikeys.usage")
    for _ in range(3):
        assert client.get("/api/v1/sync/changes", headers=key).status_code == 200
    for _ in range(2):
        assert client.get("/api/v1/exports/teams", headers=key).status_code == 200
    # A refused call uses no scope of the key and is not counted as use.
    assert client.get("/api/v1/exports/volunteers", headers=key).status_code == 403

    rows = client.get(f"{KEYS}/{created['id']}/usage", headers=admin)
    assert rows.status_code == 200, rows.text
    today = utcnow().date().isoformat()
    counted = {(r["day"], r["scope"]): (r["calls"], r["last_ip"]) for r in rows.json()}
    assert counted == {
        (today, "changes:read"): (3, "testclient"),
        (today, "teams:read"): (2, "testclient"),
    }
    shown = client.get(f"{KEYS}/{created['id']}", headers=admin).json()
    assert shown["last_used_at"] is not None
    assert shown["last_used_ip"] == "testclient"

    lines = [r for r in caplog.records if r.getMessage().startswith("api_key.used")]
    assert len(lines) == 5
    assert {getattr(r, "api_key_id", None) for r in lines} == {created["id"]}
    assert [getattr(r, "scope", None) for r in lines].count("teams:read") == 2
    paths = {getattr(r, "path", None) for r in lines}
    assert paths == {"/api/v1/sync/changes", "/api/v1/exports/teams"}


def test_the_usage_log_goes_back_as_far_as_asked(
    client: TestClient, make: Factory, db: Session
) -> None:
    created = issue(client, make.headers(make.platform_admin()), ["changes:read"])
    old = utcnow() - timedelta(days=40)
    db.add(
        ApiKeyUsage(
            api_key_id=uuid.UUID(created["id"]),
            day=old.date(),
            scope="changes:read",
            calls=7,
            first_at=old,
            last_at=old,
        )
    )
    db.commit()
    admin = make.headers(make.platform_admin())
    assert client.get(f"{KEYS}/{created['id']}/usage", headers=admin).json() == []
    longer = client.get(f"{KEYS}/{created['id']}/usage?days=60", headers=admin).json()
    assert [(r["day"], r["calls"]) for r in longer] == [(old.date().isoformat(), 7)]
    assert client.get(f"{KEYS}/{created['id']}/usage?days=0", headers=admin).status_code == 422


def test_only_platform_admins_read_the_usage_log(
    client: TestClient, make: Factory, db: Session
) -> None:
    world: World = make.world(COUNTY)
    created = issue(client, make.headers(make.platform_admin()), ["changes:read"])
    path = f"{KEYS}/{created['id']}/usage"
    for user in (world.center_admin, world.station_admin, world.leader, world.resident):
        refused = client.get(path, headers=make.headers(user))
        assert refused.status_code == 403
        assert refused.json()["code"] == "platform_admin_required"
    assert client.get(path).status_code == 401
    # The key itself does not read its own log: this endpoint takes no keys.
    assert client.get(path, headers={"X-API-Key": created["key"]}).status_code == 401
    missing = client.get(
        f"{KEYS}/{uuid.uuid4()}/usage", headers=make.headers(make.platform_admin())
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "api_key_not_found"
