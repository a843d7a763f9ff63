"""Contract figures by region, side, period and breakdown: the one aggregation behind the dashboard and the CLI.

All sums are computed by the database over Money columns (integer fen on SQLite, NUMERIC on PostgreSQL),
each in two parts (market.money.exact_sum: whole multiples of 10^7 元, and the rest) joined in Python, so
they come back as exact Decimals however many contracts there are: a single SUM over integer fen overflows
SQLite's int64 past 9.2×10^16 元. Whole months are read from `contract_month_stats` (kept by triggers);
the partial months at the edges of a custom range are read from the contracts table itself, with the very
same grouping, and both are added up in one SQL statement.

Sides: 'b' 吸纳 (the buyer is in the region), 's' 输出 (the seller is in the region), 'i' both parties in the
region (such a contract counts on both sides), and 'e' either party in the region, each contract once
(= b + s - i, also computed in SQL).
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app, has_app_context
from sqlalchemy import (
    Integer, String, and_, case, cast, func, literal, null, or_, select, text, true, type_coerce, union_all,
)
from sqlalchemy.orm import aliased

from ..divisions import (
    FLOW_CLASSES, LOCAL_KEY, PLACE_CLASSES, city_of, division, flow_key_class, flow_key_name, territory_code,
)
from ..extensions import db
from ..models import CONTRACT_TYPES, Contract, Field, Region
from ..models.stats import REG_DIM_SQL, ContractMonthStat, counted, field_root_key, origin_key, reg_dim_key, year_month
from ..money import Money, exact_sum, join_sum

ZERO = Decimal("0.00")
BASE_SIDES = ("b", "s", "i")
BREAKDOWNS = ("total", "type", "field", "month", "region")
# the figures of every row of the pipeline, in this order: a count and each sum in two parts (exact_sum)
FIGURES = ("n", "amount_hi", "amount", "tech_amount_hi", "tech_amount")
NO_FIELD = "未填写领域"


# --- periods ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """An inclusive range of signing dates."""

    start: date
    end: date
    kind: str = "range"  # year | quarter | month | range
    label: str = ""

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31), "year", f"{year}年")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        return cls(date(year, first, 1), _month_end(year, first + 2), "quarter", f"{year}年第{quarter}季度")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), _month_end(year, month), "month", f"{year}年{month}月")

    @classmethod
    def between(cls, start: date, end: date) -> Period:
        return cls(start, end, "range", f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}")

    def last_year(self) -> Period:
        start, end = _minus_year(self.start), _minus_year(self.end)
        if self.kind == "year":
            return Period.year(start.year)
        if self.kind == "quarter":
            return Period.quarter(start.year, (start.month - 1) // 3 + 1)
        if self.kind == "month":
            return Period.month(start.year, start.month)
        if self.end == _month_end(self.end.year, self.end.month):  # a range ending on a month's last day
            end = _month_end(end.year, end.month)
        return Period.between(start, end)

    def months(self) -> list[int]:
        """Every year*100+month the period touches, in order."""
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(y * 100 + m)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    def split(self) -> tuple[tuple[int, int] | None, list[tuple[date, date]]]:
        """(first and last whole month as yyyymm, or None; partial-month edges as date ranges)."""
        first, last = self.start, self.end
        edges: list[tuple[date, date]] = []
        if first.day != 1:
            edge_end = min(last, _month_end(first.year, first.month))
            edges.append((first, edge_end))
            first = edge_end + timedelta(days=1)
        if first > last:
            return None, edges
        if last != _month_end(last.year, last.month):
            edge_start = max(first, last.replace(day=1))
            edges.append((edge_start, last))
            last = edge_start - timedelta(days=1)
        if first > last:
            return None, edges
        return (first.year * 100 + first.month, last.year * 100 + last.month), edges


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _minus_year(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


# --- SQL building blocks ---------------------------------------------------------------------------------

def plan_each_query() -> None:
    """PostgreSQL: plan every dashboard query for its own values, for the rest of this transaction.

    The same statements run for a city and for a town; psycopg prepares a statement after a few runs and
    PostgreSQL may then reuse one generic plan for all of them: measured at 1,000,000 contracts, a county's
    conversions went from 24 ms to over a second that way.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def region_ids_under(region: Region):
    """Ids of the region and everything below it (Region.path LIKE R.path || '%')."""
    return select(Region.id).where(Region.path.startswith(region.path))


