"""The certificate as a PDF: A4, Chinese text in the standard CJK font STSong-Light (a PDF
base font that readers supply, so nothing is embedded), and a QR code of the verification URL,
embedded as a lossless black-and-white image (QR_SCALE pixels a module, a quiet zone of
QR_BORDER modules)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from reportlab.graphics.barcode import qrencoder
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
QR_SCALE = 4
QR_BORDER = 4
QR_SIZE = 110  # points on the page


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code's modules (True: dark), error correction level M."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    return [[bool(module) for module in row] for row in code.modules]


def qr_image(text: str) -> Image.Image:
    modules = qr_modules(text)
    side = (len(modules) + 2 * QR_BORDER) * QR_SCALE
    image = Image.new("1", (side, side), 1)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                left, top = (c + QR_BORDER) * QR_SCALE, (r + QR_BORDER) * QR_SCALE
                image.paste(0, (left, top, left + QR_SCALE, top + QR_SCALE))
    return image


def render(content: dict[str, Any], verify_url: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setTitle(f"{content['title']} {content['number']}")
    width, height = A4
    y = height - 80
    page.setFont(FONT, 22)
    page.drawCentredString(width / 2, y, content["title"])
    page.setFont(FONT, 11)
    y -= 40
    v = content["volunteer"]
    period = content["period"]
    lines = [
        f"证明编号:{content['number']}    出具日期:{content['issued_on']}",
        f"姓名:{v['name']}    证件类型:{v['id_type'] or '—'}    证件号码:{v['id_number'] or '—'}",
        f"志愿者编号:{v['volunteer_code']}",
        f"记录期间:{period['from'] or '注册以来'} 至 {period['to']}",
        f"累计志愿服务时长:{content['total_hours']} 小时({content['service_time_rule']})",
        "",
    ]
    for year in content["by_year"]:
        lines.append(f"{year['year']}年:{year['hours']} 小时")
        lines.extend(f"    {s['content']}:{s['hours']} 小时" for s in year["services"])
    issuer = content["issuer"]
    lines += [
        "",
        "特此证明。",
        f"出具单位:{issuer['organisation']}",
        f"负责人:{issuer['person_in_charge'] or '—'}    经办人:{issuer['handler']}",
        f"联系方式:{issuer['contact'] or '—'}",
        f"备注:{content.get('notes') or '—'}",
        f"验证码:{content['verification_code']}(扫描二维码或访问 {verify_url} 核验)",
    ]
    for line in lines:
        if y < 80:
            page.showPage()
            page.setFont(FONT, 11)
            y = height - 80
        page.drawString(60, y, line)
        y -= 20
    page.drawImage(ImageReader(qr_image(verify_url)), width - 170, 60, QR_SIZE, QR_SIZE)
    page.save()
    return buffer.getvalue()
