from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile

from app.audit import service as audit
from app.auth.deps import AnyAdmin, AppSettings, Codec
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, AppError, Invalid
from app.integrations.national.exchange import RECORD_FIELDS, VOLUNTEER_FIELDS
from app.integrations.national.imports import Context, ImportReport, run_import
from app.integrations.national.tables import read_table

router = APIRouter(prefix="/imports", tags=["exports"], responses=PROBLEM_RESPONSES)
MAX_BYTES = 10 * 1024 * 1024


class ImportKind(StrEnum):
    VOLUNTEERS = "volunteers"
    SERVICE_RECORDS = "service_records"


class TooLarge(AppError):
    status = 413
    code = "file_too_large"
    title = "File too large"


@router.post("/{kind}", response_model=ImportReport)
async def import_table(
    kind: ImportKind,
    file: UploadFile,
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    caller: AnyAdmin,
    dry_run: Annotated[bool, Query(description="Check every row, change nothing")] = False,
    team_id: Annotated[
        uuid.UUID | None, Query(description="Records: the team, where rows have no team_code")
    ] = None,
) -> ImportReport:
    """Import volunteers, or their historical service hours, from a national-platform export
    (CSV in UTF-8 or GB18030, or XLSX; the columns of our own export, English or Chinese
    headers). Volunteers are keyed by `volunteer_code`; rows outside the caller's region, or
    otherwise wrong, are reported by row number and field and change nothing, while good rows
    land; importing the same file again creates nothing new. At most 10 MB and 50,000 rows."""
    raw = await file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise TooLarge("文件超过10MB / the file is larger than 10 MB")
    fields = VOLUNTEER_FIELDS if kind is ImportKind.VOLUNTEERS else RECORD_FIELDS
    rows = read_table(raw, file.filename or "", fields)
    if not rows:
        raise Invalid("没有数据行 / no data rows", code="empty_file")
    ctx = Context(session=session, settings=settings, codec=codec, actor=caller, team_id=team_id)
    report = run_import(ctx, kind.value, rows, dry_run=dry_run)
    if dry_run:
        session.rollback()
        return report
    audit.record(
        session,
        actor_id=caller.id,
        action="import",
        subject_type=kind.value,
        subject_id=file.filename or "-",
        detail={k: str(getattr(report, k)) for k in ("created", "updated", "unchanged", "failed")},
    )
    session.commit()
    return report
