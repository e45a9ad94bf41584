"""Route dependencies that make authorisation visible in every route signature."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.apikeys.models import ApiScope
from app.apikeys.service import authenticate
from app.apikeys.usage import note_use
from app.auth.principal import Principal, load_principal_by_id, remembered_principal
from app.auth.security import read_access_token
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.db import DbSession
from app.errors import Forbidden, Unauthorized

bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /auth/*")
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An integrator key from POST /api-keys; accepted only where an endpoint says so",
)


async def get_app_settings(request: Request) -> Settings:
    # async: a plain read; a sync dependency would cost a hop through the thread pool.
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


def _signed_in_user(
    settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> uuid.UUID:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("请先登录 / sign in first", code="not_authenticated")
    return read_access_token(credentials.credentials, settings)


def _active(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("账号不可用 / the account is not active", code="inactive_account")
    return principal


async def principal_from(
    session: Session, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The signed-in caller. Async: most callers are remembered (`principal_cache_seconds`),
    and answering them needs no thread; reading one from the database goes to the thread pool."""
    user_id = _signed_in_user(settings, credentials)
    remembered, principal = remembered_principal(session, user_id)
    if remembered:
        return _active(principal)
    return _active(await run_in_threadpool(load_principal_by_id, session, user_id))


async def get_principal(
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    return await principal_from(session, settings, credentials)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_platform_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.platform_admin:
        raise Forbidden("需要平台管理员权限 / platform admins only", code="platform_admin_required")
    return principal


def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("需要站点管理员权限 / site or platform admins only", code="admin_required")
    return principal


PlatformAdmin = Annotated[Principal, Depends(require_platform_admin)]
AnyAdmin = Annotated[Principal, Depends(require_admin)]


def key_principal(
    request: Request, session: DbSession, presented: str, scope: ApiScope
) -> Principal:
    """The principal an API key acts as, holding `scope`; its use is noted."""
    now = utcnow()
    principal = authenticate(session, presented, scope, now=now)
    assert principal.api_key is not None
    note_use(
        request.app.state.sessionmaker,
        principal.api_key,
        scope=scope.value,
        ip=request.client.host if request.client else None,
        path=request.url.path,
        now=now,
    )
    return principal


def user_or_key(scope: ApiScope) -> Callable[..., Awaitable[Principal]]:
    """For endpoints that people call and integrators may too: a Bearer sign-in, or an API key
    holding `scope` (acting as the key's account, within the key's region)."""

    async def dependency(
        request: Request,
        session: DbSession,
        settings: AppSettings,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        api_key: Annotated[str | None, Depends(api_key_header)],
    ) -> Principal:
        if api_key:
            return await run_in_threadpool(key_principal, request, session, api_key, scope)
        return await principal_from(session, settings, credentials)

    return dependency


def integration_caller(
    scope: ApiScope | Callable[[Request], ApiScope],
    *,
    admins: Literal["any", "platform"] = "any",
) -> Callable[..., Awaitable[Principal]]:
    """For endpoints that integrators call: an API key holding `scope` (limited to the key's
    region), or a signed-in admin (site admins within their region, or platform admins only).
    `scope` may be worked out from the request (an export names its kind in the path)."""

    async def dependency(
        request: Request,
        session: DbSession,
        settings: AppSettings,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        api_key: Annotated[str | None, Depends(api_key_header)],
    ) -> Principal:
        if api_key:
            needed = scope(request) if callable(scope) else scope
            return await run_in_threadpool(key_principal, request, session, api_key, needed)
        principal = await principal_from(session, settings, credentials)
        if admins == "platform":
            return require_platform_admin(principal)
        return require_admin(principal)

    return dependency


async def get_codec(request: Request) -> SensitiveCodec:
    codec: SensitiveCodec = request.app.state.codec
    return codec


Codec = Annotated[SensitiveCodec, Depends(get_codec)]
