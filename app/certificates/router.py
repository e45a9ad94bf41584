from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlmodel import select

from app.auth.deps import AppSettings, CurrentPrincipal
from app.certificates import pdf, service
from app.certificates.models import Certificate
from app.common.identity import mask_name
from app.config import Settings
from app.db import DbSession
from app.errors import PROBLEM_RESPONSES, Forbidden, NotFound
from app.volunteers.service import get_visible

router = APIRouter(tags=["certificates"], responses=PROBLEM_RESPONSES)


class CertificateCreate(BaseModel):
    since: date | None = Field(default=None, description="From this service date (default: all)")
    until: date | None = Field(default=None, description="Up to this date (default: today)")
    person_in_charge: str = Field(min_length=1, max_length=50, description="负责人 (required)")
    contact: str = Field(min_length=1, max_length=50, description="联系方式 (required)")
    notes: str = Field(default="", max_length=200, description="备注")


class CertificateOut(BaseModel):
    id: uuid.UUID
    code: str
    number: str
    issued_at: datetime
    content: dict[str, Any] = Field(description="What the certificate states, as signed")
    signature: str = Field(description="HMAC-SHA256 of the canonical JSON of `content`")
    verify_url: str
    pdf_url: str


class VerifyIn(BaseModel):
    content: dict[str, Any]
    signature: str = Field(max_length=64)


class VerifyOut(BaseModel):
    valid: bool
    number: str | None = None
    issued_on: str | None = None
    name: str | None = Field(default=None, description="Masked")
    total_hours: float | None = None
    period: dict[str, Any] | None = None
    organisation: str | None = None


def _verify_url(settings: Settings, code: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/api/v1/certificates/{code}/verify"


def _out(settings: Settings, certificate: Certificate) -> CertificateOut:
    return CertificateOut(
        id=certificate.id,
        code=certificate.code,
        number=certificate.number,
        issued_at=certificate.issued_at,
        content=certificate.content,
        signature=certificate.signature,
        verify_url=_verify_url(settings, certificate.code),
        pdf_url=f"/api/v1/certificates/{certificate.code}/pdf",
    )


def _by_code(session: DbSession, code: str) -> Certificate:
    found = session.exec(select(Certificate).where(Certificate.code == code.upper())).first()
    if found is None:
        raise NotFound("未找到该证明 / no certificate with this code", code="certificate_not_found")
    return found


@router.post(
    "/volunteers/{volunteer_id}/certificates", response_model=CertificateOut, status_code=201
)
def issue_certificate(
    volunteer_id: uuid.UUID,
    body: CertificateCreate,
    session: DbSession,
    settings: AppSettings,
    caller: CurrentPrincipal,
) -> CertificateOut:
    """Issue a certificate of the volunteer's service record (the volunteer, or an admin over
    them): hours in total and by year with the services, the issuing site, a number, a
    verification code, and a signature. `pdf_url` gives it as a PDF with a QR code."""
    volunteer = get_visible(session, caller, volunteer_id)
    if volunteer.user_id != caller.id and not caller.admin_scope.covers(volunteer.region_code):
        raise Forbidden(
            "只有本人或辖区管理员可以开具 / the volunteer or a site admin only",
            code="not_certificate_issuer",
        )
    certificate = service.issue(
        session,
        settings,
        volunteer=volunteer,
        actor=caller.user,
        since=body.since,
        until=body.until,
        person_in_charge=body.person_in_charge,
        contact=body.contact,
        notes=body.notes,
    )
    session.commit()
    return _out(settings, certificate)


@router.get(
    "/certificates/{code}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def certificate_pdf(
    code: str, session: DbSession, settings: AppSettings, caller: CurrentPrincipal
) -> Response:
    certificate = _by_code(session, code)
    get_visible(session, caller, certificate.volunteer_id)
    body = pdf.render(certificate.content, _verify_url(settings, certificate.code))
    return Response(
        body,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="{certificate.number}.pdf"'},
    )


def _verdict(session: DbSession, content: dict[str, Any], valid: bool) -> VerifyOut:
    if not valid:
        return VerifyOut(valid=False)
    volunteer = content.get("volunteer", {})
    return VerifyOut(
        valid=True,
        number=content.get("number"),
        issued_on=content.get("issued_on"),
        name=mask_name(volunteer.get("name", "")),
        total_hours=content.get("total_hours"),
        period=content.get("period"),
        organisation=content.get("issuer", {}).get("organisation"),
    )


@router.get("/certificates/{code}/verify", response_model=VerifyOut)
def verify_by_code(code: str, session: DbSession, settings: AppSettings) -> VerifyOut:
    """Public, no sign-in: whether a certificate with this code was issued and is unaltered, and
    what it states (the name masked, no ID number)."""
    certificate = _by_code(session, code)
    ok = service.verifies(settings, certificate.content, certificate.signature)
    return _verdict(session, certificate.content, ok)


@router.post("/certificates/verify", response_model=VerifyOut)
def verify_document(body: VerifyIn, session: DbSession, settings: AppSettings) -> VerifyOut:
    """Public: check a certificate's JSON and signature as presented (an altered one fails)."""
    code = str(body.content.get("verification_code", ""))
    stored = session.exec(select(Certificate).where(Certificate.code == code)).first()
    ok = (
        stored is not None
        and service.verifies(settings, body.content, body.signature)
        and service.canonical(body.content) == service.canonical(stored.content)
    )
    return _verdict(session, body.content, ok)
