from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import col, select

from app.apikeys import service
from app.apikeys.models import ApiKey, ApiScope
from app.apikeys.usage import usage
from app.auth.deps import PlatformAdmin
from app.common.clock import utcnow
from app.common.pagination import Page, PageQuery, paginate
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Invalid

router = APIRouter(prefix="/api-keys", tags=["api-keys"], responses=PROBLEM_RESPONSES)


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["全国志愿服务信息系统同步"])
    scopes: list[ApiScope] = Field(min_length=1)
    region_code: str | None = Field(
        default=None, description="Limit the key to this region's subtree; none: everywhere"
    )
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    region_code: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None = Field(description="The address of the key's latest call")


class ApiKeyUsageOut(BaseModel):
    day: date = Field(description="UTC day")
    scope: str
    calls: int
    first_at: datetime
    last_at: datetime
    last_ip: str | None


class ApiKeyWithSecret(ApiKeyOut):
    key: str = Field(description="Send as `X-API-Key`. Shown once: only its hash is kept.")


def _out(api_key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(api_key, from_attributes=True)


@router.post("", response_model=ApiKeyWithSecret, status_code=201)
def create_api_key(
    body: ApiKeyCreate, session: DbSession, caller: PlatformAdmin
) -> ApiKeyWithSecret:
    """A key for an integrator, with the scopes it needs and an optional region limit. Keys
    work only on the endpoints that name their scope (the change feed, exports, webhooks)."""
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise Invalid("过期时间须在将来 / expires_at must be in the future", code="bad_expiry")
    api_key, key = service.create_key(
        session,
        actor=caller,
        name=body.name,
        scopes=body.scopes,
        region_code=body.region_code,
        expires_at=body.expires_at,
    )
    session.commit()
    return ApiKeyWithSecret(**_out(api_key).model_dump(), key=key)


@router.get("", response_model=Page[ApiKeyOut])
def list_api_keys(session: DbSession, _caller: PlatformAdmin, page: PageQuery) -> Page[ApiKeyOut]:
    rows, cursor = paginate(
        session, select(ApiKey), key=col(ApiKey.id), params=page, parse_key=uuid.UUID
    )
    return Page(items=[_out(k) for k in rows], next_cursor=cursor)


@router.get("/{key_id}", response_model=ApiKeyOut)
def read_api_key(key_id: uuid.UUID, session: DbSession, _caller: PlatformAdmin) -> ApiKeyOut:
    return _out(service.get_key(session, key_id))


@router.get("/{key_id}/usage", response_model=list[ApiKeyUsageOut])
def read_api_key_usage(
    key_id: uuid.UUID,
    session: DbSession,
    _caller: PlatformAdmin,
    days: Annotated[int, Query(ge=1, le=400, description="How many UTC days back")] = 30,
) -> list[ApiKeyUsageOut]:
    """The key's usage log: calls per UTC day and scope, with the first and last call and the
    address of the last, newest day first."""
    api_key = service.get_key(session, key_id)
    since = utcnow().date() - timedelta(days=days - 1)
    return [
        ApiKeyUsageOut.model_validate(row, from_attributes=True)
        for row in usage(session, api_key.id, since=since)
    ]


@router.delete("/{key_id}", status_code=204)
def revoke_api_key(key_id: uuid.UUID, session: DbSession, caller: PlatformAdmin) -> Response:
    """Revoke the key at once; it stays listed, with `revoked_at`."""
    service.revoke_key(
        session, actor=caller, api_key=service.get_key(session, key_id), now=utcnow()
    )
    session.commit()
    return Response(status_code=204)