def live_contracts():
    """The filter every figure applies: only registered contracts that are not voided count (the one rule,
    market.models.stats.COUNTED_SQL, which the summary triggers apply too)."""
    return counted()


def top_regions(scope: Region | None) -> list[Region]:
    """The scope itself, or every root region for an administrator looking at everything."""
    if scope is not None:
        return [scope]
    return db.session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.sort, Region.code)).all()


def child_regions(scope: Region | None) -> list[Region]:
    if scope is None:
        return top_regions(None)
    stmt = select(Region).where(Region.parent_id == scope.id)
    return db.session.scalars(stmt.order_by(Region.sort, Region.code)).all()


def level_regions(scope: Region | None, level: str) -> list[Region]:
    stmt = select(Region).where(Region.level == level)
    if scope is not None:
        stmt = stmt.where(Region.path.startswith(scope.path))
    return db.session.scalars(stmt.order_by(Region.code)).all()


@dataclass
class Grouping:
    """How contracts are grouped by region: one group for the whole scope ('total'), one per sub-region
    plus the scope's own level ('children'), or one per region of a level plus the rest ('level')."""

    mode: str
    scope: Region | None
    level: str | None = None
    groups: list[Region] = field(default_factory=list)

    @classmethod
    def make(cls, mode: str, scope: Region | None, level: str | None = None) -> Grouping:
        if mode == "children":
            return cls(mode, scope, None, child_regions(scope))
        if mode == "level":
            return cls(mode, scope, level, level_regions(scope, level))
        return cls("total", scope, None, [])

    def summary_parts(self, dim: str, sides: tuple[str, ...], months: tuple[int, int]) -> list:
        """Selects of (side, gid, key, ym, *FIGURES) from the monthly summary."""
        S = ContractMonthStat

        def part(region_ids, gid, part_sides, sign=1, side_as=None, from_dim=None, key=None):
            if not region_ids or not part_sides:
                return None
            cols = [S.__table__.c[name] for name in FIGURES]
            side = S.side if side_as is None else literal(side_as)
            stmt = select(
                side.label("side"), gid.label("gid"), (S.key if key is None else literal("")).label("key"),
                S.ym.label("ym"), *((c if sign > 0 else -c).label(c.name) for c in cols),
            ).where(S.dim == (from_dim or dim), S.region_id.in_(region_ids), S.side.in_(part_sides),
                    S.ym >= months[0], S.ym <= months[1])
            return stmt if key is None else stmt.where(S.key == key)

        top = [r.id for r in top_regions(self.scope)]
        group_ids = [r.id for r in self.groups]
        plain = tuple(s for s in sides if s != "i")
        if self.mode == "total" and self.scope is None:
            # everything: 'both' = the contracts whose buyer is on the tree and whose seller is too, even when
            # they lie under two different top regions: the buyer's 'origin' rows keyed 'L' (market.divisions)
            parts = [part(top, literal(0), plain)]
            if "i" in sides:
                parts.append(part(top, literal(0), ("b",), side_as="i", from_dim="origin", key=LOCAL_KEY))
        elif self.mode == "total":
            parts = [part(top, literal(0), sides)]
        elif self.mode == "children":
            parts = [part(group_ids, S.region_id, sides)]
            if self.scope is not None:  # 本级: the scope's rows minus its sub-regions' rows
                own = literal(self.scope.id)
                parts += [part(top, own, plain), part(group_ids, own, plain, -1)]
        else:  # a level, and what lies above it
            none = null().cast(Integer)
            parts = [part(group_ids, S.region_id, sides), part(top, none, plain), part(group_ids, none, plain, -1)]
        return [p for p in parts if p is not None]

    def mapping(self, name: str):
        """A subquery (rid, gid): every region of the scope and the group it counts in."""
        r, anc = aliased(Region), aliased(Region)
        under_scope = r.path.startswith(self.scope.path) if self.scope is not None else true()
        if self.mode == "total":
            stmt = select(r.id.label("rid"), literal(0).label("gid")).where(under_scope)
        elif self.mode == "children":
            cond = anc.parent_id == self.scope.id if self.scope is not None else anc.parent_id.is_(None)
            stmt = select(r.id.label("rid"), anc.id.label("gid")).join(
                anc, and_(cond, r.path.startswith(anc.path))
            ).where(under_scope)
            if self.scope is not None:
                stmt = union_all(stmt, select(literal(self.scope.id).label("rid"), literal(self.scope.id).label("gid")))
        else:
            stmt = select(r.id.label("rid"), anc.id.label("gid")).outerjoin(
                anc, and_(anc.level == self.level, r.path.startswith(anc.path))
            ).where(under_scope)
        return stmt.subquery(name)

    def base_parts(self, dim: str, sides: tuple[str, ...], start: date | None, end: date | None) -> list:
        """The same rows straight from the contracts table, for the dates [start, end]."""
        if start is not None and end is not None and (start.year, start.month) == (end.year, end.month):
            # a partial month: its year*100+month is known, no need to compute it (and group by it) per row
            ym = literal(start.year * 100 + start.month, Integer())
        else:
            ym = year_month(Contract.signed_on)
        root = aliased(Field)
        if dim == "field":
            key = field_root_key(root)
        elif dim == "type":
            key = Contract.contract_type
        elif dim in REG_DIM_SQL:  # the 登记表 dimensions of the report tables
            key = reg_dim_key(dim)
        elif dim == "origin":
            if self.mode != "total":
                raise ValueError("flows are read for a whole scope only")
            key = None  # per side: where the other party is
        else:
            key = literal("")

        def restrict(stmt):
            if dim == "field":
                stmt = stmt.outerjoin(root, root.id == Contract.field_id)
            stmt = stmt.where(live_contracts())
            if start is not None:
                stmt = stmt.where(Contract.signed_on >= start)
            if end is not None:
                stmt = stmt.where(Contract.signed_on <= end)
            return stmt

        sums = (func.count().label("n"), *exact_sum(Contract.amount, "amount"),
                *exact_sum(Contract.tech_amount, "tech_amount"))
        columns = {"b": Contract.buyer_region_id, "s": Contract.seller_region_id}

        if self.mode == "total":  # one group: filter by the scope, no mapping needed
            parts = []
            for side in sides:
                side_key = key if key is not None else origin_key(Contract.__table__, "seller" if side == "b" else "buyer")
                stmt = restrict(select(literal(side).label("side"), literal(0).label("gid"), side_key.label("key"),
                                       ym.label("ym"), *sums).select_from(Contract))
                on = ("b", "s") if side == "i" else (side,)
                if self.scope is not None:
                    inside = region_ids_under(self.scope)
                    stmt = stmt.where(*(columns[x].in_(inside) for x in on))
                else:  # everything: a party outside the city (no region) is on no side
                    stmt = stmt.where(*(columns[x].is_not(None) for x in on))
                parts.append(stmt.group_by(side_key, ym))
            return parts

        def grouped(*region_columns):
            cols = [c.label(f"r{i}") for i, c in enumerate(region_columns)]
            stmt = restrict(select(*cols, key.label("key"), ym.label("ym"), *sums).select_from(Contract))
            if self.scope is not None:
                stmt = stmt.where(*(c.in_(region_ids_under(self.scope)) for c in region_columns))
            return stmt.group_by(*region_columns, key, ym).subquery()

        parts = []
        for side in ("b", "s"):
            if side in sides:
                g, m = grouped(columns[side]), self.mapping("m")
                parts.append(select(literal(side).label("side"), m.c.gid, g.c.key, g.c.ym,
                                    *(g.c[name] for name in FIGURES)).join(m, m.c.rid == g.c.r0))
        if "i" in sides:
            g, m1, m2 = grouped(columns["b"], columns["s"]), self.mapping("m1"), self.mapping("m2")
            stmt = (
                select(literal("i").label("side"), m1.c.gid, g.c.key, g.c.ym, *(g.c[name] for name in FIGURES))
                .select_from(g).join(m1, m1.c.rid == g.c.r0).join(m2, m2.c.rid == g.c.r1)
                .where(m1.c.gid == m2.c.gid)
            )
            if self.mode == "children" and self.scope is not None:
                stmt = stmt.where(m1.c.gid != self.scope.id)  # no 'both sides' figure for 本级
            parts.append(stmt)
        return parts


