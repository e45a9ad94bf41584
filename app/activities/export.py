"""The activity record (志愿服务活动记录表) as exported: the filed fields, the filing deadline, and
the attendance (each volunteer, check-in and check-out, recorded hours), as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.activities.models import Activity
from app.activities.schemas import AttendanceOut, SignupOut
from app.records.models import ServiceRecord

REPORT_FIELDS = [
    ("title", "活动名称"), ("organiser", "组织单位"), ("leading_official", "带队领导"),
    ("starts_at", "开始时间"), ("ends_at", "结束时间"), ("place", "活动地点"),
    ("party_members", "参加党员人数"), ("unit_party_members", "本单位党员总数"),
    ("volunteers", "参加志愿者人数"), ("total_hours", "服务总时长"), ("report", "服务内容"),
    ("photo_url", "活动照片"), ("notes", "备注"), ("report_due_at", "填报期限"),
    ("filed_at", "填报时间"),
]  # fmt: skip

ATTENDANCE_FIELDS = [
    ("name", "志愿者"), ("volunteer_id", "志愿者编号"), ("status", "报名状态"),
    ("checked_in_at", "签到时间"), ("checked_out_at", "签退时间"), ("check_in_by", "签到方式"),
    ("hours", "服务时长(小时)"),
]  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _minutes_by_volunteer(session: Session, activity: Activity) -> dict[uuid.UUID, int]:
    """Recorded minutes per volunteer, amendments included (their minutes are the change)."""
    rows = session.exec(
        select(ServiceRecord.volunteer_id, func.sum(ServiceRecord.minutes))
        .where(col(ServiceRecord.activity_id) == activity.id)
        .group_by(col(ServiceRecord.volunteer_id))
    ).all()
    return {volunteer_id: int(minutes or 0) for volunteer_id, minutes in rows}


def attendance_of(
    session: Session, activity: Activity, signups: list[SignupOut]
) -> list[AttendanceOut]:
    minutes = _minutes_by_volunteer(session, activity)
    return [
        AttendanceOut(
            **s.model_dump(),
            hours=round(minutes[s.volunteer_id] / 60, 2) if s.volunteer_id in minutes else None,
        )
        for s in signups
    ]


def record_of(session: Session, activity: Activity, due: datetime) -> dict[str, Any]:
    minutes = _minutes_by_volunteer(session, activity)
    record: dict[str, Any] = {name: getattr(activity, name, None) for name, _ in REPORT_FIELDS}
    record |= {
        "volunteers": sum(1 for m in minutes.values() if m > 0),
        "total_hours": round(sum(minutes.values()) / 60, 2),
        "report_due_at": due,
    }
    return {k: _plain(v) for k, v in record.items()}


def _row(entry: AttendanceOut) -> dict[str, Any]:
    return {k: _plain(v) for k, v in entry.model_dump().items()}


def as_json(record: dict[str, Any], attendance: list[AttendanceOut]) -> str:
    return json.dumps(
        {"record": record, "attendance": [_row(a) for a in attendance]},
        ensure_ascii=False,
    )


def as_csv(record: dict[str, Any], attendance: list[AttendanceOut]) -> str:
    """The record's header and row, a blank line, then the attendance table (UTF-8 with BOM,
    so that spreadsheet programs read the Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for _, label in REPORT_FIELDS])
    writer.writerow(["" if record[name] is None else record[name] for name, _ in REPORT_FIELDS])
    writer.writerow([])
    writer.writerow([label for _, label in ATTENDANCE_FIELDS])
    for entry in attendance:
        row = _row(entry)
        writer.writerow(["" if row[name] is None else row[name] for name, _ in ATTENDANCE_FIELDS])
    return "\ufeff" + out.getvalue()
