"""Streaming exports: rows are read through a server-side cursor in batches and written out as
they come, so memory stays flat however many millions of rows there are."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.accounts.service import PHONE_CONTEXT
from app.activities.models import Activity
from app.common.crypto import SensitiveCodec
from app.integrations.national.exchange import (
    ACTIVITY_FIELDS,
    RECORD_FIELDS,
    TEAM_FIELDS,
    VOLUNTEER_FIELDS,
    Field,
    activity_record,
    service_record,
    team_record,
    volunteer_record,
)
from app.integrations.national.personal import PersonalData
from app.records.models import ServiceRecord
from app.regions.scope import RegionScope
from app.teams.models import Team, TeamSpecialty
from app.volunteers.models import Volunteer
from app.volunteers.service import ID_CONTEXT

BATCH = 1000


class ExportKind(StrEnum):
    VOLUNTEERS = "volunteers"
    TEAMS = "teams"
    SERVICE_RECORDS = "service_records"
    ACTIVITIES = "activities"


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


FIELDS: dict[ExportKind, tuple[Field, ...]] = {
    ExportKind.VOLUNTEERS: VOLUNTEER_FIELDS,
    ExportKind.TEAMS: TEAM_FIELDS,
    ExportKind.SERVICE_RECORDS: RECORD_FIELDS,
    ExportKind.ACTIVITIES: ACTIVITY_FIELDS,
}


def _volunteers(
    session: Session,
    scope: RegionScope,
    since: datetime | None,
    personal: PersonalData,
    codec: SensitiveCodec,
) -> Iterator[dict[str, Any]]:
    stmt = select(Volunteer).where(scope.filter(col(Volunteer.region_code)))
    if since is not None:
        stmt = stmt.where(col(Volunteer.updated_at) >= since)
    rows = session.exec(stmt.order_by(col(Volunteer.id)).execution_options(yield_per=BATCH))
    for volunteer in rows:
        yield volunteer_record(
            volunteer,
            personal=personal,
            decrypt_phone=lambda blob: codec.decrypt(blob, context=PHONE_CONTEXT),
            decrypt_id=lambda blob: codec.decrypt(blob, context=ID_CONTEXT),
        )


def _teams(
    session: Session, scope: RegionScope, since: datetime | None
) -> Iterator[dict[str, Any]]:
    stmt = select(Team).where(scope.filter(col(Team.region_code)))
    if since is not None:
        stmt = stmt.where(col(Team.updated_at) >= since)
    result = session.exec(stmt.order_by(col(Team.id)).execution_options(yield_per=BATCH))
    for chunk in result.partitions():
        ids = [team.id for team in chunk]
        specialties: dict[Any, list[str]] = {}
        for team_id, code in session.exec(
            select(TeamSpecialty.team_id, TeamSpecialty.category_code)
            .where(col(TeamSpecialty.team_id).in_(ids))
            .order_by(col(TeamSpecialty.category_code))
        ):
            specialties.setdefault(team_id, []).append(code)
        for team in chunk:
            yield team_record(team, specialties.get(team.id, []))


def _service_records(
    session: Session, scope: RegionScope, since: datetime | None
) -> Iterator[dict[str, Any]]:
    stmt = (
        select(ServiceRecord, Volunteer.national_code)
        .join(Volunteer, col(Volunteer.id) == col(ServiceRecord.volunteer_id))
        .where(scope.filter(col(ServiceRecord.region_code)))
    )
    if since is not None:
        stmt = stmt.where(col(ServiceRecord.created_at) >= since)
    rows = session.exec(stmt.order_by(col(ServiceRecord.id)).execution_options(yield_per=BATCH))
    for record, national_code in rows:
        yield service_record(record, national_code)


def _activities(
    session: Session, scope: RegionScope, since: datetime | None
) -> Iterator[dict[str, Any]]:
    stmt = select(Activity).where(scope.filter(col(Activity.region_code)))
    if since is not None:  # published, confirmed or filed since
        stmt = stmt.where(
            or_(
                col(Activity.created_at) >= since,
                col(Activity.confirmed_at) >= since,
                col(Activity.filed_at) >= since,
            )
        )
    for activity in session.exec(
        stmt.order_by(col(Activity.id)).execution_options(yield_per=BATCH)
    ):
        yield activity_record(activity)


def rows(
    session: Session,
    kind: ExportKind,
    *,
    scope: RegionScope,
    since: datetime | None,
    personal: PersonalData,
    codec: SensitiveCodec,
) -> Iterator[dict[str, Any]]:
    if kind is ExportKind.VOLUNTEERS:
        return _volunteers(session, scope, since, personal, codec)
    if kind is ExportKind.TEAMS:
        return _teams(session, scope, since)
    if kind is ExportKind.ACTIVITIES:
        return _activities(session, scope, since)
    return _service_records(session, scope, since)


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else value


def encode(
    records: Iterable[dict[str, Any]],
    fields: tuple[Field, ...],
    fmt: ExportFormat,
    *,
    chinese_headers: bool = False,
    chunk_rows: int = 500,
) -> Iterator[bytes]:
    """UTF-8 JSON Lines, or CSV (RFC 4180; with Chinese headers it starts with a BOM so that
    Excel reads it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if fmt is ExportFormat.CSV:
        if chinese_headers:
            buffer.write("\ufeff")
        writer.writerow([f.zh if chinese_headers else f.key for f in fields])
    pending = 0
    for record in records:
        if fmt is ExportFormat.JSONL:
            buffer.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            writer.writerow([_cell(record[f.key]) for f in fields])
        pending += 1
        if pending >= chunk_rows:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode()
