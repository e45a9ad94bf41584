"""The one way service records enter the ledger.

Orders (at completion), activities (confirmed attendance), manual entry and imports all call
`land_records`, and corrections call `amend`: every row is checked by the same rules and moves
the period totals in the transaction that writes it.

Rules (the national guidance on service records): the volunteer is an approved member of the
team; the duration is positive and whole minutes; neither the date nor the times are in the
future, and the date is the China date (Asia/Shanghai) of the start; a volunteer's records on one
day add up to at most 24 hours; records with times do not overlap (voided records do not count);
one record per volunteer per order and per activity. Amendments re-run the same rules.
The volunteer rows are locked first (`FOR UPDATE` on PostgreSQL; SQLite writers are serialised
by BEGIN IMMEDIATE), so two concurrent entries cannot both pass the daily limit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.common.clock import utcnow
from app.common.ids import new_id
from app.common.orm import already_loaded
from app.common.together import write_together
from app.config import Settings
from app.errors import Conflict, Invalid, NotFound
from app.points import service as points
from app.records.models import RecordSource, ServiceRecord
from app.scoring import stars, totals
from app.sync.capture import core_insert_changes
from app.sync.models import ChangeEvent
from app.teams.models import Team, TeamMember
from app.volunteers.models import Volunteer, VolunteerStatus

DAY_MINUTES = 24 * 60
CHINA = timedelta(hours=8)  # Asia/Shanghai has had no daylight saving since 1991
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class RecordDraft:
    volunteer_id: uuid.UUID
    team_id: uuid.UUID
    category_code: str
    region_code: str | None  # where the service was; None: the team's home region
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


def china_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def china_today(now: datetime | None = None) -> date:
    return china_date(now or utcnow())


def _refuse(message: str, code: str, **extra: object) -> Invalid:
    return Invalid(message, code=code, **extra)


def _lock_statement(lock: bool) -> Any:
    stmt = (
        sa_select(
            col(Volunteer.id),
            col(Volunteer.status),
            col(Volunteer.region_code),
            col(TeamMember.team_id),
            col(Team.region_code),
        )
        .outerjoin(
            TeamMember,
            and_(
                col(TeamMember.volunteer_id) == col(Volunteer.id),
                col(TeamMember.team_id).in_(bindparam("teams", expanding=True)),
            ),
        )
        .outerjoin(Team, col(Team.id) == col(TeamMember.team_id))
        .where(col(Volunteer.id).in_(bindparam("volunteers", expanding=True)))
        .order_by(col(Volunteer.id))
    )
    return stmt.with_for_update(of=Volunteer.__table__) if lock else stmt  # type: ignore[attr-defined]


# The statements that run with every record are built once: building one costs more than
# running it.
_LOCK = {lock: _lock_statement(lock) for lock in (False, True)}
_WHO, _DAY = col(ServiceRecord.volunteer_id), col(ServiceRecord.service_date)
_DAY_MINUTES = (
    sa_select(_WHO, _DAY, func.sum(col(ServiceRecord.minutes)))
    .where(
        _WHO.in_(bindparam("volunteers", expanding=True)),
        _DAY.in_(bindparam("days", expanding=True)),
    )
    .group_by(_WHO, _DAY)
)


def _lock_volunteers(
    session: Session, volunteer_ids: set[uuid.UUID], team_ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, dict[uuid.UUID, str]]]:
    """Status, region and (of `team_ids`) teams of each volunteer with the teams' regions, with
    the volunteers' rows locked (`FOR UPDATE` on PostgreSQL)."""
    connection = session.connection()
    stmt = _LOCK[connection.dialect.name == "postgresql"]
    params = {"volunteers": sorted(volunteer_ids), "teams": sorted(team_ids)}
    found: dict[uuid.UUID, tuple[str, str, dict[uuid.UUID, str]]] = {}
    for volunteer_id, status, region, team_id, team_region in connection.execute(
        stmt, params
    ).all():
        entry = found.setdefault(volunteer_id, (status, region, {}))
        if team_id is not None:
            entry[2][team_id] = team_region
    return found


@dataclass(frozen=True)
class Checked:
    """What the checks read: each volunteer's region, and the regions of their teams."""

    volunteer_regions: dict[uuid.UUID, str]
    team_regions: dict[uuid.UUID, str]


