"""The national system's columns (全国技术合同管理与服务系统 / 技术合同登记表): the export writes them, the importer
(importer.py) reads them, so an export re-imports to the same records.

Amounts are in 万元 with six decimals (exact to the fen: 468799.50 元 is 46.879950 万元); codes are written as
codes (法人性质 022, 知识产权类型 3, ...; the code tables are 系统管理 › 登记表代码); 国别 is ISO 3166-1 alpha-2;
行政区划代码 is GB/T 2260. The platform's own columns (区域 on the city's tree, the 高新技术领域) follow the national
ones. The README's mapping table lists every column.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from ..models import Contract
from ..money import WAN

SIX = Decimal("0.000001")


def wan6(value: Decimal | None) -> str:
    return "" if value is None else f"{(value / WAN).quantize(SIX)}"


def _date(value) -> str:
    return value.isoformat() if value else ""


# (header, importer key, value of a contract); the importer maps each header to its key (importer.COLUMNS)
EXPORT_COLUMNS: list[tuple[str, str, object]] = [
    ("合同登记编号", "registration_no", lambda c: c.registration_no),
    ("项目名称", "title", lambda c: c.title),
    ("合同类别", "type", lambda c: c.type_label),
    ("合同子类", "subtype", lambda c: c.subtype_label),
    ("合同签订日期", "signed_on", lambda c: _date(c.signed_on)),
    ("合同有效期起", "term_start", lambda c: _date(c.term_start)),
    ("合同有效期止", "term_end", lambda c: _date(c.term_end)),
    ("卖方名称", "seller", lambda c: c.seller_org.name),
    ("卖方国别代码", "seller_country", lambda c: c.seller_country),
    ("卖方行政区划代码", "seller_division", lambda c: c.seller_division or ""),
    ("卖方性质", "seller_legal_form", lambda c: c.seller_legal_form or ""),
    ("卖方所在地", "seller_place_label", lambda c: c.seller_place),  # for people; the importer reads the codes
    ("买方名称", "buyer", lambda c: c.buyer_org.name),
    ("买方国别代码", "buyer_country", lambda c: c.buyer_country),
    ("买方行政区划代码", "buyer_division", lambda c: c.buyer_division or ""),
    ("买方性质", "buyer_legal_form", lambda c: c.buyer_legal_form or ""),
    ("买方所在地", "buyer_place_label", lambda c: c.buyer_place),
    ("合同成交额（万元）", "amount_wan", lambda c: wan6(c.amount)),
    ("技术交易额（万元）", "tech_amount_wan", lambda c: wan6(c.tech_amount)),
    ("设备费（万元）", "nontech_equipment_wan", lambda c: wan6(c.nontech_equipment)),
    ("原材料费（万元）", "nontech_materials_wan", lambda c: wan6(c.nontech_materials)),
    ("其他非技术费用（万元）", "nontech_other_wan", lambda c: wan6(c.nontech_other)),
    ("知识产权类型", "ip_type", lambda c: c.ip_type or ""),
    ("登记技术领域", "reg_field", lambda c: c.reg_field or ""),
    ("计划来源", "plan_source", lambda c: c.plan_source or ""),
    ("社会经济目标", "socio_goal", lambda c: c.socio_goal or ""),
    ("预计新增投入（万元）", "expected_investment_wan", lambda c: wan6(c.expected_investment)),
    ("预计新增产值（万元）", "expected_output_wan", lambda c: wan6(c.expected_output)),
    # the platform's own columns
    ("卖方区域", "seller_region", lambda c: c.seller_region.code if c.seller_region else ""),
    ("买方区域", "buyer_region", lambda c: c.buyer_region.code if c.buyer_region else ""),
    ("技术领域", "field", lambda c: c.field.code if c.field else ""),
    ("状态", "state", lambda c: "已作废" if c.voided else "有效"),
]
HEADERS = [header for header, _, _ in EXPORT_COLUMNS]


def escape_cell(value) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ tab or CR is prefixed with '
    (the importer takes the quote off again)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def unescape_cell(text: str) -> str:
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r") else text


def rows(contracts) -> list[list[str]]:
    return [[escape_cell(value(c)) for _, _, value in EXPORT_COLUMNS] for c in contracts]


def to_csv(contracts) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    writer.writerows(rows(contracts))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(contracts) -> bytes:
    """One sheet: the header in row 1 (frozen), every cell as text so that amounts and codes stay as written."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "技术合同"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows(contracts):
        ws.append(row)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.number_format = "@"
    ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def contract_values(contract: Contract) -> dict[str, object]:
    """Every field the export carries, as stored (the round-trip test compares these)."""
    return {key: value(contract) for _, key, value in EXPORT_COLUMNS}
