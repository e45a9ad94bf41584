from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.types import UTCDateTime


class GrantedRole(StrEnum):
    """Roles given by an admin. Volunteer and team leader follow from volunteer memberships."""

    PLATFORM_ADMIN = "platform_admin"
    SITE_ADMIN = "site_admin"
    INTEGRATOR = "integrator"


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    username: str | None = Field(default=None, unique=True, max_length=64)
    password_hash: str | None = Field(default=None, max_length=255)
    display_name: str = Field(max_length=50)
    phone_cipher: bytes | None = Field(default=None, sa_type=LargeBinary)
    phone_hash: str | None = Field(default=None, unique=True, max_length=64)
    phone_masked: str | None = Field(default=None, max_length=16)
    wechat_openid: str | None = Field(default=None, unique=True, max_length=64)
    home_region_code: str | None = Field(
        default=None, foreign_key="region.code", index=True, sa_type=String(12)
    )
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grant"

    __table_args__ = (UniqueConstraint("user_id", "role", "site_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    role: str = Field(sa_type=String(20))
    site_id: uuid.UUID | None = Field(default=None, foreign_key="site.id", index=True)
    granted_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SmsCode(SQLModel, table=True):
    __tablename__ = "sms_code"

    __table_args__ = (Index("ix_sms_code_phone_hash_created_at", "phone_hash", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    phone_hash: str = Field(max_length=64)
    code_hash: str = Field(max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = 0
    consumed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """A wrong password given for a username, known or not (so that a refusal tells nothing of
    which names exist). Enough of them within `DIANDAN_LOGIN_LOCKOUT_MINUTES` and the username
    is refused until the oldest ages out; a successful sign-in clears them."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_username_hash_at", "username_hash", "at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    username_hash: str = Field(max_length=64)  # SHA-256 of the name as typed: any length, no copy
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
