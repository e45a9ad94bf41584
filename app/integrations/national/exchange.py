"""The exchange format: one flat record per volunteer, team or service record, with fields named
after the data elements of 《志愿服务信息系统基本规范》(MZ/T 061-2015). Pure functions of rows;
`docs/national-exchange.md` is the field-by-field reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.activities.models import Activity
from app.integrations.national.personal import PersonalData
from app.records.models import ServiceRecord
from app.teams.models import Team
from app.volunteers.models import Volunteer

# 证件类型 code list of the national system; we hold mainland resident ID cards only.
ID_TYPE_RESIDENT_CARD = "1"
# 性别 (GB/T 2261.1): 1 male, 2 female, derived from the ID number's 17th digit.
GENDER_BY_PARITY = {1: "1", 0: "2"}


@dataclass(frozen=True)
class Field:
    key: str  # the exchange key (JSON Lines and CSV with English headers)
    zh: str  # the data element's Chinese name (CSV with Chinese headers)


VOLUNTEER_FIELDS = (
    Field("volunteer_code", "志愿者编号"),
    Field("local_id", "本地编号"),
    Field("name", "姓名"),
    Field("id_type", "证件类型"),
    Field("id_number", "证件号码"),
    Field("gender", "性别"),
    Field("birth_date", "出生日期"),
    Field("mobile", "手机号码"),
    Field("region_code", "所在地区代码"),
    Field("skills", "服务意向"),
    Field("status", "状态"),
    Field("registered_at", "注册时间"),
)
TEAM_FIELDS = (
    Field("team_code", "志愿团体编号"),
    Field("name", "志愿团体名称"),
    Field("region_code", "所在地区代码"),
    Field("founded_on", "成立日期"),
    Field("service_types", "服务类别"),
    Field("brand", "品牌"),
    Field("status", "状态"),
    Field("registered_at", "注册时间"),
)
RECORD_FIELDS = (
    Field("record_code", "记录编号"),
    Field("volunteer_code", "志愿者编号"),
    Field("volunteer_local_id", "志愿者本地编号"),
    Field("team_code", "志愿团体编号"),
    Field("project_code", "项目编号"),
    Field("service_date", "服务日期"),
    Field("start_time", "开始时间"),
    Field("end_time", "结束时间"),
    Field("service_hours", "服务时长"),
    Field("service_type", "服务类别"),
    Field("content", "服务内容"),
    Field("place", "服务地点"),
    Field("region_code", "服务地区代码"),
    Field("source", "记录来源"),
    Field("amends", "更正记录编号"),
    Field("recorded_at", "记录时间"),
)
ACTIVITY_FIELDS = (
    Field("activity_code", "活动编号"),
    Field("team_code", "志愿团体编号"),
    Field("project_code", "项目编号"),
    Field("title", "活动名称"),
    Field("service_type", "服务类别"),
    Field("content", "活动内容"),
    Field("place", "活动地点"),
    Field("region_code", "活动地区代码"),
    Field("start_time", "开始时间"),
    Field("end_time", "结束时间"),
    Field("recruits", "招募人数"),
    Field("signed_up", "报名人数"),
    Field("status", "状态"),
    Field("organiser", "组织单位"),
    Field("report", "服务内容记录"),
    Field("filed_at", "记录填报时间"),
)
ACTIVITY_STATUS = {"published": "招募中", "confirmed": "已完成", "cancelled": "已取消"}
VOLUNTEER_STATUS = {"pending": "待审核", "approved": "已注册", "rejected": "未通过"}
TEAM_STATUS = {"active": "正常", "suspended": "暂停", "dissolved": "已解散"}

Decrypt = Callable[[bytes], str]


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _birth_and_gender(id_number: str) -> tuple[str | None, str | None]:
    if len(id_number) != 18 or not id_number[:17].isdigit():
        return None, None
    birth = f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"
    return birth, GENDER_BY_PARITY[int(id_number[16]) % 2]


def volunteer_record(
    v: Volunteer, *, personal: PersonalData, decrypt_phone: Decrypt, decrypt_id: Decrypt
) -> dict[str, Any]:
    id_number = mobile = birth = gender = None
    if personal is PersonalData.FULL:
        mobile = decrypt_phone(v.phone_cipher)
        if v.id_number_cipher is not None:
            id_number = decrypt_id(v.id_number_cipher)
            birth, gender = _birth_and_gender(id_number)
    else:
        mobile, id_number = v.phone_masked, v.id_number_masked
    return {
        "volunteer_code": v.national_code,
        "local_id": str(v.id),
        "name": v.real_name,
        "id_type": ID_TYPE_RESIDENT_CARD if v.id_number_masked else None,
        "id_number": id_number,
        "gender": gender,
        "birth_date": birth,
        "mobile": mobile,
        "region_code": v.region_code,
        "skills": v.skills,
        "status": VOLUNTEER_STATUS.get(v.status, v.status),
        "registered_at": _iso(v.created_at),
    }


def team_record(t: Team, specialties: list[str]) -> dict[str, Any]:
    return {
        "team_code": str(t.id),
        "name": t.name,
        "region_code": t.region_code,
        "founded_on": _iso(t.founded_on),
        "service_types": specialties,
        "brand": t.brand,
        "status": TEAM_STATUS.get(t.status, t.status),
        "registered_at": _iso(t.created_at),
    }


def service_record(r: ServiceRecord, volunteer_code: str | None) -> dict[str, Any]:
    """Hours as a decimal with two places, from the exact minutes."""
    return {
        "record_code": str(r.id),
        "volunteer_code": volunteer_code,
        "volunteer_local_id": str(r.volunteer_id),
        "team_code": str(r.team_id),
        "project_code": str(r.activity_id or r.order_id) if (r.activity_id or r.order_id) else None,
        "service_date": _iso(r.service_date),
        "start_time": _iso(r.started_at),
        "end_time": _iso(r.ended_at),
        "service_hours": f"{r.minutes / 60:.2f}",
        "service_type": r.category_code,
        "content": r.content,
        "place": r.place,
        "region_code": r.region_code,
        "source": r.source,
        "amends": str(amends) if (amends := getattr(r, "amends_id", None)) else None,
        "recorded_at": _iso(r.created_at),
    }


def activity_record(a: Activity) -> dict[str, Any]:
    return {
        "activity_code": str(a.id),
        "team_code": str(a.team_id),
        "project_code": str(a.order_id) if a.order_id else None,
        "title": a.title,
        "service_type": a.category_code,
        "content": a.description,
        "place": a.place,
        "region_code": a.region_code,
        "start_time": _iso(a.starts_at),
        "end_time": _iso(a.ends_at),
        "recruits": a.capacity,
        "signed_up": a.signed_up,
        "status": ACTIVITY_STATUS.get(a.status, a.status),
        "organiser": a.organiser,
        "report": a.report,
        "filed_at": _iso(a.filed_at),
    }
