"""Password hashing (Argon2id) and access tokens (JWT, HS256)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import jwt
from pwdlib import PasswordHash

from app.common.clock import utcnow
from app.config import Settings
from app.errors import Unauthorized

_hasher = PasswordHash.recommended()
# Verified against when the username is unknown, so that timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)


def issue_access_token(user_id: uuid.UUID, settings: Settings) -> tuple[str, int]:
    now = utcnow()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key_value, algorithm="HS256")
    return token, int(lifetime.total_seconds())


# Tokens whose signature and claims were verified, with their expiry: a phone sends the same
# token with every request, and verifying it again cost more than the rest of authentication.
# Keyed by the verifying settings too (a token is good only under the key that signed it).
_VERIFIED: dict[tuple[str, str, str, str], tuple[uuid.UUID, int]] = {}
_VERIFIED_MAX = 10_000


def read_access_token(token: str, settings: Settings) -> uuid.UUID:
    key = (token, settings.secret_key_value, settings.jwt_audience, settings.jwt_issuer)
    known = _VERIFIED.get(key)
    if known is not None and known[1] > time.time():  # the clock PyJWT checks `exp` against
        return known[0]
    try:
        claims = jwt.decode(
            token,
            settings.secret_key_value,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp", "iat", "iss", "aud"]},
        )
        user_id = uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError):
        raise Unauthorized(
            "登录已失效,请重新登录 / the access token is invalid or expired", code="invalid_token"
        ) from None
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = (user_id, int(claims["exp"]))  # PyJWT compares int(exp)
    return user_id