def source(*, dim: str, period: Period, grouping: Grouping, sides=BASE_SIDES, use_summary: bool = True):
    """A subquery of (side, gid, key, ym, *FIGURES) rows covering the period.

    Whole months come from the summary table, partial months from the contracts table.
    """
    if not use_summary:
        parts = grouping.base_parts(dim, sides, period.start, period.end)
    else:
        months, edges = period.split()
        parts = grouping.summary_parts(dim, sides, months) if months is not None else []
        for start, end in edges:
            parts += _edge_parts(grouping, dim, sides, start, end)
    return union_all(*parts).subquery("u") if len(parts) > 1 else parts[0].subquery("u")


def _edge_parts(grouping: Grouping, dim: str, sides: tuple[str, ...], start: date, end: date) -> list:
    """The rows of a partial month [start, end], reading as few contracts as possible.

    When the part lies at one end of its month and is longer than the rest of the month, the whole month
    comes from the summary and the contracts of the rest are subtracted (a range ending today: the month's
    remaining days hold next to nothing).
    """
    first, last = start.replace(day=1), _month_end(start.year, start.month)
    inside = (end - start).days + 1
    if (start != first and end != last) or 2 * inside <= (last - first).days + 1:
        return grouping.base_parts(dim, sides, start, end)
    ym = start.year * 100 + start.month
    rest = (first, start - timedelta(days=1)) if end == last else (end + timedelta(days=1), last)
    return grouping.summary_parts(dim, sides, (ym, ym)) + [_negated(part) for part in
                                                           grouping.base_parts(dim, sides, *rest)]


