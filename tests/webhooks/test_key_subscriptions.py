"""Subscriptions made with an API key: they hear only what the key may read, where it may read
it, and only while the key is valid. Disable notices reach platform admins too."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.accounts.models import GrantedRole, RoleGrant
from app.apikeys.models import ApiKey
from app.common.clock import utcnow
from app.notifications.models import OutboxMessage
from app.webhooks.service import KEY_REVOKED
from tests.webhooks.test_webhooks import HOOK_URL, Hooks, deliveries, subscription
from tests.webhooks.test_webhooks import hooks as hooks  # the fixture

COUNTY, OTHER = "140802000000", "140803000000"


def issue(hooks: Hooks, scopes: list[str], region_code: str | None = COUNTY) -> dict[str, Any]:
    body = {"name": "志愿中国", "scopes": scopes, "region_code": region_code}
    response = hooks.client.post("/api/v1/api-keys", json=body, headers=hooks.admin_headers())
    assert response.status_code == 201, response.text
    return dict(response.json())


def subscribe_with(hooks: Hooks, key: str, event_types: list[str], **extra: Any) -> Any:
    body = {"url": HOOK_URL, "event_types": event_types, **extra}
    return hooks.client.post("/api/v1/webhooks", json=body, headers={"X-API-Key": key})


def key_subscription(hooks: Hooks) -> tuple[dict[str, Any], dict[str, Any]]:
    created = issue(hooks, ["webhooks:manage", "teams:read"])
    response = subscribe_with(hooks, created["key"], ["team.*"])
    assert response.status_code == 201, response.text
    return created, dict(response.json())


@pytest.mark.parametrize(
    ("scopes", "event_types", "status"),
    [
        (["webhooks:manage"], ["*"], 403),
        (["webhooks:manage"], ["team.update"], 403),
        (["webhooks:manage", "volunteers:read"], ["team.*"], 403),
        (["webhooks:manage", "teams:read"], ["team.*", "team_member.create"], 201),
        (["webhooks:manage", "teams:read"], ["order.*"], 403),
        (["webhooks:manage", "teams:read"], ["*"], 403),
        (["webhooks:manage", "records:read"], ["service_record.create"], 201),
        (["webhooks:manage", "activities:read"], ["activity.*"], 201),
        (["webhooks:manage", "volunteers:read"], ["volunteer.update"], 201),
        (["webhooks:manage", "changes:read"], ["*"], 201),
        (["webhooks:manage", "changes:read"], ["order.create"], 201),
    ],
)
def test_a_key_subscribes_only_to_what_its_scopes_let_it_read(
    hooks: Hooks, scopes: list[str], event_types: list[str], status: int
) -> None:
    key = issue(hooks, scopes)["key"]
    response = subscribe_with(hooks, key, event_types)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["code"] == "scope_required"
    else:
        assert response.json()["region_code"] == COUNTY


def test_a_region_limited_key_hears_only_of_its_region(hooks: Hooks, db: Session) -> None:
    other = hooks.make.world(OTHER)
    _, sub = key_subscription(hooks)
    outside = hooks.client.patch(
        f"/api/v1/teams/{other.team.id}",
        json={"description": "别处"},
        headers=hooks.make.headers(other.station_admin),
    )
    assert outside.status_code == 200, outside.text
    hooks.work()
    assert deliveries(db, sub["id"]) == []
    hooks.change_team()
    hooks.work()
    heard = [d.payload["data"]["id"] for d in deliveries(db, sub["id"])]
    assert heard == [str(hooks.world.team.id)]


def test_revoking_a_key_disables_its_subscriptions(hooks: Hooks, db: Session) -> None:
    created, sub = key_subscription(hooks)
    admins = hooks.subscribe(event_types=["team.*"])
    hooks.change_team("一")
    hooks.work()
    assert len(hooks.receiver.received) == 2
    hooks.change_team("二")  # not yet fanned out when the key is revoked
    admin = hooks.admin_headers()
    revoked = hooks.client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)
    assert revoked.status_code == 204
    found = subscription(db, sub["id"])
    assert found.status == "disabled"
    assert found.disabled_reason == KEY_REVOKED
    hooks.work()
    assert [d.status for d in deliveries(db, sub["id"])] == ["delivered"]
    assert len(deliveries(db, admins["id"])) == 2  # other subscriptions go on
    again = hooks.client.post(f"/api/v1/webhooks/{sub['id']}/enable", headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "api_key_lapsed"


def test_a_pending_delivery_of_a_revoked_key_is_cancelled(hooks: Hooks, db: Session) -> None:
    created, sub = key_subscription(hooks)
    hooks.receiver.answers = [503]
    hooks.change_team()
    hooks.work()
    assert [d.status for d in deliveries(db, sub["id"])] == ["pending"]
    admin = hooks.admin_headers()
    revoked = hooks.client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)
    assert revoked.status_code == 204
    hooks.work(utcnow() + timedelta(hours=1))
    assert [d.status for d in deliveries(db, sub["id"])] == ["cancelled"]
    assert len(hooks.receiver.received) == 1


def test_an_expired_key_hears_nothing_more(hooks: Hooks, db: Session) -> None:
    created, sub = key_subscription(hooks)
    hooks.change_team("一")
    hooks.work()
    stored = db.get(ApiKey, uuid.UUID(created["id"]))
    assert stored is not None
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.add(stored)
    db.commit()
    hooks.change_team("二")
    hooks.work()
    assert len(hooks.receiver.received) == 1
    assert len(deliveries(db, sub["id"])) == 1
    found = subscription(db, sub["id"])
    assert found.status == "disabled"
    assert "expired" in (found.disabled_reason or "")
    again = hooks.client.post(f"/api/v1/webhooks/{sub['id']}/enable", headers=hooks.admin_headers())
    assert again.json()["code"] == "api_key_lapsed"


def test_disable_notices_reach_the_platform_admins(hooks: Hooks, db: Session) -> None:
    created, sub = key_subscription(hooks)
    hooks.receiver.answers = [410]
    hooks.change_team()
    hooks.work()
    assert subscription(db, sub["id"]).status == "disabled"
    notices = db.exec(select(OutboxMessage).where(OutboxMessage.topic == "webhook.disabled")).all()
    assert {m.payload["subscription_id"] for m in notices} == {sub["id"]}
    key_account = db.get(ApiKey, uuid.UUID(created["id"]))
    assert key_account is not None
    platform_admins = set(
        db.exec(
            select(RoleGrant.user_id).where(col(RoleGrant.role) == GrantedRole.PLATFORM_ADMIN.value)
        ).all()
    )
    assert platform_admins
    assert {m.recipient_user_id for m in notices} == {key_account.user_id} | platform_admins
