"""The one way service records enter the ledger.

Orders (at completion), activities (confirmed attendance), manual entry and imports all call
`land_records`, so that every record is checked by the same rules and moves the same totals in
the transaction that writes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from app.config import Settings
from app.records.models import RecordSource, ServiceRecord


@dataclass(frozen=True)
class RecordDraft:
    volunteer_id: uuid.UUID
    team_id: uuid.UUID
    category_code: str
    region_code: str
    service_date: date
    minutes: int
    content: str
    recorded_by_id: uuid.UUID
    source: RecordSource
    order_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    place: str = ""


def land_records(
    session: Session, settings: Settings, drafts: Sequence[RecordDraft]
) -> list[ServiceRecord]:
    """Write the records of one event (an order, an activity, a manual entry). Flushes; the
    caller commits."""
    records = [
        ServiceRecord(
            volunteer_id=d.volunteer_id,
            team_id=d.team_id,
            order_id=d.order_id,
            activity_id=d.activity_id,
            source=d.source.value,
            category_code=d.category_code,
            region_code=d.region_code,
            service_date=d.service_date,
            started_at=d.started_at,
            ended_at=d.ended_at,
            minutes=d.minutes,
            content=d.content,
            place=d.place,
            recorded_by_id=d.recorded_by_id,
        )
        for d in drafts
    ]
    session.add_all(records)
    session.flush()
    return records
