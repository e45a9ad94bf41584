"""What a certificate states (the contents the national guidance lists), and its signature.

The signature is HMAC-SHA256, under a key derived from `DIANDAN_SECRET_KEY`, over the canonical
JSON of the statement: a certificate whose text was changed, on paper, in a file or in the
database, no longer verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import date
from typing import Any

from sqlalchemy import Integer, cast, extract, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.audit.service import record as audit
from app.auth.principal import Account
from app.catalog.models import Category
from app.certificates.models import Certificate
from app.common.clock import utcnow
from app.config import Settings
from app.errors import Invalid
from app.records.ledger import china_today
from app.records.models import ServiceRecord
from app.regions.codes import ancestors
from app.sites.models import Site
from app.volunteers.models import Volunteer

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand


def _key(settings: Settings) -> bytes:
    return hmac.new(
        settings.secret_key_value.encode(), b"diandan-certificate-v1", "sha256"
    ).digest()


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(settings: Settings, content: dict[str, Any]) -> str:
    return hmac.new(_key(settings), canonical(content), hashlib.sha256).hexdigest()


def verifies(settings: Settings, content: dict[str, Any], signature: str) -> bool:
    return hmac.compare_digest(sign(settings, content), signature)


def issuing_site(session: Session, region_code: str) -> Site | None:
    """The practice site nearest the volunteer: their village's station, else up the tree."""
    chain = [region_code, *ancestors(region_code)]
    sites = {
        s.region_code: s for s in session.exec(select(Site).where(col(Site.region_code).in_(chain)))
    }
    return next((sites[code] for code in chain if code in sites), None)


def _hours_by_year(
    session: Session, volunteer_id: uuid.UUID, since: date | None, until: date
) -> list[dict[str, Any]]:
    year = cast(extract("year", col(ServiceRecord.service_date)), Integer)
    stmt = (
        sa_select(year, col(Category.name_zh), func.sum(col(ServiceRecord.minutes)))
        .join(Category, col(Category.code) == col(ServiceRecord.category_code))
        .where(
            col(ServiceRecord.volunteer_id) == volunteer_id,
            col(ServiceRecord.service_date) <= until,
        )
        .group_by(year, col(Category.name_zh))
        .order_by(year, col(Category.name_zh))
    )
    if since is not None:
        stmt = stmt.where(col(ServiceRecord.service_date) >= since)
    years: dict[int, dict[str, Any]] = {}
    for y, category, minutes in session.execute(stmt).all():
        if not minutes:
            continue
        entry = years.setdefault(int(y), {"year": int(y), "minutes": 0, "services": []})
        entry["minutes"] += int(minutes)
        entry["services"].append({"content": category, "hours": round(int(minutes) / 60, 2)})
    for entry in years.values():
        entry["hours"] = round(entry.pop("minutes") / 60, 2)
    return list(years.values())


def issue(
    session: Session,
    settings: Settings,
    *,
    volunteer: Volunteer,
    actor: Account,
    since: date | None,
    until: date | None,
    person_in_charge: str,
    contact: str,
    notes: str,
) -> Certificate:
    today = china_today()
    until = min(until or today, today)
    if since is not None and since > until:
        raise Invalid("起止日期颠倒 / since is after until", code="bad_period")
    years = _hours_by_year(session, volunteer.id, since, until)
    site = issuing_site(session, volunteer.region_code)
    code = "".join(secrets.choice(ALPHABET) for _ in range(12))
    number = f"ZYFW{today:%Y%m%d}{code[:6]}"
    content: dict[str, Any] = {
        "title": "志愿服务记录证明",
        "number": number,
        "verification_code": code,
        "issued_on": today.isoformat(),
        "volunteer": {
            "name": volunteer.real_name,
            "id_type": "居民身份证" if volunteer.id_number_masked else None,
            "id_number": volunteer.id_number_masked,
            "volunteer_code": volunteer.national_code or str(volunteer.id),
        },
        "period": {"from": since.isoformat() if since else None, "to": until.isoformat()},
        "total_hours": round(sum(y["hours"] for y in years), 2),
        "by_year": years,
        "service_time_rule": "实际服务时长,不含往返路途时间",
        "issuer": {
            "organisation": site.name if site else "点单志愿服务平台",
            "person_in_charge": person_in_charge,
            "handler": actor.display_name,
            "contact": contact,
        },
        "notes": notes,
    }
    certificate = Certificate(
        code=code,
        number=number,
        volunteer_id=volunteer.id,
        content=content,
        signature=sign(settings, content),
        issued_by_id=actor.id,
        issued_at=utcnow(),
    )
    session.add(certificate)
    audit(
        session,
        actor_id=actor.id,
        action="certificate.issue",
        subject_type="volunteer",
        subject_id=volunteer.id,
        detail={"number": number},
    )
    session.flush()
    return certificate
