"""Certificates: contents, a PDF whose Chinese text extracts, public verification, forgery."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from reportlab.graphics.barcode import qrencoder
from sqlmodel import Session, select

from app.accounts.models import User
from app.certificates.models import Certificate
from app.certificates.pdf import QR_BORDER, QR_SCALE
from app.config import Settings
from tests.factories import Factory
from tests.records.conftest import OrderWorld
from tests.records.test_ledger import entry, post

ISSUE = {"person_in_charge": "张主任", "contact": "0359-1234567", "notes": "用于入学材料"}


def issue(
    client: TestClient, make: Factory, ow: OrderWorld, user: User | None = None
) -> dict[str, Any]:
    w = ow.world
    post(client, make, w.leader, entry(w, hours=2.5, service_date=date(2025, 6, 1).isoformat()))
    post(client, make, w.leader, entry(w, hours=1, category_code="legal_aid"))
    response = client.post(
        f"/api/v1/volunteers/{w.member_volunteer.id}/certificates",
        json=ISSUE,
        headers=make.headers(user or w.member),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_certificate_states_what_the_guidance_lists(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    certificate = issue(client, make, ow)
    content = certificate["content"]
    assert content["volunteer"]["name"] == "李队员"
    assert content["volunteer"]["id_type"] == "居民身份证"
    assert "*" in content["volunteer"]["id_number"]
    assert content["total_hours"] == 3.5
    assert [y["year"] for y in content["by_year"]] == [2025, date.today().year]
    assert content["issuer"]["person_in_charge"] == "张主任"
    assert content["issuer"]["contact"] == "0359-1234567"
    assert content["notes"] == "用于入学材料"
    assert content["issuer"]["handler"] == "李队员"
    assert content["issuer"]["organisation"]
    assert content["number"].startswith("ZYFW")


def test_the_pdf_carries_the_chinese_text(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    certificate = issue(client, make, ow)
    response = client.get(certificate["pdf_url"], headers=make.headers(ow.world.member))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    for phrase in ("志愿服务记录证明", "李队员", "累计志愿服务时长", "3.5 小时", "张主任",
                   "0359-1234567", "备注", "用于入学材料"):  # fmt: skip
        assert phrase in text, phrase
    assert certificate["content"]["verification_code"] in text


def test_verification_is_public_and_catches_alteration(
    ow: OrderWorld, client: TestClient, make: Factory, db: Session
) -> None:
    certificate = issue(client, make, ow)
    code = certificate["code"]
    verdict = client.get(f"/api/v1/certificates/{code}/verify").json()
    assert verdict["valid"] is True
    assert verdict["name"] == "李**"
    assert verdict["total_hours"] == 3.5
    assert "id_number" not in str(verdict)
    document = {"content": certificate["content"], "signature": certificate["signature"]}
    assert client.post("/api/v1/certificates/verify", json=document).json()["valid"] is True
    forged = dict(certificate["content"], total_hours=350)
    refused = client.post(
        "/api/v1/certificates/verify", json={**document, "content": forged}
    ).json()
    assert refused == {"valid": False, "number": None, "issued_on": None, "name": None,
                       "total_hours": None, "period": None, "organisation": None}  # fmt: skip
    assert client.get("/api/v1/certificates/NOSUCHCODE12/verify").status_code == 404
    stored = db.exec(select(Certificate)).one()
    stored.content = dict(stored.content, total_hours=350)
    db.add(stored)
    db.flush()
    assert client.get(f"/api/v1/certificates/{code}/verify").json()["valid"] is False


def test_only_the_volunteer_and_admins_over_them_issue_and_read(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    w = ow.world
    by_admin = issue(client, make, ow, w.station_admin)
    url = f"/api/v1/volunteers/{w.member_volunteer.id}/certificates"
    assert client.post(url, json=ISSUE, headers=make.headers(w.leader)).status_code == 403
    other = make.world("140803000000")
    for user in (other.center_admin, other.member, w.resident):
        assert client.post(url, json=ISSUE, headers=make.headers(user)).status_code == 404
        pdf = client.get(by_admin["pdf_url"], headers=make.headers(user))
        assert pdf.status_code == 404
    bad = client.post(
        url,
        json={**ISSUE, "since": "2026-05-01", "until": "2026-01-01"},
        headers=make.headers(w.member),
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "bad_period")


def test_the_person_in_charge_and_the_contact_are_required(
    ow: OrderWorld, client: TestClient, make: Factory
) -> None:
    w = ow.world
    url = f"/api/v1/volunteers/{w.member_volunteer.id}/certificates"
    for missing in ("person_in_charge", "contact"):
        for body in ({k: v for k, v in ISSUE.items() if k != missing}, {**ISSUE, missing: ""}):
            response = client.post(url, json=body, headers=make.headers(w.member))
            assert response.status_code == 422, body
            assert response.json()["code"] == "validation_error"
            assert missing in str(response.json()["errors"])
    without_notes = {k: v for k, v in ISSUE.items() if k != "notes"}
    response = client.post(url, json=without_notes, headers=make.headers(w.member))
    assert response.status_code == 201
    assert response.json()["content"]["notes"] == ""


def modules_in(image: Image.Image) -> list[list[bool]]:
    """Read the modules back from the embedded image: sample each module's centre."""
    grey = image.convert("L")
    count = grey.width // QR_SCALE - 2 * QR_BORDER
    centre = [(i + QR_BORDER) * QR_SCALE + QR_SCALE // 2 for i in range(count)]
    return [[_dark(grey.getpixel((x, y))) for x in centre] for y in centre]


def _dark(pixel: object) -> bool:
    assert isinstance(pixel, int)
    return pixel < 128


def reference_modules(text: str) -> list[list[bool]]:
    """The QR matrix of `text`, built here from the encoder, not through app code."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    return [[bool(m) for m in row] for row in code.modules]


def test_the_pdf_carries_a_qr_code_of_the_verification_url(
    ow: OrderWorld, client: TestClient, make: Factory, settings: Settings
) -> None:
    certificate = issue(client, make, ow)
    response = client.get(certificate["pdf_url"], headers=make.headers(ow.world.member))
    [embedded] = PdfReader(io.BytesIO(response.content)).pages[0].images
    assert embedded.image is not None
    found = modules_in(embedded.image)
    verify_url = f"{settings.public_base_url}/api/v1/certificates/{certificate['code']}/verify"
    assert certificate["verify_url"] == verify_url
    assert found == reference_modules(verify_url)
    assert found != reference_modules(verify_url.replace(certificate["code"], "A" * 12))
    verdict = client.get(verify_url.removeprefix(settings.public_base_url)).json()
    assert verdict["valid"] is True
