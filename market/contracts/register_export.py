"""The contract register as people read it (issue 17 item 8): 万元 with two decimals and the exact 元 beside each
amount, title rows (title, 统计期间, 区域, 填报单位, 金额单位, 填报日期), a frozen header, and a 合计 row of the
contracts that count in the official figures (registered, not voided), exact to the fen in its 元 columns.

The national-columns export (national.py) stays the machine format the importer reads back.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from ..dashboard import exports
from ..extensions import db
from ..models import Payment, User
from ..money import exact_sum, join_sum

HEADERS = ["合同登记编号", "合同名称", "合同类型", "买方", "买方所在地", "卖方", "卖方所在地", "签订日期",
           "合同成交额（元）", "技术交易额（元）", "已到账（元）", "技术领域", "登记状态", "状态"]
REG_LABELS = {"registered": "已登记", "submitted": "待登记", "returned": "已退回", "refused": "不予登记"}
CHUNK = 500


def paid_by_contract(ids: list[int]) -> dict[int, Decimal]:
    """The exact sum of payments of each contract, summed in SQL (two parts each, as every total)."""
    out: dict[int, Decimal] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        rows = db.session.execute(select(Payment.contract_id, *exact_sum(Payment.amount, "paid"))
                                  .where(Payment.contract_id.in_(part)).group_by(Payment.contract_id))
        for row in rows:
            out[row.contract_id] = join_sum(row.paid_hi, row.paid)
    return out


def scope_label(user: User) -> str:
    if user.role == "official" and user.region is not None:
        return user.region.name
    if user.role == "broker":
        return "本人经办的合同"
    if user.role == "admin":
        return "全部区域"
    return user.org.name if user.org is not None else "—"


def register_table(contracts, *, user: User, filters: dict) -> exports.Table:
    year = filters.get("year")
    period = f"{year}年" if year else "全部年份"
    place = scope_label(user)
    table = exports.Table(filename=f"技术合同登记台账_{place}_{period}", title="技术合同登记台账", headers=HEADERS,
                          place=place, period=period)
    contracts = list(contracts)
    paid = paid_by_contract([c.id for c in contracts])
    zero = Decimal("0.00")
    total = {"n": 0, "amount": zero, "tech": zero, "paid": zero}
    for c in contracts:
        got = paid.get(c.id, zero)
        table.rows.append([
            c.registration_no, c.title, c.type_label, c.buyer_org.name, c.buyer_place, c.seller_org.name,
            c.seller_place, c.signed_on.isoformat(), c.amount, c.tech_amount, got,
            c.field.name if c.field else "", REG_LABELS.get(c.reg_status, c.reg_status),
            "已作废" if c.voided else "有效",
        ])
        if not c.voided and c.reg_status == "registered":
            total["n"] += 1
            total["amount"] += c.amount
            total["tech"] += c.tech_amount
            total["paid"] += got
    table.rows.append([f"合计（已登记的有效合同 {total['n']} 份）", "", "", "", "", "", "", "",
                       total["amount"], total["tech"], total["paid"], "", "", ""])
    filters_text = "，".join(f"{label}：{value}" for label, value in (
        ("关键词", filters.get("q")), ("合同类型", filters.get("type_label")), ("状态", filters.get("state_label")))
        if value)
    if filters_text:
        table.notes.append(f"筛选条件：{filters_text}。")
    table.notes.append("合计只计已登记、未作废的合同（与数据看板口径一致）；“（元）”列为精确到分的金额。")
    return table


def filer(user: User) -> str:
    """填报单位: an official's 科学技术局 (or REPORT_FILER); otherwise the user's organisation."""
    from ..dashboard.reports import filer as region_filer

    if user.role == "official":
        return region_filer(user.region)
    return region_filer(None) or (user.org.name if user.org is not None else "")


def made_on() -> date:
    from ..dashboard.queries import today

    return today()