def _day_minutes(
    session: Session, keys: set[tuple[uuid.UUID, date]]
) -> dict[tuple[uuid.UUID, date], int]:
    params = {"volunteers": sorted({v for v, _ in keys}), "days": sorted({d for _, d in keys})}
    rows = session.connection().execute(_DAY_MINUTES, params).all()
    return {(v, d): int(m or 0) for v, d, m in rows}


@dataclass(frozen=True)
class RecordState:
    """A record as amended: its minutes are the sum of its ledger rows; date, times, category
    and content are those of its latest row (a reversal only takes minutes away)."""

    record: ServiceRecord
    minutes: int
    service_date: date
    started_at: datetime | None
    ended_at: datetime | None
    category_code: str
    content: str
    place: str


def _state_of(record: ServiceRecord, amendments: Sequence[ServiceRecord]) -> RecordState:
    minutes, latest, started, ended = record.minutes, record, record.started_at, record.ended_at
    for row in amendments:
        minutes += row.minutes
        if row.source == RecordSource.REVERSAL.value:
            continue
        latest = row
        if row.started_at is not None and row.ended_at is not None:
            started, ended = row.started_at, row.ended_at
    return RecordState(
        record, minutes, latest.service_date, started, ended,
        latest.category_code, latest.content, latest.place,
    )  # fmt: skip


def _states(session: Session, record_ids: set[uuid.UUID]) -> list[RecordState]:
    if not record_ids:
        return []
    rows = session.exec(
        select(ServiceRecord)
        .where(col(ServiceRecord.id).in_(record_ids) | col(ServiceRecord.amends_id).in_(record_ids))
        .order_by(col(ServiceRecord.created_at), col(ServiceRecord.id))
    ).all()
    amendments: dict[uuid.UUID, list[ServiceRecord]] = defaultdict(list)
    for row in rows:
        if row.amends_id is not None:
            amendments[row.amends_id].append(row)
    return [_state_of(r, amendments[r.id]) for r in rows if r.amends_id is None]


def current_state(session: Session, record: ServiceRecord) -> RecordState:
    [state] = _states(session, {record.id})
    return state


def _overlaps(
    session: Session,
    volunteer_id: uuid.UUID,
    started_at: datetime | None,
    ended_at: datetime | None,
    *,
    besides: uuid.UUID | None = None,
) -> bool:
    """Whether a live record of the volunteer (not voided, as amended) overlaps the times."""
    if started_at is None or ended_at is None:
        return False
    candidates = session.exec(
        select(ServiceRecord.id, ServiceRecord.amends_id).where(
            col(ServiceRecord.volunteer_id) == volunteer_id,
            col(ServiceRecord.started_at) < ended_at,
            col(ServiceRecord.ended_at) > started_at,
        )
    ).all()
    roots = {amends_id or record_id for record_id, amends_id in candidates} - {besides}
    return any(
        s.minutes > 0
        and s.started_at is not None
        and s.ended_at is not None
        and s.started_at < ended_at
        and s.ended_at > started_at
        for s in _states(session, {r for r in roots if r is not None})
    )


def _check_times(
    service_date: date, started_at: datetime | None, ended_at: datetime | None, now: datetime
) -> None:
    """The rules on one record's date and times."""
    if service_date > china_today(now):
        raise _refuse("服务日期不能晚于今天 / the service date is in the future", "future_date")
    if (started_at is None) != (ended_at is None):
        raise _refuse(
            "开始与结束时间须同时填写 / give both started_at and ended_at, or neither",
            "incomplete_times",
        )
    if started_at is None or ended_at is None:
        return
    if ended_at <= started_at:
        raise _refuse("结束时间须晚于开始时间 / ended_at must follow started_at", "bad_times")
    if ended_at > now:
        raise _refuse("服务时间不能晚于现在 / the service times are in the future", "future_times")
    if china_date(started_at) != service_date:
        raise _refuse(
            "服务日期须为开始时间的日期(北京时间)/ the service date must be the day the "
            "service started, in China time",
            "date_mismatch",
            service_date=service_date.isoformat(),
            started_on=china_date(started_at).isoformat(),
        )


