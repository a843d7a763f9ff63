"""Every table a person downloads, as .xlsx or .csv, under one rule (issue 17 item 8).

Both formats open with title rows (the table's title, 统计期间, 区域, 填报单位, 金额单位：万元, 填报日期) above the
header, which is frozen in the .xlsx. Amounts are in 万元 with two decimals, rounded half up from the exact sum (a
total is rounded from the exact total, never added up from rounded rows); every money column (a header ending in
（元）: 成交额, 技术交易额, 到账, targets) is followed by the same amount in exact 元 with two decimals, so the
totals still equal the records to the fen. Counts are whole numbers.

The re-importable machine formats are not built here and keep their own layout: the national-columns export of
the contract register (contracts/national.py, 万元 with six decimals, one header row) and the import template.

Text cells beginning with = + - @ or a tab (or a carriage return) get a leading apostrophe, so that a
spreadsheet never runs an organisation name as a formula (README, "Security and reliability", row 11).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ..divisions import PLACE_CLASSES
from ..models import CONTRACT_TYPES
from ..money import CENT, WAN, format_wan
from . import stats
from .queries import CHECKS, METRICS, MONEY_METRICS, TargetBoard

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SIDE_COLUMNS = (("b", "吸纳"), ("s", "输出"))


def escape_cell(value):
    """A text cell that a spreadsheet could take for a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@dataclass
class Table:
    filename: str  # without extension
    title: str
    headers: list[str]  # a money column's header ends in （元）; its cells are exact 元 Decimals
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    place: str = ""  # 区域
    period: str = ""  # 统计期间 (its label)
    unit: str = "万元"  # the unit people read; the exact 元 follows each money column


YUAN = "（元）"
COUNT_UNITS = ("（份）", "（项）", "（个）", "（家）")


def _cells(value):
    return "" if value is None else value


def _xlsx_value(value):
    value = _cells(value)
    if isinstance(value, str):
        return escape_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def xlsx_amount(value: Decimal, unit: str = "万元") -> Decimal:
    """An amount in 元 as people read it: in 万元 rounded half up to two decimals (or unchanged in 元)."""
    if unit == "万元":
        return (value / WAN).quantize(CENT, rounding=ROUND_HALF_UP)
    return value


def unit_headers(headers: list[str], unit: str) -> list[str]:
    """Headers that name 元 name 万元 (the 报表 tab's preview shows the 万元 columns only)."""
    if unit != "万元":
        return headers
    return [h.replace(YUAN, "（万元）") for h in headers]


def money_columns(headers: list[str]) -> set[int]:
    return {i for i, h in enumerate(headers) if isinstance(h, str) and h.endswith(YUAN)}


def out_headers(headers: list[str]) -> list[str]:
    """Each money column twice: in 万元, then the exact 元."""
    money = money_columns(headers)
    out: list[str] = []
    for i, header in enumerate(headers):
        out += [header[: -len(YUAN)] + "（万元）", header] if i in money else [header]
    return out


def _is_amount(value) -> bool:
    return isinstance(value, (Decimal, int)) and not isinstance(value, bool)


def out_row(headers: list[str], row: list) -> list:
    """A row as exported: money in 万元 (two decimals) and exact 元; a count column whole."""
    money = money_columns(headers)
    out: list = []
    for i, value in enumerate(row):
        if i in money:
            out += [xlsx_amount(Decimal(value)), Decimal(value).quantize(CENT)] if _is_amount(value) \
                else [value, value]
        elif isinstance(value, Decimal) and i < len(headers) and headers[i].endswith(COUNT_UNITS):
            out.append(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)))  # a target's pace: whole
        else:
            out.append(value)
    return out


def title_rows(table: Table, *, filer: str, made_on: date) -> list[list[str]]:
    """The rows above the header: title, then one 'label: value' row each."""
    rows = [[table.title]]
    if table.period:
        rows.append([f"统计期间：{table.period}"])
    if table.place:
        rows.append([f"区域：{table.place}"])
    rows.append([f"填报单位：{filer or table.place or '—'}"])
    rows.append(["金额单位：万元"])
    rows.append([f"填报日期：{made_on.isoformat()}"])
    return rows


