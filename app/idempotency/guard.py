"""The Idempotency-Key convention for a write route, in one call.

`run_once` claims the key (or replays the first answer), runs the write, keeps its answer in the
same transaction and commits; when the write fails, the claim is released so the client may retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, TypeVar

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.config import Settings
from app.idempotency import service as idempotency

Out = TypeVar("Out", bound=BaseModel)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Retry-safe key: a repeat with the same body replays the first answer",
    ),
]


def run_once(
    *,
    request: Request,
    session: Session,
    settings: Settings,
    principal_id: uuid.UUID,
    key: str | None,
    operation: str,
    body: BaseModel,
    status_code: int,
    write: Callable[[], Out],
) -> Out | JSONResponse:
    """Run `write` (which flushes) and commit, at most once per key and caller."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    claim = None
    if key is not None:
        outcome = idempotency.claim(
            session=session,
            factory=factory,
            principal_id=principal_id,
            key=key,
            operation=operation,
            body=body,
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
        )
        if isinstance(outcome, idempotency.Replay):
            return outcome.response()
        claim = outcome
    try:
        out = write()
        if claim is not None:
            idempotency.store(session, claim, status_code, out)
        session.commit()
    except Exception:
        session.rollback()
        if claim is not None:
            idempotency.release(factory, claim)
        raise
    return out
