"""The one way service records enter the ledger.

Orders (at completion), activities (confirmed attendance), manual entry and imports all call
`land_records`, and corrections call `amend`: every row is checked by the same rules and moves
the period totals in the transaction that writes it.

Rules (the national guidance on service records): the volunteer is an approved member of the
team; the duration is positive and whole minutes; the date is not in the future (China time);
a volunteer's records on one day add up to at most 24 hours; records with times do not overlap.
The volunteer rows are locked first (`FOR UPDATE` on PostgreSQL; SQLite writers are serialised
by BEGIN IMMEDIATE), so two concurrent entries cannot both pass the daily limit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.common.clock import utcnow
from app.common.orm import already_loaded
from app.config import Settings
from app.errors import Invalid
from app.points import service as points
from app.records.models import RecordSource, ServiceRecord
from app.scoring import stars, totals
from app.teams.models import Team, TeamMember
from app.volunteers.models import Volunteer, VolunteerStatus

DAY_MINUTES = 24 * 60
CHINA = timedelta(hours=8)


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
    external_ref: str | None = None


def china_today(now: datetime | None = None) -> date:
    return ((now or utcnow()).astimezone(UTC) + CHINA).date()


def _refuse(message: str, code: str, **extra: object) -> Invalid:
    return Invalid(message, code=code, **extra)


def _lock_volunteers(
    session: Session, volunteer_ids: set[uuid.UUID], team_ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, set[uuid.UUID]]]:
    """Status, region and (of `team_ids`) teams of each volunteer, with their rows locked."""
    stmt = (
        sa_select(
            col(Volunteer.id),
            col(Volunteer.status),
            col(Volunteer.region_code),
            col(TeamMember.team_id),
        )
        .outerjoin(
            TeamMember,
            and_(
                col(TeamMember.volunteer_id) == col(Volunteer.id),
                col(TeamMember.team_id).in_(team_ids),
            ),
        )
        .where(col(Volunteer.id).in_(volunteer_ids))
        .order_by(col(Volunteer.id))
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Volunteer.__table__)  # type: ignore[attr-defined]
    found: dict[uuid.UUID, tuple[str, str, set[uuid.UUID]]] = {}
    for volunteer_id, status, region, team_id in session.connection().execute(stmt).all():
        entry = found.setdefault(volunteer_id, (status, region, set()))
        if team_id is not None:
            entry[2].add(team_id)
    return found


def _day_minutes(
    session: Session, keys: set[tuple[uuid.UUID, date]]
) -> dict[tuple[uuid.UUID, date], int]:
    volunteers = {v for v, _ in keys}
    days = {d for _, d in keys}
    who, day = col(ServiceRecord.volunteer_id), col(ServiceRecord.service_date)
    rows = (
        session.connection()
        .execute(
            sa_select(who, day, func.sum(col(ServiceRecord.minutes)))
            .where(who.in_(volunteers), day.in_(days))
            .group_by(who, day)
        )
        .all()
    )
    return {(v, d): int(m or 0) for v, d, m in rows}


def _overlaps(session: Session, draft: RecordDraft) -> bool:
    if draft.started_at is None or draft.ended_at is None:
        return False
    clash = session.exec(
        select(ServiceRecord.id)
        .where(
            col(ServiceRecord.volunteer_id) == draft.volunteer_id,
            col(ServiceRecord.amends_id).is_(None),
            col(ServiceRecord.started_at) < draft.ended_at,
            col(ServiceRecord.ended_at) > draft.started_at,
        )
        .limit(1)
    ).first()
    return clash is not None


def _check(session: Session, drafts: Sequence[RecordDraft], now: datetime) -> dict[uuid.UUID, str]:
    """Refuse impossible records; returns each volunteer's region."""
    today = china_today(now)
    seen: set[tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None, date]] = set()
    for d in drafts:
        if d.minutes <= 0:
            raise _refuse("服务时长必须大于零 / hours must be positive", "non_positive_hours")
        if d.minutes > DAY_MINUTES:
            raise _refuse("单条记录不能超过24小时 / at most 24 hours a record", "too_many_hours")
        if d.service_date > today:
            raise _refuse("服务日期不能晚于今天 / the service date is in the future", "future_date")
        if d.started_at is not None and d.ended_at is not None and d.ended_at <= d.started_at:
            raise _refuse("结束时间须晚于开始时间 / ended_at must follow started_at", "bad_times")
        once = (d.volunteer_id, d.order_id, d.activity_id, d.service_date)
        if once in seen:
            raise _refuse("同一志愿者重复记录 / the same volunteer twice", "duplicate_volunteer")
        seen.add(once)
    people = _lock_volunteers(
        session, {d.volunteer_id for d in drafts}, {d.team_id for d in drafts}
    )
    for d in drafts:
        status, _, teams = people.get(d.volunteer_id, ("", "", set()))
        if status != VolunteerStatus.APPROVED.value or d.team_id not in teams:
            raise _refuse(
                "志愿者不是该队伍已审核的成员 / not an approved member of the team",
                "not_a_member",
                volunteer_id=str(d.volunteer_id),
            )
    day_totals = _day_minutes(session, {(d.volunteer_id, d.service_date) for d in drafts})
    added: dict[tuple[uuid.UUID, date], int] = defaultdict(int)
    for d in drafts:
        key = (d.volunteer_id, d.service_date)
        added[key] += d.minutes
        if day_totals.get(key, 0) + added[key] > DAY_MINUTES:
            raise _refuse(
                "该志愿者当日服务时长将超过24小时 / more than 24 hours on one day",
                "day_limit",
                volunteer_id=str(d.volunteer_id),
                service_date=d.service_date.isoformat(),
            )
        if _overlaps(session, d):
            raise _refuse(
                "与该志愿者已有记录的时间重叠 / overlaps another record of the volunteer",
                "overlapping_times",
                volunteer_id=str(d.volunteer_id),
            )
    return {volunteer_id: region for volunteer_id, (_, region, _) in people.items()}


