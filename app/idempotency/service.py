"""Idempotency-Key, after the IETF draft: a retry with the same key and body replays the first
answer; the same key with another body is a 422; a retry while the first is running is a 409.

On PostgreSQL the key is claimed in a short transaction of its own, so that a concurrent retry
sees it at once. SQLite lets one writer in at a time, so there the claim lives in the request's
own transaction: a retry waits for the first to finish and then replays its answer.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from app.common.clock import utcnow
from app.errors import Conflict, Invalid
from app.idempotency.models import IdempotencyRecord

KEY_MAX_LENGTH = 255
STALE_AFTER = timedelta(minutes=2)  # a claim this old without an answer belonged to a dead request


@dataclass(frozen=True)
class Claim:
    record_id: uuid.UUID
    separate: bool  # claimed in its own transaction (PostgreSQL)


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body, status_code=self.status, headers={"Idempotent-Replayed": "true"}
        )


def fingerprint(body: BaseModel) -> str:
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _existing(session: Session, principal_id: uuid.UUID, key: str) -> IdempotencyRecord | None:
    return session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal_id == principal_id, IdempotencyRecord.key == key
        )
    ).first()


def _judge(record: IdempotencyRecord, operation: str, print_: str) -> Replay | None:
    """Replay, refuse, or None when the old claim may be taken over."""
    now = utcnow()
    if record.expires_at <= now:
        return None
    if record.operation != operation or record.fingerprint != print_:
        raise Invalid(
            "该 Idempotency-Key 已用于其他请求 / this Idempotency-Key was used for another request",
            code="idempotency_key_reused",
        )
    if record.response_status is None:
        if now - record.created_at > STALE_AFTER:
            return None
        raise Conflict(
            "相同请求正在处理中 / the first request with this Idempotency-Key is still running",
            code="idempotency_in_flight",
        )
    return Replay(status=record.response_status, body=record.response_body or {})


def _insert(
    session: Session, principal_id: uuid.UUID, key: str, operation: str, print_: str, ttl: timedelta
) -> IdempotencyRecord:
    now = utcnow()
    record = IdempotencyRecord(
        principal_id=principal_id,
        key=key,
        operation=operation,
        fingerprint=print_,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(record)
    session.flush()
    return record


def claim(
    *,
    session: Session,
    factory: sessionmaker[Session],
    principal_id: uuid.UUID,
    key: str,
    operation: str,
    body: BaseModel,
    ttl: timedelta,
) -> Claim | Replay:
    if not key or len(key) > KEY_MAX_LENGTH:
        raise Invalid(
            "Idempotency-Key 长度应为1到255 / Idempotency-Key must be 1 to 255 characters",
            code="invalid_idempotency_key",
        )
    print_ = fingerprint(body)
    separate = session.get_bind().dialect.name != "sqlite"
    target = factory() if separate else session
    try:
        for _ in range(2):
            record = _existing(target, principal_id, key)
            if record is not None:
                replay = _judge(record, operation, print_)
                if replay is not None:
                    return replay
                target.execute(
                    delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record.id)
                )
            try:
                if separate:
                    record = _insert(target, principal_id, key, operation, print_, ttl)
                    target.commit()
                else:
                    with target.begin_nested():
                        record = _insert(target, principal_id, key, operation, print_, ttl)
                return Claim(record_id=record.id, separate=separate)
            except IntegrityError:
                if separate:
                    target.rollback()
        raise Conflict(
            "相同请求正在处理中 / the first request with this key is still running",
            code="idempotency_in_flight",
        )
    finally:
        if separate:
            target.close()


def store(session: Session, claim_: Claim, status: int, body: BaseModel) -> None:
    """Keep the answer, in the same transaction as the change it reports."""
    session.execute(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.id) == claim_.record_id)
        .values(response_status=status, response_body=jsonable_encoder(body))
    )


def release(factory: sessionmaker[Session], claim_: Claim) -> None:
    """Forget a claim whose request failed, so that the client may try again."""
    if not claim_.separate:
        return  # it was part of the request's transaction, which has been rolled back
    with factory() as session:
        session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == claim_.record_id)
        )
        session.commit()


def purge_expired(session: Session, *, limit: int = 1000) -> int:
    expired = (
        select(IdempotencyRecord.id)
        .where(col(IdempotencyRecord.expires_at) <= utcnow())
        .limit(limit)
    )
    result = session.execute(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.id).in_(expired))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