def _negated(stmt):
    """The same rows with count and sums negated."""
    sub = stmt.subquery()
    return select(sub.c.side, sub.c.gid, sub.c.key, sub.c.ym, *((-sub.c[name]).label(name) for name in FIGURES))


def _typed(expr, name: str):
    """Money for the parts below 10^7 元 (fen on SQLite), plain integers for counts and the high parts."""
    return type_coerce(expr, Money()) if name in ("amount", "tech_amount") else expr


def _grouped(u, *columns):
    """Stage one: plain sums per side (and the given columns) over the source rows."""
    keys = [u.c.side, *columns]
    return (
        select(*keys, *(_typed(func.sum(u.c[name]), name).label(name) for name in FIGURES))
        .group_by(*keys)
        .subquery("g")
    )


def _side_sums(g) -> list:
    """Stage two, over the few grouped rows: one column per side and figure.

    'e' (either party in the region, each contract once) = b + s - i, also summed by the database.
    """
    cols = []
    for side in BASE_SIDES:
        for name in FIGURES:
            cols.append(_typed(func.sum(case((g.c.side == side, g.c[name]))), name).label(f"{side}_{name}"))
    for name in FIGURES:
        column = g.c[name]
        cols.append(_typed(func.sum(case((g.c.side == "i", -column), else_=column)), name).label(f"e_{name}"))
    return cols


def _pivot(dim: str, period: Period, grouping: Grouping, by: str | None, use_summary: bool) -> dict:
    """{group value: record with b_/s_/i_/e_ figures}; by = 'gid', 'key', 'ym' or None (one record)."""
    sides = BASE_SIDES if dim == "all" else ("b", "s")
    u = source(dim=dim, period=period, grouping=grouping, sides=sides, use_summary=use_summary)
    if by is None:
        g = _grouped(u)
        return {None: db.session.execute(select(*_side_sums(g))).one()}
    g = _grouped(u, u.c[by])
    return {r[0]: r for r in db.session.execute(select(g.c[by], *_side_sums(g)).group_by(g.c[by]))}


# --- results ---------------------------------------------------------------------------------------------

@dataclass
class Figures:
    n: int = 0
    amount: Decimal = ZERO
    tech_amount: Decimal = ZERO

    def as_dict(self) -> dict:
        return {"count": self.n, "amount": f"{self.amount:.2f}", "tech_amount": f"{self.tech_amount:.2f}"}


@dataclass
class Row:
    key: object
    name: str
    sides: dict[str, Figures] = field(default_factory=lambda: {s: Figures() for s in ("b", "s", "i", "e")})
    region: Region | None = None
    own_level: bool = False  # the region's own contracts (本级), not a sub-region

    def __getitem__(self, side: str) -> Figures:
        return self.sides[side]

    @property
    def is_empty(self) -> bool:
        return all(f.n == 0 for f in self.sides.values())


def _fill(row: Row, record) -> Row:
    for side in ("b", "s", "i", "e"):
        def figure(name: str) -> Decimal:
            return join_sum(getattr(record, f"{side}_{name}_hi"), getattr(record, f"{side}_{name}"))

        row.sides[side] = Figures(int(getattr(record, f"{side}_n") or 0), figure("amount"), figure("tech_amount"))
    return row


