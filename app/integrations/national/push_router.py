from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import col, select

from app.auth.deps import AppSettings, PlatformAdmin
from app.common.clock import utcnow
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Conflict, NotFound
from app.integrations.national.models import DeadLetterStatus, PushDeadLetter, PushState
from app.integrations.national.push import CONNECTOR

router = APIRouter(prefix="/sync/push", tags=["sync"], responses=PROBLEM_RESPONSES)


class PushStateOut(BaseModel):
    enabled: bool
    acknowledged_seq: int
    inflight_last_seq: int | None
    last_error: str | None
    dead_letters: int


class DeadLetterOut(BaseModel):
    id: uuid.UUID
    first_seq: int
    last_seq: int
    subjects: list[dict[str, str]]
    status: str
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@router.get("", response_model=PushStateOut)
def push_state(session: DbSession, settings: AppSettings, _caller: PlatformAdmin) -> PushStateOut:
    """How far the national platform has acknowledged the change feed."""
    state = session.get(PushState, CONNECTOR)
    parked = session.exec(
        select(PushDeadLetter.id).where(PushDeadLetter.status != DeadLetterStatus.DELIVERED.value)
    ).all()
    return PushStateOut(
        enabled=settings.national_push_url is not None,
        acknowledged_seq=state.acknowledged_seq if state else 0,
        inflight_last_seq=state.inflight_last_seq if state else None,
        last_error=state.last_error if state else None,
        dead_letters=len(parked),
    )


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def dead_letters(session: DbSession, _caller: PlatformAdmin) -> list[DeadLetterOut]:
    """Batches the receiver refused as invalid, or that kept failing for
    DIANDAN_NATIONAL_PUSH_MAX_RUNS runs, newest first (at most 200)."""
    rows = session.exec(
        select(PushDeadLetter).order_by(col(PushDeadLetter.created_at).desc()).limit(200)
    ).all()
    return [DeadLetterOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/dead-letters/{letter_id}/replay", response_model=DeadLetterOut)
def replay(letter_id: uuid.UUID, session: DbSession, _caller: PlatformAdmin) -> DeadLetterOut:
    """Send a parked batch again on the worker's next pass, rebuilt from the current rows, as
    a new batch with an idempotency key of its own (`…-replay-<n>`)."""
    letter = session.get(PushDeadLetter, letter_id)
    if letter is None:
        raise NotFound("未找到该批次 / no such dead letter", code="dead_letter_not_found")
    if letter.status != DeadLetterStatus.PARKED.value:
        raise Conflict(
            "该批次无需重放 / only parked batches can be replayed",
            code="not_replayable",
            current_state=letter.status,
        )
    letter.status = DeadLetterStatus.REPLAY.value
    letter.updated_at = utcnow()
    session.commit()
    return DeadLetterOut.model_validate(letter, from_attributes=True)
