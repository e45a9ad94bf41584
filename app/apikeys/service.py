"""Keys are `ddk_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the whole key is
compared in constant time. The secret has 256 bits, so a plain hash is enough (no slow KDF)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session, col, select

from app.accounts.models import GrantedRole, RoleGrant, User
from app.apikeys.models import ApiKey, ApiScope
from app.audit.service import record as audit
from app.auth.principal import ApiKeyGrant, Principal, load_principal_by_id
from app.errors import Forbidden, NotFound, Unauthorized
from app.regions.queries import get_region
from app.webhooks import service as webhooks

KEY_PREFIX = "ddk"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    actor: Principal,
    name: str,
    scopes: list[ApiScope],
    region_code: str | None,
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """A new key and its account; the key itself is returned once and never stored."""
    region = get_region(session, region_code).code if region_code else None
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    account = User(username=f"apikey-{prefix}", display_name=f"集成密钥 {name}"[:50])
    session.add(account)
    session.flush()
    session.add(
        RoleGrant(user_id=account.id, role=GrantedRole.INTEGRATOR.value, granted_by_id=actor.id)
    )
    api_key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=_digest(key),
        scopes=sorted({s.value for s in scopes}),
        region_code=region,
        user_id=account.id,
        created_by_id=actor.id,
        expires_at=expires_at,
    )
    session.add(api_key)
    session.flush()
    audit(
        session,
        actor_id=actor.id,
        action="api_key.create",
        subject_type="api_key",
        subject_id=api_key.id,
        detail={"scopes": ",".join(api_key.scopes), "region": region or "*"},
    )
    return api_key, key


def get_key(session: Session, key_id: uuid.UUID) -> ApiKey:
    found = session.get(ApiKey, key_id)
    if found is None:
        raise NotFound("未找到该密钥 / no such API key", code="api_key_not_found")
    return found


def revoke_key(session: Session, *, actor: Principal, api_key: ApiKey, now: datetime) -> None:
    """Takes effect on the key's next call; its account is deactivated with it, and its webhook
    subscriptions are disabled (their pending deliveries cancelled)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        account = session.get(User, api_key.user_id)
        if account is not None:
            account.is_active = False
        webhooks.disable_for_owner(session, api_key.user_id)
        audit(
            session,
            actor_id=actor.id,
            action="api_key.revoke",
            subject_type="api_key",
            subject_id=api_key.id,
        )
    session.flush()


def _refused() -> Unauthorized:
    return Unauthorized("无效的 API 密钥 / invalid, expired or revoked API key", code="bad_api_key")


def authenticate(session: Session, presented: str, scope: ApiScope, *, now: datetime) -> Principal:
    """The principal a key acts as, limited to the key's scopes and region."""
    parts = presented.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) > 16:
        raise _refused()
    # One indexed lookup by the public prefix, then a constant-time comparison.
    api_key = session.exec(select(ApiKey).where(col(ApiKey.prefix) == parts[1])).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _digest(presented)):
        raise _refused()
    if api_key.revoked_at is not None or (api_key.expires_at and api_key.expires_at <= now):
        raise _refused()
    if scope.value not in api_key.scopes:
        raise Forbidden(
            f"该密钥没有 {scope.value} 权限 / this key lacks the {scope.value} scope",
            code="scope_required",
        )
    principal = load_principal_by_id(session, api_key.user_id)
    if principal is None:
        raise _refused()
    grant = ApiKeyGrant(
        id=api_key.id,
        scopes=frozenset(api_key.scopes),
        region_code=api_key.region_code,
        last_used_at=api_key.last_used_at,
        last_used_ip=api_key.last_used_ip,
    )
    return replace(principal, api_key=grant)  # a copy: the signed-in principal is shared
