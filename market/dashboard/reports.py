"""The report tables T1–T10 (issue 16 item 5): what an official sends upward, built from the dashboard's own reads.

T1, T2 (types), T8 and T9 come from market/dashboard/stats.py, the functions the 总览 page shows; the 登记表's
dimensions (T2's subtypes, T3–T7) through the same pipeline from the trigger-kept summary's 登记表 dims
(models.stats.REG_DIM_SQL, revision a18e01c0ffee: whole months from the summary, partial months from the live
contracts), with the dashboard's sides: 吸纳 = the buyer in the region, 输出 = the seller in the region. Codes and labels come from the reference table reg_codes (inactive codes too, as
market/contracts/regcodes.labels reads them, plus the headings' tree); a contract without a code counts under
未填报, a code the table does not know under its own row, so the leaves always add up to the 合计; a heading
(事业法人 over 科研机构, 高等院校, ...) shows the subtotal of the codes below it, which are indented under it.

Every table is an exports.Table whose amounts are exact 元 Decimals: the .xlsx and .csv show each in 万元 with two
decimals followed by the exact 元 (exports.out_row), and the 报表 tab previews the same object.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import CONTRACT_TYPES, Organization, Region
from ..models.reg_code import RegCode
from . import exports, queries, stats
from .stats import Figures, Period, Row

REPORTS = {
    "T1": "技术合同成交总体情况",
    "T2": "技术合同按合同类型分布",
    "T3": "技术合同按技术领域分布",
    "T4": "技术合同按买卖方法人性质分布",
    "T5": "技术合同按知识产权类型分布",
    "T6": "技术合同按计划来源分布",
    "T7": "技术合同按社会经济目标分布",
    "T8": "技术合同吸纳来源与输出去向",
    "T9": "技术合同月度与季度快报",
    "T10": "技术合同数据核查",
}
UNFILLED = "未填报"
# the 登记表 dimension of each table: (reference kind, the contract's column name, the first header)
DIMENSIONS = {
    "T3": ("reg_field", "reg_field", "技术领域（登记分类）"),
    "T5": ("ip_type", "ip_type", "知识产权类型"),
    "T6": ("plan_source", "plan_source", "计划来源"),
    "T7": ("socio_goal", "socio_goal", "社会经济目标"),
}
# the summary's dim (models.stats.REG_DIM_SQL) of each contract column
SUMMARY_DIM = {"reg_field": "rfield", "ip_type": "ip", "plan_source": "plan", "socio_goal": "goal",
               "seller_legal_form": "lfs", "buyer_legal_form": "lfb"}
CHECK_DETAIL_LIMIT = 1000  # contracts listed per check in T10's .xlsx and CLI file (the counts are always whole)
PREVIEW_DETAIL_LIMIT = 20  # per check on the 报表 page's preview: thousands of rows took it past 2 s at 1,000,000
NOTE_SIDES = "吸纳：买方在本区域；输出：卖方在本区域；买卖双方均在本区域的合同两侧都计入。只计已登记、未作废的合同。"


# --- the 登记表 dimensions, read as the dashboard reads its figures -------------------------------------------

def summary_figures(dim: str, *, scope: Region | None, period: Period) -> dict[str, Row]:
    """{key: Row with 'b' and 's' Figures} for one 登记表 dimension of the summary (models.stats.REG_DIM_SQL:
    'sub', 'rfield', 'lfs', 'lfb', 'ip', 'plan', 'goal'), through the dashboard's own pipeline (stats.source):
    whole months from contract_month_stats, partial months from the contracts table, sums exact at any size."""
    found = stats._pivot(dim, period, stats.Grouping.make("total", scope), "key", True)
    rows = {key: stats._fill(Row(key=key, name=""), record) for key, record in found.items()}
    # a summary row emptied by a void or an edit stays with zeros: it is no code in use
    return {key: row for key, row in rows.items() if not row.is_empty}


def _add_rows(rows: list[Row], *, key=None, name: str = "") -> Row:
    out = Row(key=key, name=name)
    for side in ("b", "s"):
        out.sides[side] = stats._add(*(r[side] for r in rows))
    return out


def _code_rows(kind: str, found: dict[str | None, Row]) -> tuple[list[Row], dict[int, int]]:
    """(rows, indent by row index): every code of the kind in the administrators' order (zero rows too), a
    heading (事业法人, 企业法人) as the subtotal of the codes below it, indented under it; then any code the table
    does not know, then 未填报. The leaves, unknown codes and 未填报 add up to the 合计."""
    codes = db.session.execute(select(RegCode.code, RegCode.label, RegCode.parent_code)
                               .where(RegCode.kind == kind).order_by(RegCode.sort, RegCode.code)).all()
    known = {code for code, _label, _parent in codes}
    children: dict[str | None, list[tuple[str, str]]] = {}
    for code, label, parent in codes:
        children.setdefault(parent if parent in known else None, []).append((code, label))
    rows: list[Row] = []
    indent: dict[int, int] = {}

    def walk(code: str, label: str, depth: int, seen: frozenset) -> list[Row]:
        at = len(rows)
        rows.append(Row(key=code, name=label))
        indent[at] = depth
        below = [found[code]] if code in found else []
        for child, child_label in children.get(code, ()):
            if child not in seen:  # a parent loop typed by an administrator is not followed twice
                below += walk(child, child_label, depth + 1, seen | {child})
        rows[at] = _add_rows(below, key=code, name=label)
        return below

    for code, label in children.get(None, ()):
        walk(code, label, 0, frozenset({code}))
    for code in sorted(c for c in found if c and c not in known):
        row = found[code]
        row.key, row.name = code, f"{code}（未知代码）"
        rows.append(row)
    blank = [found[c] for c in found if not c]
    if blank:
        rows.append(_add_rows(blank, key=None, name=UNFILLED))
    return rows, indent


def by_code(dim: str, kind: str, *, scope: Region | None,
            period: Period) -> tuple[list[Row], dict[int, int]]:
    """吸纳 and 输出 by one 登记表 code of the contract (T3, T5, T6, T7; T4 per party)."""
    return _code_rows(kind, {key or None: row for key, row in summary_figures(dim, scope=scope, period=period).items()})


def by_legal_form(*, scope: Region | None, period: Period) -> tuple[tuple, tuple]:
    """(rows and indent by the seller's 法人性质, the same by the buyer's), each with 吸纳 and 输出 (T4)."""
    return (by_code("lfs", "legal_form", scope=scope, period=period),
            by_code("lfb", "legal_form", scope=scope, period=period))


def by_subtype(*, scope: Region | None, period: Period) -> dict[tuple[str, str], Row]:
    out = {}
    for key, row in summary_figures("sub", scope=scope, period=period).items():
        contract_type, _dot, subtype = key.partition(".")
        out[(contract_type, subtype)] = row
    return out


# --- the tables ----------------------------------------------------------------------------------------------

@dataclass
class Report:
    code: str
    table: exports.Table
    total: Row | None = None  # the 合计 row (T1–T9), what every table's rows add up to
    counts: dict[str, int] = field(default_factory=dict)  # T10: how many each check found


def _table(code: str, headers: list[str], *, place: str, period: Period) -> exports.Table:
    return exports.Table(filename=f"{code}_{REPORTS[code]}_{place}_{period.label}", title=f"{code} {REPORTS[code]}",
                         headers=headers, place=place, period=period.label, unit="万元")


def _side_table(code: str, first: str, rows: list[Row], total: Row, *, place: str, period: Period,
                indent: dict[int, int] | None = None) -> exports.Table:
    table = _table(code, exports._side_headers(first), place=place, period=period)
    for i, row in enumerate(rows):
        table.rows.append(["　" * (indent or {}).get(i, 0) + row.name, *exports._side_cells(row)])
    table.rows.append(["合计", *exports._side_cells(total)])
    table.notes.append(NOTE_SIDES)
    return table


def t1(scope, period, place) -> Report:
    current = stats.totals(scope=scope, period=period)
    previous = stats.totals(scope=scope, period=period.last_year())
    headers = ["口径", "合同数（份）", "成交额（元）", "技术交易额（元）", "去年同期合同数（份）", "去年同期成交额（元）",
               "去年同期技术交易额（元）", "合同数同比（%）", "成交额同比（%）", "技术交易额同比（%）"]
    table = _table("T1", headers, place=place, period=period)
    labels = {"b": "吸纳（买方在本区域）", "s": "输出（卖方在本区域）", "i": "区域内部（双方均在本区域）",
              "e": "涉及本区域（每份计一次）"}
    for side, label in labels.items():
        now, before = current[side], previous[side]
        rates = [queries.growth(getattr(now, m), getattr(before, m)) for m in ("n", "amount", "tech_amount")]
        table.rows.append([label, now.n, now.amount, now.tech_amount, before.n, before.amount, before.tech_amount,
                           *("—" if r is None else f"{r:+.1f}" for r in rates)])
    table.notes.append(f"去年同期：{period.last_year().label}。{NOTE_SIDES}")
    return Report("T1", table, current)


def t2(scope, period, place) -> Report:
    types = stats.by_type(scope=scope, period=period)
    subs = by_subtype(scope=scope, period=period)
    rows, indent = [], {}
    for type_row in types:
        rows.append(type_row)
        label, subtypes = CONTRACT_TYPES[type_row.key]
        if not subtypes:
            continue
        for code, sub_label in [*subtypes.items(), ("", "未细分")]:
            row = subs.get((type_row.key, code))
            if row is None and code == "":
                continue
            row = row or Row(key=code, name="")
            row.key, row.name = f"{type_row.key}.{code}", f"其中：{sub_label}"
            indent[len(rows)] = 1
            rows.append(row)
        for (t, code), row in sorted(subs.items()):  # a subtype no longer listed: still shown
            if t == type_row.key and code and code not in subtypes:
                row.key, row.name = f"{t}.{code}", f"其中：{code}"
                indent[len(rows)] = 1
                rows.append(row)
    total = stats.totals(scope=scope, period=period)
    return Report("T2", _side_table("T2", "合同类型", rows, total, place=place, period=period, indent=indent), total)


def t_code(code: str, scope, period, place) -> Report:
    kind, column, first = DIMENSIONS[code]
    rows, indent = by_code(SUMMARY_DIM[column], kind, scope=scope, period=period)
    total = stats.totals(scope=scope, period=period)
    return Report(code, _side_table(code, first, rows, total, place=place, period=period, indent=indent), total)


def t4(scope, period, place) -> Report:
    sellers, buyers = by_legal_form(scope=scope, period=period)
    total = stats.totals(scope=scope, period=period)
    table = _table("T4", exports._side_headers("法人性质"), place=place, period=period)
    for heading, (rows, indent) in (("按卖方法人性质", sellers), ("按买方法人性质", buyers)):
        table.rows.append([heading])
        for i, row in enumerate(rows):
            table.rows.append(["　" * (1 + indent.get(i, 0)) + row.name, *exports._side_cells(row)])
        table.rows.append(["合计", *exports._side_cells(total)])
    table.notes.append(NOTE_SIDES)
    return Report("T4", table, total)


def t8(scope, period, place) -> Report:
    flows = stats.flows(scope=scope, period=period)
    table = exports.flows_table(flows, place=place, period=period)
    table.filename = f"T8_{REPORTS['T8']}_{place}_{period.label}"
    table.title, table.unit = f"T8 {REPORTS['T8']}", "万元"
    total = Row(key=None, name="合计")
    total.sides["b"], total.sides["s"] = flows.inflow_total, flows.outflow_total
    return Report("T8", table, total)


def t9(scope, period, place) -> Report:
    months = stats.by_month(scope=scope, period=period)
    rows, indent = [], {}
    quarters: dict[tuple[int, int], list[Row]] = {}
    for row in months:
        year, month = (int(x) for x in row.key.split("-"))
        quarters.setdefault((year, (month - 1) // 3 + 1), []).append(row)
    for (year, quarter), members in quarters.items():
        for row in members:
            indent[len(rows)] = 1
            rows.append(row)
        rows.append(_add_rows(members, key=f"{year}-Q{quarter}", name=f"{year}年第{quarter}季度小计"))
    total = stats.totals(scope=scope, period=period)
    table = _side_table("T9", "月份 / 季度", rows, total, place=place, period=period, indent=indent)
    table.notes.append("季度小计为该季度各月之和（统计期间内的月份）。")
    return Report("T9", table, total)


def _listed(check: str, *, scope: Region | None, period: Period, limit: int = CHECK_DETAIL_LIMIT):
    """The first CHECK_DETAIL_LIMIT contracts of a check, as plain rows with the parties' names: the check's own
    statement (queries.check_list, its order) reduced to the columns the table shows. Loading them as objects
    with their organisations cost T10 over a second at 1,000 rows per check."""
    listed = queries.check_list(check, scope=scope, period=period).limit(limit).subquery("listed")
    buyer, seller = aliased(Organization), aliased(Organization)
    return db.session.execute(
        select(listed.c.registration_no, listed.c.title, buyer.name.label("buyer"), seller.name.label("seller"),
               listed.c.signed_on, listed.c.amount, listed.c.tech_amount)
        .join(buyer, buyer.id == listed.c.buyer_org_id).join(seller, seller.id == listed.c.seller_org_id)
        .order_by(*_order_of(check, listed))
    ).all()


def _order_of(check: str, listed) -> tuple:
    if check == "duplicates":
        return (listed.c.signed_on, listed.c.buyer_org_id, listed.c.seller_org_id, listed.c.amount, listed.c.id)
    if check == "large":
        return (listed.c.amount.desc(), listed.c.id.desc())
    return (listed.c.signed_on, listed.c.id)


def t10(scope, period, place, detail_limit: int = CHECK_DETAIL_LIMIT) -> Report:
    counts = queries.check_counts(scope=scope, period=period)
    unplaced = db.session.scalars(queries.orgs_on_city_node(scope).limit(detail_limit)).all()
    unplaced_n = db.session.scalar(select(func.count()).select_from(queries.orgs_on_city_node(scope).subquery()))
    headers = ["核查项", "数量", "登记编号", "合同名称", "买方", "卖方", "签订日期", "成交额（元）", "技术交易额（元）"]
    table = _table("T10", headers, place=place, period=period)
    for check, label in queries.CHECKS.items():
        table.rows.append([label, counts[check]])
    table.rows.append(["仍登记在市本级的单位", unplaced_n])
    table.rows.append([])
    for check, label in queries.CHECKS.items():
        if not counts[check]:
            continue
        for c in _listed(check, scope=scope, period=period, limit=detail_limit):
            table.rows.append([label, "", c.registration_no, c.title, c.buyer, c.seller, c.signed_on.isoformat(),
                               c.amount, c.tech_amount])
        if counts[check] > detail_limit:
            more = "" if detail_limit >= CHECK_DETAIL_LIMIT else \
                f"（下载的 .xlsx 列出前 {CHECK_DETAIL_LIMIT} 份，完整名单见“数据核查”）"
            table.notes.append(f"{label}：共 {counts[check]} 份，表中列出前 {detail_limit} 份{more}。")
    for org in unplaced:
        table.rows.append(["仍登记在市本级的单位", "", "", "", org.name])
    table.notes.append(f"核查范围：{period.label}签订、买方或卖方在{place}的已登记未作废合同；"
                       f"大额合同指成交额不低于 {queries.large_threshold():.2f} 元。")
    return Report("T10", table, None, {**counts, "unplaced": unplaced_n})


BUILDERS = {"T1": t1, "T2": t2, "T4": t4, "T8": t8, "T9": t9, "T10": t10}


def build(code: str, *, scope: Region | None, period: Period, place: str, preview: bool = False) -> Report:
    """The report table `code` (T1–T10) for the scope and period; ValueError for an unknown code. A preview
    (the 报表 page) lists PREVIEW_DETAIL_LIMIT contracts per check in T10 instead of CHECK_DETAIL_LIMIT."""
    if code == "T10" and preview:
        return t10(scope, period, place, PREVIEW_DETAIL_LIMIT)
    if code in DIMENSIONS:
        return t_code(code, scope, period, place)
    if code not in BUILDERS:
        raise ValueError(code)
    return BUILDERS[code](scope, period, place)


def filer(region: Region | None) -> str:
    """填报单位: the configured name, else the region's 科学技术局."""
    from flask import current_app

    configured = current_app.config.get("REPORT_FILER", "")
    if configured:
        return configured
    return f"{region.name}科学技术局" if region is not None else ""


def wan_cell(value) -> str:
    """An amount as the tab previews it: the .xlsx's 万元 with two decimals, with separators."""
    return f"{exports.xlsx_amount(value, '万元'):,.2f}"
