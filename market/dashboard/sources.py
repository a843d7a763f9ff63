"""成交来源 (issue 19 section 4): the registered contracts of a region and period by the source of their deal, by the
agency and by the broker who worked it, each table adding up to the dashboard's total to the fen.

The same contracts as the dashboard's figures (stats.live_contracts: registered, not voided; signed in the period;
the side's party in the region) are grouped by their deal, read straight from the contracts table; a contract
recorded without a deal counts under 无对接记录, so that every table's total row is the dashboard's total.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import case, func, literal, or_, select

from ..extensions import db
from ..models import Contract, Deal, Organization, Region, User
from ..models.deal import DEAL_SOURCES
from ..money import exact_sum, join_sum
from .stats import ZERO, Period, live_contracts, region_ids_under

SIDES = {"e": "本区域合计（每份合同计一次）", "b": "吸纳（买方在本区域）", "s": "输出（卖方在本区域）"}
NO_DEAL = "无对接记录"
NO_DEAL_KEY = -1  # agency and broker keys: the contract has no deal
NONE_KEY = 0  # the deal has no agency, or no broker
TOP = 20  # agencies and brokers listed by name; the rest are summed in one 其他 row


@dataclass
class SourceRow:
    key: object
    name: str
    n: int = 0
    amount: Decimal = ZERO
    tech_amount: Decimal = ZERO
    others: int = 0  # on the 其他 row: how many agencies or brokers it sums


@dataclass
class SourceTable:
    rows: list[SourceRow] = field(default_factory=list)
    total: SourceRow = field(default_factory=lambda: SourceRow(None, "合计"))


def _side_condition(scope: Region | None, side: str):
    columns = {"b": Contract.buyer_region_id, "s": Contract.seller_region_id}
    on = ("b", "s") if side == "e" else (side,)
    if scope is None:  # everything: a party outside the city (no region) is on no side
        conditions = [columns[x].is_not(None) for x in on]
    else:
        inside = region_ids_under(scope)
        conditions = [columns[x].in_(inside) for x in on]
    return or_(*conditions) if len(conditions) > 1 else conditions[0]


def _deal_key(column):
    """-1: the contract has no deal; 0: the deal has none of this; else the id."""
    return case((Contract.deal_id.is_(None), literal(NO_DEAL_KEY)), else_=func.coalesce(column, NONE_KEY))


def grouped(*, scope: Region | None, period: Period, side: str) -> list:
    """(source, agency key, broker key, n, amount, tech_amount) over the counted contracts of the scope and period:
    one statement, from which the three tables are folded (a few rows: one per source, agency and broker met)."""
    keys = (Deal.source.label("source"), _deal_key(Deal.agency_id).label("agency"),
            _deal_key(Deal.broker_id).label("broker"))
    stmt = (
        select(*keys, func.count().label("n"), *exact_sum(Contract.amount, "amount"),
               *exact_sum(Contract.tech_amount, "tech_amount"))
        .select_from(Contract)
        .outerjoin(Deal, Deal.id == Contract.deal_id)
        .where(live_contracts(), Contract.signed_on >= period.start, Contract.signed_on <= period.end,
               _side_condition(scope, side))
        .group_by(*keys)
    )
    return [(r.source, r.agency, r.broker, int(r.n), join_sum(r.amount_hi, r.amount),
             join_sum(r.tech_amount_hi, r.tech_amount)) for r in db.session.execute(stmt)]


def _fold(rows: list, index: int) -> list:
    """(key, n, amount, tech_amount) per value of the key at `index` of grouped()'s rows."""
    out: dict = {}
    for row in rows:
        n, amount, tech = out.get(row[index], (0, ZERO, ZERO))
        out[row[index]] = (n + row[3], amount + row[4], tech + row[5])
    return [(key, *figures) for key, figures in out.items()]


def _table(found: list, names: dict, *, top: int | None = None) -> SourceTable:
    table = SourceTable()
    rows = [SourceRow(key, names.get(key, str(key)), n, amount, tech) for key, n, amount, tech in found]
    named = [r for r in rows if r.key not in (NO_DEAL_KEY, NONE_KEY, None)]
    fixed = [r for r in rows if r.key in (NO_DEAL_KEY, NONE_KEY, None)]
    named.sort(key=lambda r: (-r.amount, -r.n, r.name))
    if top is not None and len(named) > top:
        rest = named[top:]
        other = SourceRow("others", f"其他（{len(rest)}个）", others=len(rest))
        for r in rest:
            other.n += r.n
            other.amount += r.amount
            other.tech_amount += r.tech_amount
        named = named[:top] + [other]
    table.rows = named + sorted(fixed, key=lambda r: -r.key)  # 无服务机构/无经纪人, then 无对接记录
    for r in rows:
        table.total.n += r.n
        table.total.amount += r.amount
        table.total.tech_amount += r.tech_amount
    return table


def by_source(rows: list) -> SourceTable:
    """Every source of the set (zero rows included), and 无对接记录 (grouped()'s rows)."""
    found = {k: (n, a, t) for k, n, a, t in _fold(rows, 0)}
    table = SourceTable()
    for code, label in list(DEAL_SOURCES.items()) + [(None, NO_DEAL)]:
        n, amount, tech = found.pop(code, (0, ZERO, ZERO))
        table.rows.append(SourceRow(code, label, n, amount, tech))
    for code, (n, amount, tech) in found.items():  # cannot happen (a CHECK holds the set); shown, not dropped
        table.rows.append(SourceRow(code, str(code), n, amount, tech))
    for r in table.rows:
        table.total.n += r.n
        table.total.amount += r.amount
        table.total.tech_amount += r.tech_amount
    return table


def by_agency(rows: list, *, top: int | None = TOP) -> SourceTable:
    """By the agency recorded on the deal when its broker took it (the top `top` by amount, the rest as 其他)."""
    found = _fold(rows, 1)
    ids = [k for k, *_ in found if k not in (NO_DEAL_KEY, NONE_KEY)]
    names = dict(db.session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(ids))).all()) if ids else {}
    names.update({NO_DEAL_KEY: NO_DEAL, NONE_KEY: "无服务机构（经纪人不属于服务机构或无经纪人）"})
    return _table(found, names, top=top)


def by_broker(rows: list, *, top: int | None = TOP) -> SourceTable:
    """By the broker responsible for the deal (the top `top` by amount, the rest as 其他)."""
    found = _fold(rows, 2)
    ids = [k for k, *_ in found if k not in (NO_DEAL_KEY, NONE_KEY)]
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    names.update({NO_DEAL_KEY: NO_DEAL, NONE_KEY: "无经纪人"})
    return _table(found, names, top=top)