def _already_recorded(session: Session, drafts: Sequence[RecordDraft]) -> None:
    """One record per volunteer per order and per activity (unique constraints back this)."""
    for column, attribute in ((ServiceRecord.order_id, "order_id"),
                              (ServiceRecord.activity_id, "activity_id")):  # fmt: skip
        wanted = {
            (getattr(d, attribute), d.volunteer_id)
            for d in drafts
            if getattr(d, attribute) is not None
        }
        if not wanted:
            continue
        rows = session.exec(
            select(column, ServiceRecord.volunteer_id).where(
                col(column).in_({key for key, _ in wanted}),
                col(ServiceRecord.volunteer_id).in_({v for _, v in wanted}),
            )
        ).all()
        clash = wanted & {(key, v) for key, v in rows}
        if clash:
            key, volunteer_id = sorted(clash, key=str)[0]
            raise Conflict(
                f"该志愿者的这次服务已有记录 / this service of the volunteer is already recorded: "
                f"{volunteer_id}",
                code="already_recorded",
                volunteer_id=str(volunteer_id),
                **{attribute: str(key)},
            )


def _check(
    session: Session, drafts: Sequence[RecordDraft], now: datetime, *, day_limit: bool = True
) -> Checked:
    """Refuse impossible records. `day_limit=False`: the caller checks the day limit itself
    (`_within_day_limit`), after the locks."""
    seen: set[tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None, date]] = set()
    for d in drafts:
        if d.minutes <= 0:
            raise _refuse("服务时长必须大于零 / hours must be positive", "non_positive_hours")
        if d.minutes > DAY_MINUTES:
            raise _refuse("单条记录不能超过24小时 / at most 24 hours a record", "too_many_hours")
        _check_times(d.service_date, d.started_at, d.ended_at, now)
        once = (d.volunteer_id, d.order_id, d.activity_id, d.service_date)
        if once in seen:
            raise _refuse("同一志愿者重复记录 / the same volunteer twice", "duplicate_volunteer")
        seen.add(once)
    people = _lock_volunteers(
        session, {d.volunteer_id for d in drafts}, {d.team_id for d in drafts}
    )
    for d in drafts:
        status, _, teams = people.get(d.volunteer_id, ("", "", {}))
        if status != VolunteerStatus.APPROVED.value or d.team_id not in teams:
            if not _team_regions(session, {d.team_id}):
                raise NotFound("未找到该服务队 / no such team", code="team_not_found")
            raise _refuse(
                "志愿者不是该队伍已审核的成员 / not an approved member of the team",
                "not_a_member",
                volunteer_id=str(d.volunteer_id),
            )
    _already_recorded(session, drafts)
    if day_limit:
        keys = {(d.volunteer_id, d.service_date) for d in drafts}
        _within_day_limit(drafts, _day_minutes(session, keys))
    for i, d in enumerate(drafts):
        if (
            _overlaps(session, d.volunteer_id, d.started_at, d.ended_at)
            or any(
                e.volunteer_id == d.volunteer_id
                and None not in (d.started_at, d.ended_at, e.started_at, e.ended_at)
                and e.started_at < d.ended_at  # type: ignore[operator]
                and e.ended_at > d.started_at  # type: ignore[operator]
                for e in drafts[:i]
            )
        ):
            raise _overlap(d.volunteer_id)
    return Checked(
        {volunteer_id: region for volunteer_id, (_, region, _) in people.items()},
        {team: region for _, _, teams in people.values() for team, region in teams.items()},
    )


def _within_day_limit(
    drafts: Sequence[RecordDraft], day_totals: Mapping[tuple[uuid.UUID, date], int]
) -> None:
    """A volunteer's minutes on one day, those recorded before (`day_totals`) and the drafts',
    stay within 24 hours."""
    added: dict[tuple[uuid.UUID, date], int] = defaultdict(int)
    for d in drafts:
        key = (d.volunteer_id, d.service_date)
        added[key] += d.minutes
        if day_totals.get(key, 0) + added[key] > DAY_MINUTES:
            raise _day_limit(d.volunteer_id, d.service_date)


def _day_limit(volunteer_id: uuid.UUID, day: date) -> Invalid:
    return _refuse(
        "该志愿者当日服务时长将超过24小时 / more than 24 hours on one day",
        "day_limit",
        volunteer_id=str(volunteer_id),
        service_date=day.isoformat(),
    )