def totals(*, scope: Region | None, period: Period, use_summary: bool = True) -> Row:
    record = _pivot("all", period, Grouping.make("total", scope), None, use_summary)[None]
    return _fill(Row(key=None, name="合计"), record)


def by_type(*, scope: Region | None, period: Period, use_summary: bool = True) -> list[Row]:
    """吸纳 and 输出 by contract type (the 'both sides' figures are not split by type)."""
    return _type_rows(_pivot("type", period, Grouping.make("total", scope), "key", use_summary))


def _type_rows(found: dict) -> list[Row]:
    rows = []
    for code, (label, _subtypes) in CONTRACT_TYPES.items():
        row = Row(key=code, name=label)
        rows.append(_fill(row, found[code]) if code in found else row)
    return rows


def by_field(*, scope: Region | None, period: Period, use_summary: bool = True) -> list[Row]:
    """吸纳 and 输出 by root technology field; contracts without a field get a row of their own."""
    found = _pivot("field", period, Grouping.make("total", scope), "key", use_summary)
    roots = db.session.execute(select(Field.id, Field.code, Field.name).where(Field.parent_id.is_(None))
                               .order_by(Field.sort, Field.code)).all()
    return _field_rows(found, roots)


def _field_rows(found: dict, roots) -> list[Row]:
    """`roots`: (id, code, name) of the root fields, in their order."""
    rows = []
    for root in roots:
        row = Row(key=root.code, name=root.name)
        rows.append(_fill(row, found[str(root.id)]) if str(root.id) in found else row)
    if "" in found:
        rows.append(_fill(Row(key=None, name=NO_FIELD), found[""]))
    known = {str(r.id) for r in roots} | {""}
    for key in sorted(set(found) - known):  # a field id that is no longer a root (tree changed): still counted
        rows.append(_fill(Row(key=key, name=f"领域{key}"), found[key]))
    return rows


def by_month(*, scope: Region | None, period: Period, use_summary: bool = True) -> list[Row]:
    return _month_rows(_pivot("all", period, Grouping.make("total", scope), "ym", use_summary), period)


def _month_rows(found: dict, period: Period) -> list[Row]:
    found = {int(k): v for k, v in found.items()}
    rows = []
    for ym in period.months():
        row = Row(key=f"{ym // 100}-{ym % 100:02d}", name=f"{ym // 100}年{ym % 100}月")
        rows.append(_fill(row, found[ym]) if ym in found else row)
    return rows


def by_region(*, scope: Region | None, period: Period, level: str | None = None,
              use_summary: bool = True) -> list[Row]:
    """Rows per sub-region of the scope (level None) or per region of a level; zero rows included.

    A region's own contracts (本级) and, by level, contracts above that level (未归属) get a row of their own
    when there are any, so that the rows always add up to the total.
    """
    grouping = Grouping.make("children" if level is None else "level", scope, level)
    return _region_rows(_pivot("all", period, grouping, "gid", use_summary), grouping)


def _region_rows(found: dict, grouping: Grouping) -> list[Row]:
    scope, level = grouping.scope, grouping.level
    rows = []
    for region in grouping.groups:
        row = Row(key=region.id, name=region.name, region=region)
        rows.append(_fill(row, found[region.id]) if region.id in found else row)
    if scope is not None and level is None and scope.id in found:
        row = _fill(Row(key=scope.id, name=f"{scope.name}（本级）", region=scope, own_level=True), found[scope.id])
        if not row.is_empty:
            rows.append(row)
    if level is not None and None in found:
        row = _fill(Row(key=None, name="未归属到该级区域"), found[None])
        if not row.is_empty:
            rows.append(row)
    return rows


def breakdown(by: str, *, scope: Region | None, period: Period, level: str | None = None,
              use_summary: bool = True) -> list[Row]:
    if by == "type":
        return by_type(scope=scope, period=period, use_summary=use_summary)
    if by == "field":
        return by_field(scope=scope, period=period, use_summary=use_summary)
    if by == "month":
        return by_month(scope=scope, period=period, use_summary=use_summary)
    if by == "region":
        return by_region(scope=scope, period=period, level=level, use_summary=use_summary)
    raise ValueError(by)


# --- flows: 吸纳 by where the seller is, 输出 by where the buyer is ---------------------------------------------