def _team_regions(session: Session, team_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Regions of the teams, from the session's teams where the caller loaded them already."""
    found: dict[uuid.UUID, str] = {}
    for team_id in team_ids:
        team = already_loaded(session, Team, team_id)
        if team is not None:
            found[team_id] = team.region_code
    missing = team_ids - found.keys()
    if missing:
        rows = session.exec(select(Team.id, Team.region_code).where(col(Team.id).in_(missing)))
        found.update(rows.all())
    return found


def land_records(
    session: Session,
    settings: Settings,
    drafts: Sequence[RecordDraft],
    *,
    now: datetime | None = None,
) -> list[ServiceRecord]:
    """Check and write the records of one event (an order, an activity, a manual entry) and
    move the totals. Flushes; the caller commits."""
    if not drafts:
        return []
    regions = _check(session, drafts, now or utcnow())
    team_regions = _team_regions(session, {d.team_id for d in drafts})
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
            external_ref=d.external_ref,
        )
        for d in drafts
    ]
    session.add_all(records)
    session.flush()
    totals.apply(
        session,
        [
            totals.Movement(r.volunteer_id, regions[r.volunteer_id], r.team_id,
                            team_regions[r.team_id], r.service_date, r.minutes, 1)
            for r in records
        ],
    )  # fmt: skip
    points.earn_for_records(session, records)
    stars.auto_grant(session, settings, [r.volunteer_id for r in records])
    return records


def effective_minutes(session: Session, record: ServiceRecord) -> int:
    """The record's minutes as amended."""
    delta = session.exec(
        select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
            col(ServiceRecord.amends_id) == record.id
        )
    ).one()
    return record.minutes + int(delta)


def amend(
    session: Session,
    settings: Settings,
    record: ServiceRecord,
    *,
    minutes: int | None,
    content: str | None,
    reason: str,
    actor_id: uuid.UUID,
    now: datetime | None = None,
) -> ServiceRecord:
    """Append a correction: the original stays as it was; the amendment carries the change in
    minutes (0 voids the record) and the corrected content. Flushes; the caller commits."""
    if record.amends_id is not None:
        raise _refuse("请更正原始记录 / amend the original record", "amend_the_original")
    people = _lock_volunteers(session, {record.volunteer_id}, {record.team_id})
    current = effective_minutes(session, record)
    target = current if minutes is None else minutes
    if target < 0 or target > DAY_MINUTES:
        raise _refuse("更正后的时长无效 / the corrected hours are out of range", "bad_hours")
    if target == current and content is None:
        raise _refuse("没有需要更正的内容 / nothing to correct", "nothing_to_amend")
    day = _day_minutes(session, {(record.volunteer_id, record.service_date)})
    if day.get((record.volunteer_id, record.service_date), 0) - current + target > DAY_MINUTES:
        raise _refuse(
            "该志愿者当日服务时长将超过24小时 / more than 24 hours on one day", "day_limit"
        )
    amendment = ServiceRecord(
        volunteer_id=record.volunteer_id,
        team_id=record.team_id,
        source=RecordSource.AMENDMENT.value,
        category_code=record.category_code,
        region_code=record.region_code,
        service_date=record.service_date,
        minutes=target - current,
        content=record.content if content is None else content,
        place=record.place,
        recorded_by_id=actor_id,
        amends_id=record.id,
        reason=reason,
        created_at=now or utcnow(),
    )
    session.add(amendment)
    session.flush()
    region = people[record.volunteer_id][1] if record.volunteer_id in people else record.region_code
    team_region = _team_regions(session, {record.team_id})[record.team_id]
    totals.apply(
        session,
        [totals.Movement(record.volunteer_id, region, record.team_id, team_region,
                         record.service_date, amendment.minutes, 0)],
    )  # fmt: skip
    points.earn_for_records(session, [amendment])
    stars.auto_grant(session, settings, [record.volunteer_id])
    return amendment
