from __future__ import annotations

import uuid

from sqlmodel import Session

from app.audit.models import AuditEntry


def record(
    session: Session,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    subject_type: str,
    subject_id: object,
    detail: dict[str, str] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_user_id=actor_id,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            detail=detail or {},
        )
    )