@dataclass
class Flows:
    """吸纳 (buyer in the scope) by the seller's place and 输出 (seller in the scope) by the buyer's place, in the
    classes of market.divisions (本市, 省内其他市, 外省, 境外), with the places outside the city one by one."""

    inflow: dict[str, Figures]
    outflow: dict[str, Figures]
    places: list[tuple[str, str, Figures, Figures]]  # (name, class, 吸纳 from it, 输出 to it), largest first
    inflow_total: Figures
    outflow_total: Figures

    @property
    def identical(self) -> bool:
        return self.inflow == self.outflow

    @property
    def inflow_outside(self) -> Figures:
        """吸纳 from outside the city (省内其他市 + 外省 + 境外)."""
        return _add(*(self.inflow[c] for c in FLOW_CLASSES if c != "local"))

    @property
    def outside_share(self) -> Decimal | None:
        """The share of 吸纳 成交额 from outside the city, in per cent (None when nothing was bought)."""
        if not self.inflow_total.amount:
            return None
        return (self.inflow_outside.amount * 100 / self.inflow_total.amount).quantize(Decimal("0.1"))

    @property
    def foreign(self) -> Figures:
        """涉外 contracts: one party abroad, so the other is in the city and each counts on one side only."""
        return _add(self.inflow["abroad"], self.outflow["abroad"])

    def rows(self) -> list[tuple[str, str, Figures, Figures]]:
        return [(c, PLACE_CLASSES[c], self.inflow[c], self.outflow[c]) for c in FLOW_CLASSES]


def _add(*figures: Figures) -> Figures:
    return Figures(sum(f.n for f in figures), sum((f.amount for f in figures), ZERO),
                   sum((f.tech_amount for f in figures), ZERO))


def flows(*, scope: Region | None, period: Period, use_summary: bool = True) -> Flows:
    return _flows_from(_pivot("origin", period, Grouping.make("total", scope), "key", use_summary), territory_code())


def _flows_from(found: dict, territory: str) -> Flows:
    inflow = {c: Figures() for c in FLOW_CLASSES}
    outflow = {c: Figures() for c in FLOW_CLASSES}
    by_place: dict[str, tuple[str, str, Figures, Figures]] = {}
    for key, record in found.items():
        row = _fill(Row(key=key, name=""), record)
        cls = flow_key_class(key, territory)
        inflow[cls] = _add(inflow[cls], row["b"])
        outflow[cls] = _add(outflow[cls], row["s"])
        if cls != "local" and not row.is_empty:
            name = flow_key_name(key)
            old = by_place.get(name, (name, cls, Figures(), Figures()))
            by_place[name] = (name, cls, _add(old[2], row["b"]), _add(old[3], row["s"]))
    places = sorted(by_place.values(), key=lambda p: (-(p[2].amount + p[3].amount), p[0]))
    return Flows(inflow, outflow, places, _add(*inflow.values()), _add(*outflow.values()))


# --- 科技成果转化: distinct results converted by contract ------------------------------------------------

def _conversion_counts(*, grouping: Grouping, period: Period) -> dict:
    parts = []
    # each row carries its side as two integer flags (b, s): the grouping below takes their max, where comparing a
    # text 'side' per row cost PostgreSQL a third of the statement at 1,000,000 contracts
    for b, s, column in ((1, 0, Contract.buyer_region_id), (0, 1, Contract.seller_region_id)):
        stmt = select(column.label("rid"), Contract.achievement_id.label("aid"), literal(b, Integer).label("b"),
                      literal(s, Integer).label("s")).where(
            live_contracts(), Contract.achievement_id.is_not(None),
            Contract.signed_on >= period.start, Contract.signed_on <= period.end,
        )
        if grouping.scope is not None:
            stmt = stmt.where(column.in_(region_ids_under(grouping.scope)))
        parts.append(stmt)
    p = union_all(*parts).subquery("p")
    m = grouping.mapping("m")
    # one row per (group, result) first, with the sides it was converted on; then plain counts per group
    # (one grouping pass instead of three COUNT(DISTINCT ...), each of which sorts on its own)
    per = (
        select(m.c.gid, p.c.aid, func.max(p.c.b).label("b"), func.max(p.c.s).label("s"))
        .select_from(p).join(m, m.c.rid == p.c.rid).group_by(m.c.gid, p.c.aid)
        .subquery("per")
    )
    stmt = select(per.c.gid, func.sum(per.c.b).label("b"), func.sum(per.c.s).label("s"),
                  func.count().label("e")).group_by(per.c.gid)
    return {r.gid: {"b": int(r.b), "s": int(r.s), "e": int(r.e)} for r in db.session.execute(stmt)}


