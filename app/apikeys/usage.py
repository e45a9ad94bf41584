"""The usage log of API keys: a counter per key, UTC day and scope, upserted in a transaction of
its own (most key calls are reads, whose transaction is rolled back), the key's last use and
address, and a structured log line per call."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from app.apikeys.models import ApiKey, ApiKeyUsage
from app.auth.principal import ApiKeyGrant
from app.db import open_session

log = logging.getLogger("app.apikeys.usage")
# `last_used_at` is written at most this often per key (or when the address changes); the
# per-day counter is exact.
USE_WRITE_INTERVAL = timedelta(minutes=1)
_USAGE = ApiKeyUsage.__table__  # type: ignore[attr-defined]


@cache
def _count(dialect_name: str) -> Any:
    """Count one call, creating the day's row at the first (built once per dialect)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(_USAGE).values(
        api_key_id=bindparam("key"),
        day=bindparam("day"),
        scope=bindparam("scope"),
        calls=1,
        first_at=bindparam("at"),
        last_at=bindparam("at"),
        last_ip=bindparam("ip"),
    )
    return stmt.on_conflict_do_update(
        index_elements=["api_key_id", "day", "scope"],
        set_={
            "calls": _USAGE.c.calls + 1,
            "last_at": stmt.excluded.last_at,
            "last_ip": stmt.excluded.last_ip,
        },
    )


def note_use(
    factory: sessionmaker[Session],
    grant: ApiKeyGrant,
    *,
    scope: str,
    ip: str | None,
    path: str,
    now: datetime,
) -> None:
    """Log and count one call of a key, and note its last use."""
    log.info(
        "api_key.used key=%s scope=%s ip=%s path=%s",
        grant.id,
        scope,
        ip,
        path,
        extra={"api_key_id": str(grant.id), "scope": scope, "ip": ip, "path": path},
    )
    ip = ip[:45] if ip else None
    with open_session(factory, write=True) as session:
        session.execute(
            _count(session.get_bind().dialect.name),
            {"key": grant.id, "day": now.date(), "scope": scope, "at": now, "ip": ip},
        )
        stale = grant.last_used_at is None or now - grant.last_used_at >= USE_WRITE_INTERVAL
        if stale or ip != grant.last_used_ip:
            session.execute(
                update(ApiKey)
                .where(
                    col(ApiKey.id) == grant.id,
                    or_(
                        col(ApiKey.last_used_at).is_(None),
                        col(ApiKey.last_used_at) < now - USE_WRITE_INTERVAL,
                        col(ApiKey.last_used_ip).is_distinct_from(ip),
                    ),
                )
                .values(last_used_at=now, last_used_ip=ip)
            )
        session.commit()


def usage(session: Session, api_key_id: uuid.UUID, *, since: date) -> list[ApiKeyUsage]:
    """The key's counters from `since` on, newest day first."""
    return list(
        session.exec(
            select(ApiKeyUsage)
            .where(col(ApiKeyUsage.api_key_id) == api_key_id, col(ApiKeyUsage.day) >= since)
            .order_by(col(ApiKeyUsage.day).desc(), col(ApiKeyUsage.scope))
        ).all()
    )
