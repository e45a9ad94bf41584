"""Import volunteers and their historical hours from a national-platform export.

Each row is applied in a savepoint of its own: a bad row is reported with its number and field
and leaves nothing behind, while good rows land. That holds for a row the database refuses too
(a unique or foreign-key violation, a value too long for its column): the savepoint is rolled
back and the refusal becomes that row's error, never a 500 that loses the rest of the file.
Volunteers are matched by the unified volunteer code, records by their `record_code` (or,
without one, by volunteer, date, hours and content), so importing the same file again changes
nothing. A dry run checks every row the same way and then rolls everything back.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from app.accounts.models import User
from app.accounts.service import PHONE_CONTEXT, parse_phone
from app.auth.principal import Principal
from app.catalog.service import category_exists
from app.common.crypto import SensitiveCodec
from app.common.identity import mask_id_number, mask_phone
from app.config import Settings
from app.errors import AppError
from app.integrations.national.exchange import VOLUNTEER_STATUS
from app.records.ledger import RecordDraft, land_records
from app.records.models import RecordSource, ServiceRecord
from app.regions.models import Region
from app.scoring.totals import move_volunteer
from app.teams.models import Team
from app.volunteers.models import Volunteer, VolunteerStatus
from app.volunteers.service import ID_CONTEXT, _parse_id_number

log = logging.getLogger(__name__)
DB_REFUSED = (
    "数据库拒绝了这一行(例如与已有数据重复) / "
    "the database refused this row (e.g. it duplicates existing data)"
)


class RowStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


class CellError(BaseModel):
    field: str
    message: str


class RowReport(BaseModel):
    row: int
    status: RowStatus
    key: str | None = None
    errors: list[CellError] = []


class ImportReport(BaseModel):
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    rows: list[RowReport] = []


class RowError(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class Context:
    session: Session
    settings: Settings
    codec: SensitiveCodec
    actor: Principal
    team_id: uuid.UUID | None = None
    regions: dict[str, bool] = field(default_factory=dict)


def _required(cells: dict[str, str], name: str) -> str:
    value = cells.get(name, "").strip()
    if not value:
        raise RowError(name, "必填 / required")
    return value


def _at_most(name: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise RowError(name, f"最多{limit}个字符 / at most {limit} characters")
    return value


def _status(cells: dict[str, str]) -> str:
    """The volunteer status from its Chinese name or our English value; blank means approved
    (the national platform lists registered volunteers). Anything else is refused, not guessed."""
    text = cells.get("status", "").strip()
    if not text:
        return VolunteerStatus.APPROVED.value
    statuses = {zh: en for en, zh in VOLUNTEER_STATUS.items()} | {en: en for en in VOLUNTEER_STATUS}
    if text not in statuses:
        known = "、".join(VOLUNTEER_STATUS.values())
        raise RowError("status", f"未知的状态,应为{known} / unknown status, use one of {known}")
    return statuses[text]


def _region(ctx: Context, code: str) -> str:
    if code not in ctx.regions:
        ctx.regions[code] = ctx.session.get(Region, code) is not None
    if not ctx.regions[code]:
        raise RowError("region_code", "未知的区划代码 / unknown region code")
    if not ctx.actor.admin_scope.covers(code):
        raise RowError("region_code", "不在您的辖区内 / outside your region")
    return code


def _volunteer_row(ctx: Context, cells: dict[str, str]) -> tuple[RowStatus, str]:
    session, codec = ctx.session, ctx.codec
    code = _at_most("volunteer_code", _required(cells, "volunteer_code"), 40)
    name = _at_most("name", _required(cells, "name"), 50)
    region = _region(ctx, _required(cells, "region_code"))
    raw_phone = _required(cells, "mobile")
    if "*" in raw_phone:
        raise RowError(
            "mobile", "需要完整手机号 / a full mobile number is needed, not a masked one"
        )
    try:
        phone = parse_phone(raw_phone)
    except AppError as exc:
        raise RowError("mobile", exc.detail) from None
    id_number = None
    if raw_id := cells.get("id_number", "").strip():
        if "*" in raw_id:
            raise RowError("id_number", "需要完整证件号 / a full ID number is needed")
        try:
            id_number = _parse_id_number(raw_id)
        except AppError as exc:
            raise RowError("id_number", exc.detail) from None
    status = _status(cells)
    id_hash = codec.lookup_hash(id_number, context=ID_CONTEXT) if id_number else None
    existing = session.exec(select(Volunteer).where(Volunteer.national_code == code)).first()
    if id_hash:
        holder = session.exec(
            select(Volunteer.id).where(Volunteer.id_number_hash == id_hash)
        ).first()
        if holder is not None and (existing is None or holder != existing.id):
            raise RowError("id_number", "该证件号已属于另一名志愿者 / belongs to another volunteer")
    if existing is not None:
        if not ctx.actor.admin_scope.covers(existing.region_code):
            raise RowError("volunteer_code", "该志愿者不在您的辖区内 / outside your region")
        changed = False
        if existing.real_name != name:
            existing.real_name, changed = name, True
        if existing.region_code != region:
            existing.region_code, changed = region, True
            move_volunteer(session, existing.id, region)
        if existing.phone_hash != codec.lookup_hash(phone, context=PHONE_CONTEXT):
            existing.phone_cipher = codec.encrypt(phone, context=PHONE_CONTEXT)
            existing.phone_hash = codec.lookup_hash(phone, context=PHONE_CONTEXT)
            existing.phone_masked, changed = mask_phone(phone), True
        if id_number and existing.id_number_hash != id_hash:
            existing.id_number_cipher = codec.encrypt(id_number, context=ID_CONTEXT)
            existing.id_number_hash = id_hash
            existing.id_number_masked, changed = mask_id_number(id_number), True
        if changed:
            session.add(existing)
            session.flush()
        return (RowStatus.UPDATED if changed else RowStatus.UNCHANGED), code
    user = User(display_name=name[:50], home_region_code=region)
    session.add(user)
    session.flush()
    volunteer = Volunteer(
        user_id=user.id,
        real_name=name,
        phone_cipher=codec.encrypt(phone, context=PHONE_CONTEXT),
        phone_hash=codec.lookup_hash(phone, context=PHONE_CONTEXT),
        phone_masked=mask_phone(phone),
        region_code=region,
        national_code=code,
        status=status,
    )
    if id_number:
        volunteer.id_number_cipher = codec.encrypt(id_number, context=ID_CONTEXT)
        volunteer.id_number_hash = id_hash
        volunteer.id_number_masked = mask_id_number(id_number)
    session.add(volunteer)
    session.flush()
    return RowStatus.CREATED, code


def _record_key(cells: dict[str, str], volunteer_code: str) -> str:
    if record_code := cells.get("record_code", "").strip():
        return f"import:{record_code}"[:64]
    basis = "|".join(
        [
            volunteer_code,
            cells.get("service_date", ""),
            cells.get("service_hours", ""),
            cells.get("content", ""),
        ]
    )
    return "import:sha256:" + hashlib.sha256(basis.encode()).hexdigest()[:48]


def _record_row(ctx: Context, cells: dict[str, str]) -> tuple[RowStatus, str]:
    session = ctx.session
    code = _required(cells, "volunteer_code")
    volunteer = session.exec(select(Volunteer).where(Volunteer.national_code == code)).first()
    if volunteer is None or not ctx.actor.admin_scope.covers(volunteer.region_code):
        raise RowError(
            "volunteer_code", "未找到该志愿者 / no such volunteer here (import volunteers first)"
        )
    key = _record_key(cells, code)
    if session.exec(select(ServiceRecord.id).where(ServiceRecord.external_ref == key)).first():
        return RowStatus.UNCHANGED, key
    try:
        day = date.fromisoformat(_required(cells, "service_date")[:10])
    except ValueError:
        raise RowError("service_date", "日期格式应为 YYYY-MM-DD / a date like 2025-06-01") from None
    try:
        hours = float(_required(cells, "service_hours"))
    except ValueError:
        raise RowError("service_hours", "应为数字 / a number of hours") from None
    if not math.isfinite(hours):
        raise RowError("service_hours", "应为数字 / a number of hours")
    category = _required(cells, "service_type")
    if not category_exists(session, category):
        raise RowError("service_type", "未知的服务类别 / unknown category code")
    team_id: uuid.UUID | None = ctx.team_id
    if team_code := cells.get("team_code", "").strip():
        try:
            team_id = uuid.UUID(team_code)
        except ValueError:
            raise RowError(
                "team_code", "应为本平台的队伍编号 / a team id of this platform"
            ) from None
    team = session.get(Team, team_id) if team_id else None
    if team is None:
        raise RowError("team_code", "需要队伍编号或 team_id 参数 / give team_code or ?team_id=")
    try:
        land_records(
            session,
            ctx.settings,
            [
                RecordDraft(
                    volunteer_id=volunteer.id,
                    team_id=team.id,
                    category_code=category,
                    region_code=_region(ctx, cells.get("region_code") or team.region_code),
                    service_date=day,
                    minutes=math.floor(hours * 60 + 0.5),
                    content=cells.get("content", "")[:1000],
                    place=cells.get("place", "")[:200],
                    recorded_by_id=ctx.actor.id,
                    source=RecordSource.IMPORT,
                    external_ref=key,
                )
            ],
        )
    except AppError as exc:
        raise RowError(
            "service_hours" if "hour" in exc.code else "volunteer_code", exc.detail
        ) from None
    return RowStatus.CREATED, key


KINDS: dict[str, Callable[[Context, dict[str, str]], tuple[RowStatus, str]]] = {
    "volunteers": _volunteer_row,
    "service_records": _record_row,
}


def run_import(
    ctx: Context, kind: str, rows: list[tuple[int, dict[str, str]]], *, dry_run: bool
) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    apply = KINDS[kind]
    for number, cells in rows:
        savepoint = ctx.session.begin_nested()
        try:
            status, key = apply(ctx, cells)
            savepoint.commit()
        except (RowError, DBAPIError) as exc:
            savepoint.rollback()
            if isinstance(exc, RowError):
                error = CellError(field=exc.field, message=exc.message)
            else:  # the database refused the row: its savepoint is gone, the file goes on
                log.warning("import %s row %d refused by the database: %s", kind, number, exc.orig)
                error = CellError(field="row", message=DB_REFUSED)
            report.rows.append(
                RowReport(
                    row=number,
                    status=RowStatus.ERROR,
                    key=cells.get("volunteer_code"),
                    errors=[error],
                )
            )
            report.failed += 1
            continue
        report.rows.append(RowReport(row=number, status=status, key=key))
        setattr(report, status.value, getattr(report, status.value) + 1)
    return report