def conversions(*, scope: Region | None, period: Period) -> dict[str, int]:
    """Distinct 科技成果 with a live contract signed in the period: by buyer side, seller side, either.

    One pass over the period's contracts that name a result (ix_contracts_conversions covers it), grouped by
    result, each flagged with the sides it was converted on.
    """
    return _conversions_dict(db.session.execute(_conversions_select(scope=scope, period=period)).one())


def _conversions_dict(row) -> dict[str, int]:
    return {"b": int(row[0] or 0), "s": int(row[1] or 0), "e": int(row[2] or 0)}


def _conversions_select(*, scope: Region | None, period: Period):
    """(b, s, e): the statement behind conversions()."""
    if scope is None:
        buyer_in = seller_in = true()
    else:
        buyer_in = Contract.buyer_region_id.in_(region_ids_under(scope))
        seller_in = Contract.seller_region_id.in_(region_ids_under(scope))
    per = (
        select(func.max(case((buyer_in, 1), else_=0)).label("b"), func.max(case((seller_in, 1), else_=0)).label("s"))
        .where(live_contracts(), Contract.achievement_id.is_not(None),
               Contract.signed_on >= period.start, Contract.signed_on <= period.end, or_(buyer_in, seller_in))
        .group_by(Contract.achievement_id)
        .subquery("per")
    )
    return select(func.sum(per.c.b).label("b"), func.sum(per.c.s).label("s"), func.count().label("e")).select_from(per)


def conversions_by_region(*, scope: Region | None, period: Period) -> dict[int, dict[str, int]]:
    """Per sub-region (and the scope's own level, keyed by the scope's id)."""
    return _conversion_counts(grouping=Grouping.make("children", scope), period=period)


# --- the 总览 page in one statement -----------------------------------------------------------------------

@dataclass
class Overview:
    """Every figure of the 总览 page (dashboard.index): read by one statement, `overview()`."""

    current: Row
    previous: Row
    tables: dict[str, list[Row]]  # by region, month, type, field
    flows: Flows
    year_total: Row | None  # the whole year's totals (asked for a period shorter than a year)
    conversions: dict[str, int] | None  # the year's conversions (asked for when the region has targets)


#: the columns every part of the overview's statement has, before the figures: which part, its group key as text,
#: and for the root fields their code, name and place
_OVERVIEW_HEAD = ("tag", "k", "code", "label", "pos")


def _figures_part(tag: str, dim: str, period: Period, grouping: Grouping, by: str | None):
    """One pivot of `_pivot` as a part of a UNION ALL: (tag, key as text, ..., the side sums)."""
    sides = BASE_SIDES if dim == "all" else ("b", "s")
    u = source(dim=dim, period=period, grouping=grouping, sides=sides)
    g = _grouped(u) if by is None else _grouped(u, u.c[by])
    key = null().cast(String) if by is None else cast(g.c[by], String)
    stmt = select(literal(tag).label("tag"), key.label("k"), null().cast(String).label("code"),
                  null().cast(String).label("label"), null().cast(Integer).label("pos"), *_side_sums(g))
    return stmt if by is None else stmt.group_by(g.c[by])


def _figure_names() -> list[str]:
    return [f"{side}_{name}" for side in (*BASE_SIDES, "e") for name in FIGURES]


def _other_part(tag: str, *, k=None, code=None, label=None, pos=None, figures: dict | None = None, from_=None):
    """A part of the overview's statement that is not a pivot (root fields, the territory, conversions)."""
    figures = figures or {}
    cols = [literal(tag).label("tag"), (k if k is not None else null()).label("k"),
            (code if code is not None else null()).label("code"), (label if label is not None else null()).label("label"),
            (pos if pos is not None else null()).label("pos")]
    cols += [(figures[name] if name in figures else null()).label(name) for name in _figure_names()]
    stmt = select(*cols)
    return stmt.select_from(from_) if from_ is not None else stmt


