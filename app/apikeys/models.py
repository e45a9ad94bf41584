from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Date, String
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class ApiScope(StrEnum):
    """What a key may do. Each endpoint that takes keys names the one scope it needs."""

    CHANGES_READ = "changes:read"  # GET /sync/changes
    VOLUNTEERS_READ = "volunteers:read"  # GET /exports/volunteers
    TEAMS_READ = "teams:read"  # GET /exports/teams
    RECORDS_READ = "records:read"  # GET /exports/service_records
    ACTIVITIES_READ = "activities:read"  # GET /exports/activities
    PERSONAL_DATA = "personal_data:read"  # full phone/ID numbers in exports, where configured
    WEBHOOKS_MANAGE = "webhooks:manage"  # the key's own webhook subscriptions
    ORDERS_WRITE = "orders:write"  # POST /orders and Open311 POST requests.json, in its region


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100)
    # The public part of the key (`ddk_<prefix>_<secret>`), for lookup and for people to tell
    # keys apart; the whole key is kept only as its SHA-256.
    prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_type=JSON)
    region_code: str | None = Field(default=None, foreign_key="region.code", sa_type=String(12))
    # The account the key acts as: audit entries and webhook subscriptions name it.
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    created_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_ip: str | None = Field(default=None, max_length=45)


class ApiKeyUsage(SQLModel, table=True):
    """How often a key was used, per UTC day and scope: one upserted row, not a row a call."""

    __tablename__ = "api_key_usage"

    api_key_id: uuid.UUID = Field(foreign_key="api_key.id", primary_key=True)
    day: date = Field(primary_key=True, sa_type=Date)
    scope: str = Field(primary_key=True, sa_type=String(30))
    calls: int = 0
    first_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_ip: str | None = Field(default=None, max_length=45)
