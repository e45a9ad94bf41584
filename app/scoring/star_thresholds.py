"""Star thresholds per jurisdiction: the nearest region (itself or an ancestor) with thresholds
decides; `DIANDAN_STAR_THRESHOLDS_HOURS` applies where none has. Platform admins set them
anywhere, an admin whose site is at county level or above within their own subtree."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.audit import service as audit
from app.auth.principal import Principal
from app.common.clock import utcnow
from app.common.refcache import cached
from app.config import Settings
from app.errors import Forbidden, Invalid, NotFound
from app.regions.codes import RegionLevel, ancestors, in_subtree, level_of
from app.scoring.star_models import StarThresholds

MAX_LEVELS = 10


@dataclass(frozen=True)
class Effective:
    hours: tuple[int, ...]
    source_region_code: str | None  # None: the setting


_ALL = sa_select(col(StarThresholds.region_code), col(StarThresholds.hours))


def _all(session: Session) -> dict[str, tuple[int, ...]]:
    """Every region's own thresholds (a row per region that set them: a short table)."""
    rows = session.connection().execute(_ALL).all()
    return {code: tuple(hours) for code, hours in rows}


def effective(session: Session, settings: Settings, region_code: str | None) -> Effective:
    """The thresholds of the nearest region that has them. Asked with every landed record, so
    the table is remembered for a few seconds (`refcache`; a change of thresholds in this
    process drops it at once)."""
    if region_code is not None:
        own = cached(session, ("star_thresholds",), lambda: _all(session))
        for code in (region_code, *ancestors(region_code)):
            if code in own:
                return Effective(own[code], code)
    return Effective(tuple(settings.star_thresholds_hours), None)


def check_hours(hours: list[int]) -> list[int]:
    if (
        not 1 <= len(hours) <= MAX_LEVELS
        or any(h <= 0 for h in hours)
        or hours != sorted(set(hours))
    ):
        raise Invalid(
            f"门槛须为1到{MAX_LEVELS}个递增的正整数小时 / thresholds must be 1 to {MAX_LEVELS} "
            "ascending positive whole hours",
            code="bad_thresholds",
        )
    return hours


def _require_editor(actor: Principal, region_code: str) -> None:
    scope = actor.admin_scope
    if scope.everything:
        return
    if not scope.covers(region_code):
        raise Forbidden("该区划不在您的辖区内 / outside your region", code="outside_scope")
    if not any(
        in_subtree(region_code, root) and level_of(root) <= RegionLevel.COUNTY
        for root in scope.roots
    ):
        raise Forbidden(
            "只有县级及以上管理员可以设置星级门槛 / county-level admins and above only",
            code="county_admin_required",
        )


def put(session: Session, actor: Principal, region_code: str, hours: list[int]) -> StarThresholds:
    _require_editor(actor, region_code)
    row = session.get(StarThresholds, region_code) or StarThresholds(
        region_code=region_code, hours=[], updated_by_id=actor.id
    )
    row.hours, row.updated_by_id, row.updated_at = check_hours(hours), actor.id, utcnow()
    session.add(row)
    audit.record(
        session,
        actor_id=actor.id,
        action="stars.thresholds",
        subject_type="region",
        subject_id=region_code,
        detail={"hours": ",".join(map(str, hours))},
    )
    session.flush()
    return row


def remove(session: Session, actor: Principal, region_code: str) -> None:
    _require_editor(actor, region_code)
    gone = session.execute(
        delete(StarThresholds).where(col(StarThresholds.region_code) == region_code)
    ).rowcount  # type: ignore[attr-defined]
    if not gone:
        raise NotFound(
            "该区划未单独设置门槛 / this region has no thresholds of its own",
            code="thresholds_not_found",
        )
    audit.record(
        session,
        actor_id=actor.id,
        action="stars.thresholds.removed",
        subject_type="region",
        subject_id=region_code,
    )
    session.flush()