def _overlap(volunteer_id: uuid.UUID) -> Invalid:
    return _refuse(
        "与该志愿者已有记录的时间重叠 / overlaps another record of the volunteer",
        "overlapping_times",
        volunteer_id=str(volunteer_id),
    )


def _team_regions(session: Session, team_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Regions of the teams (those that exist), from the session where it holds them."""
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
    now = now or utcnow()
    # Records of one day (all but imports): the minutes the volunteers have on that day are
    # read with the writes (after the locks, so no concurrent record can slip in between) and
    # checked after them; a refusal rolls the writes back with the transaction.
    days = {d.service_date for d in drafts}
    one_day = next(iter(days)) if len(days) == 1 else None
    checked = _check(session, drafts, now, day_limit=one_day is None)
    regions = checked.volunteer_regions
    teams = checked.team_regions  # every draft's team: its volunteer is a member
    values: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "volunteer_id": d.volunteer_id,
            "team_id": d.team_id,
            "order_id": d.order_id,
            "activity_id": d.activity_id,
            "source": d.source.value,
            "category_code": d.category_code,
            "region_code": d.region_code or teams[d.team_id],
            "service_date": d.service_date,
            "started_at": d.started_at,
            "ended_at": d.ended_at,
            "minutes": d.minutes,
            "content": d.content,
            "place": d.place,
            "recorded_by_id": d.recorded_by_id,
            "external_ref": d.external_ref,
            "amends_id": None,
            "reason": "",
            "created_at": now,  # the rows never change after this insert (append-only)
        }
        for d in drafts
    ]
    records = [ServiceRecord.model_construct(**row) for row in values]
    movements = [
        totals.Movement(r.volunteer_id, regions[r.volunteer_id], r.team_id, teams[r.team_id],
                        r.service_date, r.minutes, 1)
        for r in records
    ]  # fmt: skip
    tally = totals.tally_movements(totals.Tally(), movements)
    earned = points.earning_writes(session, records, tally)
    # Not the unit of work: this runs with every record, and the rows are never changed
    # afterwards. The records, their change-feed rows, the points and the totals (hours and
    # points of a period in one row) go as one statement on PostgreSQL, in the lock order of
    # every writer of balances and totals (`totals.Tally`).
    session.flush()  # what the session holds goes first (an order, an activity)
    people = [r.volunteer_id for r in records]
    standings = write_together(
        session,
        [
            (ServiceRecord, values, None),
            (ChangeEvent, core_insert_changes(session, records), None),
            *(earned or []),
            *tally.writes(),
        ],
        before=stars.standings_before(settings, people, one_day),
    )
    if one_day is not None:
        had = {(row[0], one_day): int(row[-1]) for row in standings}  # the row ends with it
        _within_day_limit(drafts, had)
    if earned is None:
        points.earn_for_records(session, records)
    added: dict[uuid.UUID, int] = defaultdict(int)
    for r in records:
        added[r.volunteer_id] += r.minutes
    stars.auto_grant(session, settings, people, read_before=(standings, added))
    return records


def effective_minutes(session: Session, record: ServiceRecord) -> int:
    """The record's minutes as amended."""
    delta = session.exec(
        select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
            col(ServiceRecord.amends_id) == record.id
        )
    ).one()
    return record.minutes + int(delta)


@dataclass(frozen=True)
class Correction:
    """What an amendment changes (None: unchanged). `minutes=0` voids the record."""

    minutes: int | None = None
    content: str | None = None
    service_date: date | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    category_code: str | None = None


def _corrected(state: RecordState, change: Correction) -> RecordState:
    started = change.started_at or state.started_at
    ended = change.ended_at or state.ended_at
    return RecordState(
        state.record,
        state.minutes if change.minutes is None else change.minutes,
        change.service_date or state.service_date,
        started,
        ended,
        change.category_code or state.category_code,
        state.content if change.content is None else change.content,
        state.place,
    )


