"""The 登记证明 PDF: reportlab with its built-in CID font STSong-Light (Adobe's Chinese font the reader supplies,
so no font file ships with the site)."""
from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from ..models import Contract
from ..money import format_yuan

FONT = "STSong-Light"


def certificate_lines(contract: Contract) -> list[tuple[str, str]]:
    """What the certificate shows, and all the public verification page shows."""
    point = contract.reg_point
    return [
        ("登记编号", contract.registration_no),
        ("合同名称", contract.title or "（未填写）"),
        ("合同类型", contract.type_label + (f"（{contract.subtype_label}）" if contract.subtype_label else "")),
        ("卖方", contract.seller_org.name),
        ("买方", contract.buyer_org.name),
        ("合同成交额", format_yuan(contract.amount)),
        ("核定技术交易额", format_yuan(contract.tech_amount)),
        ("签订日期", contract.signed_on.isoformat()),
        ("登记机构", point.name if point is not None else ""),
        ("登记日期", contract.registered_on.isoformat() if contract.registered_on else ""),
        ("验证码", contract.reg_verify_code or ""),
    ]


def certificate_pdf(contract: Contract, *, verify_url: str) -> bytes:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle(f"技术合同登记证明 {contract.registration_no}")
    width, height = A4
    pdf.setFont(FONT, 20)
    pdf.drawCentredString(width / 2, height - 90, "技术合同登记证明")
    y = height - 150
    for label, value in certificate_lines(contract):
        pdf.setFont(FONT, 12)
        pdf.drawString(80, y, f"{label}：")
        pdf.drawString(200, y, value[:40])
        if len(value) > 40:
            y -= 18
            pdf.drawString(200, y, value[40:80])
        y -= 28
    pdf.setFont(FONT, 10)
    pdf.drawString(80, y - 10, "经审查，该合同符合技术合同认定规则，予以登记。")
    pdf.drawString(80, y - 30, f"真伪查验：{verify_url}（输入验证码）")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