def overview(*, scope: Region | None, period: Period, year_total: bool = False,
             conversions: bool = False) -> Overview:
    """The 总览's figures, one statement for all of them (before: one per figure group, 12 statements): this
    period's and last year's totals, the breakdowns by sub-region, month, type and root field, the flows, the root
    fields themselves and the territory (for the flows' classes), and on demand the whole year's totals and
    conversions (the target card). Each part is exactly the statement its own function (totals, by_region, ...,
    conversions) runs, so every figure is the one the other tabs, the exports and the CLI show."""
    total = Grouping.make("total", scope)
    children = Grouping.make("children", scope)  # the sub-regions: one statement, their ORM rows for the links
    parts = [
        _figures_part("cur", "all", period, total, None),
        _figures_part("prev", "all", period.last_year(), total, None),
        _figures_part("region", "all", period, children, "gid"),
        _figures_part("month", "all", period, total, "ym"),
        _figures_part("type", "type", period, total, "key"),
        _figures_part("field", "field", period, total, "key"),
        _figures_part("flows", "origin", period, total, "key"),
        _other_part("froot", k=cast(Field.id, String), code=Field.code, label=Field.name, pos=Field.sort)
        .where(Field.parent_id.is_(None)),
    ]
    year = Period.year(period.start.year)
    if year_total:
        parts.append(_figures_part("year", "all", year, total, None))
    if conversions:
        c = _conversions_select(scope=scope, period=year).subquery("c")
        parts.append(_other_part("conv", figures={"b_n": c.c.b, "s_n": c.c.s, "e_n": c.c.e}, from_=c))
    configured = (current_app.config.get("MARKET_DIVISION_CODE") or "").strip() if has_app_context() else ""
    if not configured:  # market.divisions.territory_code(), its query as a part of this statement
        root = (select(Region.code).where(Region.parent_id.is_(None), Region.level == "city")
                .order_by(Region.sort, Region.id).limit(1).scalar_subquery())
        parts.append(_other_part("terr", code=root))
    found: dict[str, dict] = {}
    roots = []
    territory = configured
    for r in db.session.execute(union_all(*parts)):
        if r.tag == "froot":
            roots.append((int(r.pos or 0), r.code, int(r.k), r.label))
        elif r.tag == "terr":
            territory = (city_of(r.code) or r.code) if r.code and division(r.code) is not None else ""
        else:
            found.setdefault(r.tag, {})[r.k] = r
    roots.sort()
    region_found = {None if k is None else int(k): v for k, v in found.get("region", {}).items()}
    conv = found.get("conv", {}).get(None)
    return Overview(
        current=_fill(Row(key=None, name="合计"), found["cur"][None]),
        previous=_fill(Row(key=None, name="合计"), found["prev"][None]),
        tables={
            "region": _region_rows(region_found, children),
            "month": _month_rows(found.get("month", {}), period),
            "type": _type_rows(found.get("type", {})),
            "field": _field_rows(found.get("field", {}),
                                 [_Root(id_, code, name) for _pos, code, id_, name in roots]),
        },
        flows=_flows_from(found.get("flows", {}), territory),
        year_total=_fill(Row(key=None, name="合计"), found["year"][None]) if year_total else None,
        conversions=(_conversions_dict((conv.b_n, conv.s_n, conv.e_n)) if conv is not None else
                     {"b": 0, "s": 0, "e": 0}) if conversions else None,
    )


@dataclass
class _Root:
    id: int
    code: str
    name: str


# --- upkeep ----------------------------------------------------------------------------------------------

def summary_drift() -> list[tuple]:
    """Rows where contract_month_stats differs from a fresh computation:
    (dim, region_id, side, ym, key, stored, fresh)."""
    from ..models.stats import DIM_SIDES, rolled_rows_select

    S = ContractMonthStat

    def figures(r) -> tuple:  # the joined sums: how a row's figure is split does not matter, only its value
        return r.n, join_sum(r.amount_hi, r.amount), join_sum(r.tech_amount_hi, r.tech_amount)

    drift = []
    for dim in DIM_SIDES:
        fresh = {(r.region_id, r.side, int(r.ym), r.key): figures(r)
                 for r in db.session.execute(rolled_rows_select(dim=dim))}
        stored_rows = db.session.execute(
            select(S.region_id, S.side, S.ym, S.key, S.n, S.amount_hi, S.amount, S.tech_amount_hi, S.tech_amount)
            .where(S.dim == dim)
        ).all()
        stored = {(r.region_id, r.side, r.ym, r.key): figures(r) for r in stored_rows if any(figures(r))}
        for key in sorted(set(fresh) | set(stored), key=str):
            if fresh.get(key) != stored.get(key):
                drift.append((dim, *key, stored.get(key), fresh.get(key)))
    return drift
