from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.audit import service as audit
from app.auth.deps import AnyAdmin, AppSettings, Codec
from app.db import DbSession, open_session
from app.errors import PROBLEM_RESPONSES, Forbidden
from app.integrations.national.export import FIELDS, ExportFormat, ExportKind, encode, rows
from app.integrations.national.personal import PersonalData
from app.regions.queries import get_region

router = APIRouter(prefix="/exports", tags=["exports"], responses=PROBLEM_RESPONSES)

MEDIA = {ExportFormat.JSONL: "application/x-ndjson", ExportFormat.CSV: "text/csv; charset=utf-8"}


@router.get(
    "/{kind}",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA[ExportFormat.JSONL]: {}, MEDIA[ExportFormat.CSV]: {}}}},
)
def export(
    kind: ExportKind,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    codec: Codec,
    caller: AnyAdmin,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSONL,
    region: Annotated[str | None, Query(description="Only this region's subtree")] = None,
    since: Annotated[
        datetime | None, Query(description="Changed at or after (incremental)")
    ] = None,
    personal: Annotated[PersonalData, Query(description="masked, or full where allowed")] = (
        PersonalData.MASKED
    ),
    headers: Annotated[str, Query(pattern="^(en|zh)$", description="CSV header names")] = "en",
) -> StreamingResponse:
    """Volunteers, teams or service records of the caller's region in the national exchange
    format (`docs/national-exchange.md`), streamed as UTF-8 JSON Lines or CSV. Full ID and phone
    numbers leave only when `DIANDAN_EXPORT_PERSONAL_DATA=full` and a platform admin asks; every
    export is audited."""
    scope = caller.admin_scope
    if region is not None:
        scope = scope.narrowed_to(get_region(session, region).code)
    if personal is PersonalData.FULL and not (
        caller.platform_admin and settings.export_personal_data is PersonalData.FULL
    ):
        raise Forbidden(
            "不允许导出完整个人信息 / full personal numbers may not be exported here",
            code="personal_data_not_allowed",
        )
    audit.record(
        session,
        actor_id=caller.id,
        action="export",
        subject_type=kind.value,
        subject_id=region or "*",
        detail={"personal": personal.value, "format": format_.value},
    )
    session.commit()
    factory: sessionmaker[Session] = request.app.state.sessionmaker

    def body() -> Iterator[bytes]:
        with open_session(factory, write=False) as reader:
            records = rows(reader, kind, scope=scope, since=since, personal=personal, codec=codec)
            yield from encode(records, FIELDS[kind], format_, chinese_headers=headers == "zh")

    stamp = datetime.now().strftime("%Y%m%d")
    filename = f"diandan-{kind.value}-{stamp}.{format_.value}"
    return StreamingResponse(
        body(),
        media_type=MEDIA[format_],
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
