"""Route dependencies that make authorisation visible in every route signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.principal import Principal, load_principal_by_id
from app.auth.security import read_access_token
from app.common.crypto import SensitiveCodec
from app.config import Settings
from app.db import DbSession
from app.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An access token from /auth/*")


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


def get_principal(
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("请先登录 / sign in first", code="not_authenticated")
    user_id = read_access_token(credentials.credentials, settings)
    principal = load_principal_by_id(session, user_id)
    if principal is None:
        raise Unauthorized("账号不可用 / the account is not active", code="inactive_account")
    return principal


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


def get_codec(request: Request) -> SensitiveCodec:
    codec: SensitiveCodec = request.app.state.codec
    return codec


Codec = Annotated[SensitiveCodec, Depends(get_codec)]
