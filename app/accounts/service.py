"""Writes on users: creation, sign-in bookkeeping, SMS codes. Services flush; routes commit."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from datetime import timedelta
from typing import TypedDict

from sqlalchemy import delete, func, text, update
from sqlmodel import Session, col, select

from app.accounts.models import GrantedRole, LoginFailure, RoleGrant, SmsCode, User
from app.auth.security import hash_password, verify_password
from app.common.clock import utcnow
from app.common.crypto import SensitiveCodec
from app.common.identity import mask_phone, normalize_phone
from app.config import Settings
from app.errors import Conflict, Invalid, TooManyRequests, Unauthorized
from app.integrations.sms import SmsSender

PHONE_CONTEXT = "phone"
SMS_CODES_PER_HOUR = 5
# First key of PostgreSQL advisory locks that serialise SMS code requests per phone number.
_SMS_LOCK_NAMESPACE = 0x534D53  # "SMS"
_LOGIN_LOCK_NAMESPACE = 0x4C4F47  # "LOG"


class PhoneColumns(TypedDict):
    phone_cipher: bytes
    phone_hash: str
    phone_masked: str


def phone_fields(codec: SensitiveCodec, phone: str) -> PhoneColumns:
    return {
        "phone_cipher": codec.encrypt(phone, context=PHONE_CONTEXT),
        "phone_hash": codec.lookup_hash(phone, context=PHONE_CONTEXT),
        "phone_masked": mask_phone(phone),
    }


def parse_phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except ValueError as exc:
        raise Invalid(str(exc), code="invalid_phone") from None


def authenticate_password(
    *, session: Session, settings: Settings, username: str, password: str
) -> User | None:
    """The user when the password is right; None when it is wrong (the failure is written: the
    caller commits in both cases, then refuses). Refused outright (429) while the username has
    `login_max_failures` failures within the lockout window."""
    name_hash = hashlib.sha256(username.encode()).hexdigest()
    if session.get_bind().dialect.name == "postgresql":
        # Parallel guesses would all pass the count below (SQLite writers run one at a time).
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:name_hash))"),
            {"namespace": _LOGIN_LOCK_NAMESPACE, "name_hash": name_hash},
        )
    now = utcnow()
    window = timedelta(minutes=settings.login_lockout_minutes)
    failures, oldest = session.exec(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.username_hash == name_hash, LoginFailure.at > now - window
        )
    ).one()
    if failures >= settings.login_max_failures:
        wait = max(1, math.ceil((oldest + window - now).total_seconds()))
        raise TooManyRequests(
            f"密码错误次数过多,请{math.ceil(wait / 60)}分钟后再试 / too many wrong passwords, "
            f"try again in {wait} s",
            code="too_many_login_failures",
            retry_after_seconds=wait,
        )
    user = session.exec(select(User).where(User.username == username)).first()
    if not verify_password(password, user.password_hash if user else None) or user is None:
        # Failures older than the window count for nobody: gone, so that names sprayed at
        # random keep the table at what one window holds.
        session.execute(delete(LoginFailure).where(col(LoginFailure.at) <= now - window))
        session.add(LoginFailure(username_hash=name_hash, at=now))
        session.flush()
        return None
    if not user.is_active:
        raise Unauthorized("账号不可用 / the account is not active", code="inactive_account")
    if failures:
        session.execute(delete(LoginFailure).where(col(LoginFailure.username_hash) == name_hash))
    user.last_login_at = now
    return user


def create_user(
    *,
    session: Session,
    codec: SensitiveCodec,
    username: str,
    password: str,
    display_name: str,
    phone: str | None = None,
    home_region_code: str | None = None,
) -> User:
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict("用户名已存在 / that username is taken", code="username_taken")
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name,
        home_region_code=home_region_code,
    )
    if phone:
        fields = phone_fields(codec, parse_phone(phone))
        if session.exec(select(User.id).where(User.phone_hash == fields["phone_hash"])).first():
            raise Conflict(
                "该手机号已注册 / that phone number is already registered", code="phone_taken"
            )
        user.sqlmodel_update(dict(fields))
    session.add(user)
    session.flush()
    return user


def grant_role(
    *,
    session: Session,
    user: User,
    role: GrantedRole,
    site_id: object = None,
    granted_by_id: uuid.UUID | None = None,
) -> RoleGrant:
    existing = session.exec(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id, RoleGrant.role == role.value, RoleGrant.site_id == site_id
        )
    ).first()
    if existing is not None:
        return existing
    grant = RoleGrant(
        user_id=user.id,
        role=role.value,
        site_id=site_id,  # type: ignore[arg-type]
        granted_by_id=granted_by_id,
    )
    session.add(grant)
    session.flush()
    return grant


def request_sms_code(
    *, session: Session, codec: SensitiveCodec, sender: SmsSender, settings: Settings, phone: str
) -> None:
    number = parse_phone(phone)
    phone_hash = codec.lookup_hash(number, context=PHONE_CONTEXT)
    if session.get_bind().dialect.name == "postgresql":
        # Parallel requests for one number would all pass the limits below. SQLite needs no lock:
        # write transactions there begin IMMEDIATE and so run one at a time.
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:phone_hash))"),
            {"namespace": _SMS_LOCK_NAMESPACE, "phone_hash": phone_hash},
        )
    now = utcnow()
    recent = session.exec(
        select(func.count(), func.max(SmsCode.created_at)).where(
            SmsCode.phone_hash == phone_hash, SmsCode.created_at > now - timedelta(hours=1)
        )
    ).one()
    count, latest = recent
    if latest is not None and now - latest < timedelta(seconds=settings.sms_code_resend_seconds):
        raise TooManyRequests(
            "验证码发送过于频繁,请稍后再试 / a code was just sent, wait before asking again",
            code="sms_code_too_soon",
        )
    if count >= SMS_CODES_PER_HOUR:
        raise TooManyRequests(
            "验证码请求次数过多,请一小时后再试 / too many codes this hour", code="sms_code_limit"
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        SmsCode(
            phone_hash=phone_hash,
            code_hash=codec.lookup_hash(code, context=f"sms:{phone_hash}"),
            expires_at=now + timedelta(seconds=settings.sms_code_ttl_seconds),
        )
    )
    session.flush()
    sender.send_login_code(number, code)


def check_sms_code(
    *, session: Session, codec: SensitiveCodec, settings: Settings, phone: str, code: str
) -> str | None:
    """The normalised phone when the code is right; None when wrong (the attempt is counted).

    The caller commits in both cases, so that wrong guesses count even though login fails.
    """
    number = parse_phone(phone)
    phone_hash = codec.lookup_hash(number, context=PHONE_CONTEXT)
    now = utcnow()
    sms = session.exec(
        select(SmsCode)
        .where(
            SmsCode.phone_hash == phone_hash,
            col(SmsCode.consumed_at).is_(None),
            SmsCode.expires_at > now,
        )
        .order_by(col(SmsCode.created_at).desc())
    ).first()
    if sms is None:
        return None
    # Count the attempt before comparing, in one conditional UPDATE (the row lock serialises
    # parallel guesses): guessing in parallel gets no more tries than guessing one at a time.
    counted = session.execute(
        update(SmsCode)
        .where(
            col(SmsCode.id) == sms.id,
            col(SmsCode.attempts) < settings.sms_code_max_attempts,
        )
        .values(attempts=col(SmsCode.attempts) + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        return None
    expected = codec.lookup_hash(code.strip(), context=f"sms:{phone_hash}")
    if not hmac.compare_digest(expected, sms.code_hash):
        return None
    # Compare-and-set, so that two parallel logins with one code cannot both succeed.
    consumed = session.execute(
        update(SmsCode)
        .where(col(SmsCode.id) == sms.id, col(SmsCode.consumed_at).is_(None))
        .values(consumed_at=now)
    )
    return number if consumed.rowcount == 1 else None  # type: ignore[attr-defined]


def _signed_in(session: Session, user: User) -> User:
    if not user.is_active:
        raise Unauthorized("账号不可用 / the account is not active", code="inactive_account")
    user.last_login_at = utcnow()
    session.flush()
    return user


def user_for_phone(*, session: Session, codec: SensitiveCodec, phone: str) -> User:
    """The user with this phone number, created as a resident on first sign-in."""
    phone_hash = codec.lookup_hash(phone, context=PHONE_CONTEXT)
    user = session.exec(select(User).where(User.phone_hash == phone_hash)).first()
    if user is None:
        user = User(display_name=f"居民{phone[-4:]}", **phone_fields(codec, phone))
        session.add(user)
    return _signed_in(session, user)


def user_for_wechat(*, session: Session, openid: str) -> User:
    user = session.exec(select(User).where(User.wechat_openid == openid)).first()
    if user is None:
        user = User(display_name="微信用户", wechat_openid=openid)
        session.add(user)
    return _signed_in(session, user)