def _check_correction(
    session: Session, current: RecordState, target: RecordState, now: datetime
) -> None:
    """The rules of `land_records`, for the record as it would be after the correction."""
    if target.minutes < 0 or target.minutes > DAY_MINUTES:
        raise _refuse("更正后的时长无效 / the corrected hours are out of range", "bad_hours")
    if target == current:
        raise _refuse("没有需要更正的内容 / nothing to correct", "nothing_to_amend")
    moved = (target.service_date, target.started_at, target.ended_at, target.category_code) != (
        current.service_date, current.started_at, current.ended_at, current.category_code,
    )  # fmt: skip
    if target.minutes == 0:
        if moved:
            raise _refuse(
                "作废的记录不能再改日期或时间 / a voided record keeps its date and times",
                "non_positive_hours",
            )
        return
    _check_times(target.service_date, target.started_at, target.ended_at, now)
    if target.started_at is not None and target.ended_at is not None:
        span = (target.ended_at - target.started_at).total_seconds() / 60
        if target.minutes > span + 0.5:
            raise _refuse(
                "服务时长超过起止时间 / hours exceed the time between start and end",
                "hours_exceed_times",
            )
    volunteer_id = current.record.volunteer_id
    day = _day_minutes(session, {(volunteer_id, target.service_date)}).get(
        (volunteer_id, target.service_date), 0
    )
    if target.service_date == current.service_date:
        day -= current.minutes
    if day + target.minutes > DAY_MINUTES:
        raise _day_limit(volunteer_id, target.service_date)
    if _overlaps(
        session, volunteer_id, target.started_at, target.ended_at, besides=current.record.id
    ):
        raise _overlap(volunteer_id)


def _amendment_row(
    state: RecordState, minutes: int, source: RecordSource, reason: str, actor_id: uuid.UUID,
    at: datetime,
) -> ServiceRecord:  # fmt: skip
    record = state.record
    return ServiceRecord(
        volunteer_id=record.volunteer_id,
        team_id=record.team_id,
        source=source.value,
        category_code=state.category_code,
        region_code=record.region_code,
        service_date=state.service_date,
        started_at=state.started_at,
        ended_at=state.ended_at,
        minutes=minutes,
        content=state.content,
        place=state.place,
        recorded_by_id=actor_id,
        amends_id=record.id,
        reason=reason,
        created_at=at,
    )


def amend(
    session: Session,
    settings: Settings,
    record: ServiceRecord,
    change: Correction,
    *,
    reason: str,
    actor_id: uuid.UUID,
    now: datetime | None = None,
) -> list[ServiceRecord]:
    """Append a correction: the original stays as it was. A change of hours or content is one
    amendment carrying the difference in minutes (0 voids the record) and the corrected state;
    a change of date, times or category also reverses the current minutes where they are, so
    that the period totals move from the old day to the new one. Returns the rows appended,
    the amendment last. Flushes; the caller commits."""
    if record.amends_id is not None:
        raise _refuse("请更正原始记录 / amend the original record", "amend_the_original")
    now = now or utcnow()
    people = _lock_volunteers(session, {record.volunteer_id}, {record.team_id})
    current = current_state(session, record)
    target = _corrected(current, change)
    _check_correction(session, current, target, now)
    relocated = (target.service_date, target.category_code) != (
        current.service_date,
        current.category_code,
    )
    rows = []
    if relocated and current.minutes:
        rows.append(
            _amendment_row(current, -current.minutes, RecordSource.REVERSAL, reason, actor_id, now)
        )
    delta = target.minutes if relocated else target.minutes - current.minutes
    rows.append(_amendment_row(target, delta, RecordSource.AMENDMENT, reason, actor_id, now))
    for row, row_id in zip(rows, sorted(new_id() for _ in rows), strict=True):
        row.id = row_id  # the reversal first, also within one millisecond
    session.add_all(rows)
    session.flush()
    region = people[record.volunteer_id][1] if record.volunteer_id in people else record.region_code
    team_region = _team_regions(session, {record.team_id})[record.team_id]
    movements = [totals.Movement(record.volunteer_id, region, record.team_id, team_region,
                                 row.service_date, row.minutes, 0) for row in rows]  # fmt: skip
    if target.service_date != current.service_date:  # the record itself counts on its new day
        movements += [
            totals.Movement(record.volunteer_id, region, record.team_id, team_region, day, 0, n)
            for day, n in ((current.service_date, -1), (target.service_date, 1))
        ]
    points.earn_for_records(session, rows)  # balances before totals (`totals.Tally`)
    totals.apply(session, movements)
    stars.auto_grant(session, settings, [record.volunteer_id])
    return rows