def to_csv(table: Table, *, filer: str = "", made_on: date | None = None) -> bytes:
    """The same rows as the .xlsx: title rows, header, rows (万元 and 元 with two decimals, no separators), notes."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in title_rows(table, filer=filer, made_on=made_on or date.today()):
        writer.writerow([escape_cell(v) for v in row])
    writer.writerow([escape_cell(h) for h in out_headers(table.headers)])
    for row in table.rows:
        writer.writerow([f"{v:.2f}" if isinstance(v, Decimal) else escape_cell(_cells(v))
                         for v in out_row(table.headers, row)])
    for note in table.notes:
        writer.writerow([escape_cell(note)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # the BOM lets Excel read UTF-8 Chinese


def to_xlsx(table: Table, *, filer: str = "", made_on: date | None = None) -> bytes:
    """The table as one sheet: title rows, then the header (frozen: it stays in view while scrolling), rows, notes."""
    wb = Workbook()
    ws = wb.active
    ws.title = (table.title[:31] or "Sheet1").translate({ord(c): "_" for c in "\\/?*[]:"})
    for row in title_rows(table, filer=filer, made_on=made_on or date.today()):
        ws.append([_xlsx_value(v) for v in row])
    ws.cell(row=1, column=1).font = Font(bold=True, size=14)
    headers = out_headers(table.headers)
    ws.append([_xlsx_value(h) for h in headers])
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    for row in table.rows:
        values = out_row(table.headers, row)
        ws.append([_xlsx_value(v) for v in values])
        for col, value in enumerate(values, start=1):
            if isinstance(value, Decimal):
                ws.cell(row=ws.max_row, column=col).number_format = "#,##0.00"
            elif isinstance(value, int) and not isinstance(value, bool):
                ws.cell(row=ws.max_row, column=col).number_format = "#,##0"
            elif isinstance(_xlsx_value(value), str):
                ws.cell(row=ws.max_row, column=col).data_type = "s"
    for note in table.notes:
        ws.append([_xlsx_value(note)])
    for col, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(col)].width = max(10, min(40, len(header) * 2 + 4))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- the tables ------------------------------------------------------------------------------------------

def _side_headers(first: str) -> list[str]:
    headers = [first]
    for _side, label in SIDE_COLUMNS:
        headers += [f"{label}合同数（份）", f"{label}成交额（元）", f"{label}技术交易额（元）"]
    return headers


def _side_cells(row: stats.Row) -> list:
    cells = []
    for side, _label in SIDE_COLUMNS:
        f = row[side]
        cells += [f.n, f.amount, f.tech_amount]
    return cells


BREAKDOWN_TITLES = {"type": "按合同类型", "field": "按技术领域", "month": "按月份", "region": "按下级区域"}
BREAKDOWN_FIRST = {"type": "合同类型", "field": "技术领域", "month": "月份", "region": "区域"}


def breakdown_table(by: str, rows: list[stats.Row], total: stats.Row, *, place: str, period: stats.Period) -> Table:
    table = Table(
        filename=f"技术合同{BREAKDOWN_TITLES[by]}_{place}_{period.label}",
        title=BREAKDOWN_TITLES[by],
        headers=_side_headers(BREAKDOWN_FIRST[by]),
        place=place, period=period.label,
    )
    for row in rows:
        table.rows.append([row.name, *_side_cells(row)])
    table.rows.append(["合计", *_side_cells(total)])
    table.notes.append(f"{place} · {period.label}。吸纳：买方在本区域；输出：卖方在本区域；买卖双方均在本区域的合同两侧都计入。作废合同不计。")
    return table


def summary_table(current: stats.Row, previous: stats.Row, growth, *, place: str, period: stats.Period) -> Table:
    """One row per 口径: this period, the same period last year, and the growth, each for 合同数, 成交额, 技术交易额."""
    metrics = (("合同数", "（份）", "n"), ("成交额", "（元）", "amount"), ("技术交易额", "（元）", "tech_amount"))
    last = f"去年同期（{period.last_year().label}）"
    headers = ["口径"]
    headers += [f"{name}{unit}" for name, unit, _ in metrics]
    headers += [f"{last}{name}{unit}" for name, unit, _ in metrics]
    headers += [f"{name}同比增长（%）" for name, _, _ in metrics]
    table = Table(filename=f"技术合同总览_{place}_{period.label}", title=f"总览（{period.label}）", headers=headers,
                  place=place, period=period.label)
    labels = {"b": "吸纳（买方在本区域）", "s": "输出（卖方在本区域）", "i": "区域内部（双方均在本区域）",
              "e": "涉及本区域（每份计一次）"}
    for side, label in labels.items():
        now = [getattr(current[side], metric) for _, _, metric in metrics]
        before = [getattr(previous[side], metric) for _, _, metric in metrics]
        rates = ["—" if (r := growth(a, b)) is None else r for a, b in zip(now, before)]
        table.rows.append([label, *now, *before, *rates])
    return table


def flows_table(flows: stats.Flows, *, place: str, period: stats.Period) -> Table:
    """吸纳 by where the seller is and 输出 by where the buyer is, then each place outside the city."""
    table = Table(filename=f"技术合同流向_{place}_{period.label}", title="吸纳来源与输出去向",
                  headers=["对方所在地", "吸纳合同数（份）", "吸纳成交额（元）", "吸纳技术交易额（元）",
                           "输出合同数（份）", "输出成交额（元）", "输出技术交易额（元）"],
                  place=place, period=period.label)
    for _key, label, inflow, outflow in flows.rows():
        table.rows.append([label, inflow.n, inflow.amount, inflow.tech_amount, outflow.n, outflow.amount,
                           outflow.tech_amount])
    i, o = flows.inflow_total, flows.outflow_total
    table.rows.append(["合计", i.n, i.amount, i.tech_amount, o.n, o.amount, o.tech_amount])
    table.rows.append([])
    for name, label, inflow, outflow in flows.places:
        table.rows.append([f"{name}（{PLACE_CLASSES[label]}）", inflow.n, inflow.amount, inflow.tech_amount,
                           outflow.n, outflow.amount, outflow.tech_amount])
    share = "—" if flows.outside_share is None else f"{flows.outside_share}%"
    f = flows.foreign
    table.notes.append(f"{place} · {period.label}。吸纳按卖方所在地、输出按买方所在地分列（本市、省内其他市、外省、境外）；"
                       f"吸纳成交额中来自市外的占 {share}；涉外合同 {f.n} 份，成交额 {format_wan(f.amount)}"
                       f"（{f.amount:,.2f}元）。作废合同不计。")
    return table


def targets_table(board: TargetBoard, *, place: str) -> Table:
    from ..models.contract import TARGET_METRICS

    headers = ["排名", "区域"]
    for metric in METRICS:
        unit = "元" if metric in MONEY_METRICS else ("份" if metric == "count" else "项")
        label = TARGET_METRICS[metric]
        headers += [f"{label}目标（{unit}）", f"{label}完成（{unit}）", f"{label}完成率（%）", f"{label}应完成（{unit}）"]
    table = Table(filename=f"目标任务与排名_{place}_{board.year}年", title="目标任务", headers=headers,
                  place=place, period=f"{board.year}年")
    rows = ([board.own] if board.own else []) + board.rows
    for row in rows:
        cells = ["本级" if row is board.own else row.rank, row.region.name]
        for metric in METRICS:
            p = row.progress[metric]
            cells += [p.target, p.actual, p.rate, p.expected]
        table.rows.append(cells)
    table.notes.append(
        f"完成情况按买方或卖方在该区域的合同计（区域内部合同只计一次），作废合同不计；"
        f"应完成 = 目标 × 年度已过时间比例（{(board.share * 100).quantize(Decimal('0.1'))}%）。"
    )
    return table


def conversions_table(by_region: list[tuple[str, dict]], total: dict, funnel, *, place: str, period) -> Table:
    table = Table(filename=f"科技成果转化_{place}_{period.label}", title="成果转化",
                  headers=["区域", "吸纳方转化成果（项）", "输出方转化成果（项）", "涉及本区域转化成果（项）"],
                  place=place, period=period.label)
    for name, counts in by_region:
        table.rows.append([name, counts.get("b", 0), counts.get("s", 0), counts.get("e", 0)])
    table.rows.append(["合计", total["b"], total["s"], total["e"]])
    table.rows.append([])
    table.rows.append(["转化漏斗", "数量"])
    for _key, label, count in funnel:
        table.rows.append([label, count])
    return table


def coverage_table(orgs, *, place: str, period) -> Table:
    table = Table(filename=f"产学研一对一未覆盖企业_{place}_{period.label}", title="未覆盖企业",
                  headers=["企业名称", "统一社会信用代码", "所在区域", "联系人", "联系电话"],
                  place=place, period=period.label)
    for org in orgs:
        table.rows.append([org.name, org.uscc or "", org.region.name if org.region else "", org.contact_name,
                           org.contact_phone])
    return table


def checks_table(check: str, contracts, *, place: str, period) -> Table:
    table = Table(filename=f"数据核查_{CHECKS[check]}_{place}_{period.label}", title="数据核查",
                  headers=["登记编号", "合同名称", "合同类型", "买方", "卖方", "签订日期", "成交额（元）",
                           "技术交易额（元）", "技术领域"],
                  place=place, period=period.label)
    for c in contracts:
        table.rows.append([
            c.registration_no, c.title, CONTRACT_TYPES.get(c.contract_type, ("",))[0], c.buyer_org.name,
            c.seller_org.name, c.signed_on.isoformat(), c.amount, c.tech_amount, c.field.name if c.field else "",
        ])
    return table
