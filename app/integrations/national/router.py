from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.apikeys.models import ApiScope
from app.audit import service as audit
from app.auth.deps import AppSettings, Codec, integration_caller
from app.auth.principal import Principal
from app.db import DbSession, open_session
from app.errors import PROBLEM_RESPONSES, Forbidden, Invalid
from app.integrations.national.export import FIELDS, ExportFormat, ExportKind, encode, rows
from app.integrations.national.personal import PersonalData
from app.regions.queries import get_region

router = APIRouter(prefix="/exports", tags=["exports"], responses=PROBLEM_RESPONSES)

KIND_SCOPES = {
    ExportKind.VOLUNTEERS: ApiScope.VOLUNTEERS_READ,
    ExportKind.TEAMS: ApiScope.TEAMS_READ,
    ExportKind.SERVICE_RECORDS: ApiScope.RECORDS_READ,
    ExportKind.ACTIVITIES: ApiScope.ACTIVITIES_READ,
}


def _kind_scope(request: Request) -> ApiScope:
    kind = request.path_params.get("kind", "")
    # An unknown kind is refused by the path's validation; its scope here does not matter.
    return KIND_SCOPES[ExportKind(kind)] if kind in set(ExportKind) else ApiScope.RECORDS_READ


ExportCaller = Annotated[Principal, Depends(integration_caller(_kind_scope))]

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
    caller: ExportCaller,
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
    """Volunteers, teams, service records or activities of the caller's region in the national
    exchange format (`docs/national-exchange.md`), streamed as UTF-8 JSON Lines or CSV. Full ID
    and phone numbers leave only when `DIANDAN_EXPORT_PERSONAL_DATA=full` and a platform admin
    (or an API key with `personal_data:read`) asks; every export is audited. API keys need the
    kind's scope: `volunteers:read`, `teams:read`, `records:read` or `activities:read`."""
    if since is not None and since.tzinfo is None:
        raise Invalid(
            "时间须带时区 / since needs an offset, e.g. 2026-10-01T00:00:00+08:00",
            code="naive_datetime",
        )
    scope = caller.admin_scope
    if region is not None:
        scope = scope.narrowed_to(get_region(session, region).code)
    if personal is PersonalData.FULL and not (
        settings.export_personal_data is PersonalData.FULL
        and (caller.platform_admin or _key_may_take_personal_data(caller))
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


def _key_may_take_personal_data(caller: Principal) -> bool:
    return caller.api_key is not None and ApiScope.PERSONAL_DATA.value in caller.api_key.scopes
