"""Dashboard reads beyond the contract totals: targets and the rankings of sub-regions, funnel, 产学研 coverage, data checks.

Every read takes the scope region (None for an administrator looking at everything) and never returns
a row from outside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import Select, and_, case, func, literal_column, or_, select, true, union
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    Achievement,
    Contract,
    Deal,
    Demand,
    Interest,
    Organization,
    Region,
    Suggestion,
    Target,
)
from ..models import checks
from ..models.contract import TARGET_METRICS
from ..models.org import INSTITUTION_TYPES
from ..templating import CHINA_TZ
from . import stats
from .stats import Period, live_contracts, region_ids_under

METRICS = tuple(TARGET_METRICS)  # amount, tech_amount, count, conversions
MONEY_METRICS = ("amount", "tech_amount")
PERCENT = Decimal("0.1")
DEFAULT_LARGE_CONTRACT = Decimal("100000000")  # 1亿元


def percent(part, whole) -> Decimal | None:
    """part / whole as a percentage with one decimal; None when whole is 0."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PERCENT, rounding=ROUND_HALF_UP)


def growth(current, previous) -> Decimal | None:
    """Growth rate over the same period last year, in %; None (shown as —) when last year is 0."""
    if not previous:
        return None
    return ((Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)).quantize(PERCENT, rounding=ROUND_HALF_UP)


def today() -> date:
    """The dashboard's today (default year, quarter and month, the pace of the targets): the TODAY setting when one
    is given (a date or YYYY-MM-DD; the tests freeze it), else the server's date."""
    fixed = current_app.config.get("TODAY")
    if fixed is None:
        return date.today()
    return fixed if isinstance(fixed, date) else date.fromisoformat(fixed)


# --- targets and the rankings -----------------------------------------------------------------------------

def elapsed_share(year: int, on: date | None = None) -> Decimal:
    """Share of the year gone by on the day `on` (included; default today()): 0 for a future year, 1 for a past one."""
    on = on or today()
    if year < on.year:
        return Decimal(1)
    if year > on.year:
        return Decimal(0)
    days = (date(year, 12, 31) - date(year, 1, 1)).days + 1
    return Decimal((on - date(year, 1, 1)).days + 1) / Decimal(days)


@dataclass
class Progress:
    metric: str
    target: Decimal | int | None
    actual: Decimal | int
    expected: Decimal | None  # target x elapsed share of the year

    @property
    def label(self) -> str:
        return TARGET_METRICS[self.metric]

    @property
    def is_money(self) -> bool:
        return self.metric in MONEY_METRICS

    @property
    def rate(self) -> Decimal | None:
        return percent(self.actual, self.target) if self.target else None

    @property
    def expected_rate(self) -> Decimal | None:
        return percent(self.expected, self.target) if self.target else None

    @property
    def ahead(self) -> bool | None:
        if self.target is None or self.expected is None:
            return None
        return self.actual >= self.expected


@dataclass
class BoardRow:
    region: Region
    progress: dict[str, Progress] = field(default_factory=dict)
    rank: int | None = None


@dataclass
class TargetBoard:
    year: int
    share: Decimal
    own: BoardRow | None
    rows: list[BoardRow]
    metric: str


def _actuals(row: stats.Row | None, conversions: dict | None) -> dict[str, Decimal | int]:
    """Progress counts contracts with either party in the region, each once (区域内部合同不重复计)."""
    e = row["e"] if row is not None else stats.Figures()
    return {"amount": e.amount, "tech_amount": e.tech_amount, "count": e.n,
            "conversions": (conversions or {}).get("e", 0)}


def _progress(region: Region, targets: dict, actuals: dict, share: Decimal) -> BoardRow:
    row = BoardRow(region=region)
    for metric in METRICS:
        t = targets.get((region.id, metric))
        value = None if t is None else (t.value_amount if metric in MONEY_METRICS else t.value_count)
        expected = None
        if value is not None:
            expected = (Decimal(value) * share).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        row.progress[metric] = Progress(metric, value, actuals[metric], expected)
    return row


def targets_for(region_ids: list[int], year: int) -> dict[tuple[int, str], Target]:
    if not region_ids:
        return {}
    rows = db.session.scalars(select(Target).where(Target.year == year, Target.region_id.in_(region_ids)))
    return {(t.region_id, t.metric): t for t in rows}


def target_board(*, scope: Region | None, year: int, metric: str = "amount", today: date | None = None) -> TargetBoard:
    """The scope's own targets and progress, and its sub-regions ranked by completion (counties under a city, towns under a county)."""
    metric = metric if metric in METRICS else "amount"
    period = Period.year(year)
    share = elapsed_share(year, today)
    children = stats.by_region(scope=scope, period=period)
    conv = stats.conversions_by_region(scope=scope, period=period)
    subs = [r for r in children if not r.own_level and r.region is not None]
    ids = [r.region.id for r in subs] + ([scope.id] if scope is not None else [])
    targets = targets_for(ids, year)
    own = None
    if scope is not None:
        own = region_progress(scope, year, targets=targets, today=today)
    rows = [_progress(r.region, targets, _actuals(r, conv.get(r.region.id)), share) for r in subs]
    rank_board(rows, metric)
    return TargetBoard(year=year, share=share, own=own, rows=rows, metric=metric)


def region_progress(region: Region, year: int, *, year_total: stats.Row | None = None,
                    targets: dict | None = None, today: date | None = None) -> BoardRow:
    """A region's own targets of the year and its progress on each: the one computation behind the overview's
    target card, the targets page's own card and the county's row in its parent's ranking, so a figure (成果转化
    above all: the same stats.conversions as the 成果转化 tab) reads the same on every tab."""
    period = Period.year(year)
    if year_total is None:
        year_total = stats.totals(scope=region, period=period)
    if targets is None:
        targets = targets_for([region.id], year)
    conv = stats.conversions(scope=region, period=period)
    return _progress(region, targets, _actuals(year_total, conv), elapsed_share(year, today))


def progress_with(region: Region, year: int, *, year_total: stats.Row, targets: dict, conversions: dict,
                  today: date | None = None) -> BoardRow:
    """region_progress() from figures already read (the 总览 reads them in its one statement, stats.overview)."""
    return _progress(region, targets, _actuals(year_total, conversions), elapsed_share(year, today))


def own_progress(region: Region, year: int, year_total: stats.Row, today: date | None = None) -> BoardRow | None:
    """The region's own targets for the year with progress (None when none is set)."""
    targets = targets_for([region.id], year)
    if not targets:
        return None
    return region_progress(region, year, year_total=year_total, targets=targets, today=today)


def rank_board(rows: list[BoardRow], metric: str) -> None:
    """Regions with a target first, by completion rate; then the others by the figure itself."""
    def key(row: BoardRow):
        p = row.progress[metric]
        if p.target:
            return (0, -(Decimal(p.actual) / Decimal(p.target)), -Decimal(p.actual), row.region.code)
        return (1, Decimal(0), -Decimal(p.actual), row.region.code)

    rows.sort(key=key)
    for i, row in enumerate(rows, start=1):
        row.rank = i


# --- 科技成果转化 funnel -----------------------------------------------------------------------------------

def period_bounds(period: Period) -> tuple[datetime, datetime]:
    """The period's first and (exclusive) last instant, in China time (also the 竞价 tab's, auctions.results)."""
    start = datetime.combine(period.start, time.min, CHINA_TZ)
    return start, datetime.combine(period.end + timedelta(days=1), time.min, CHINA_TZ)


def _in_scope(column, scope: Region | None):
    return true() if scope is None else column.in_(region_ids_under(scope))


FUNNEL_STEPS = (
    ("listings", "发布需求与成果"),
    ("suggestions", "其中获得系统推荐匹配"),
    ("interests", "其中收到意向或揭榜应答"),
    ("deals", "其中建立对接"),
    ("signed", "其中经对接签订合同"),
)


def funnel(*, scope: Region | None, period: Period) -> list[tuple[str, str, int]]:
    """(key, label, count) of the needs and results published in the period in the scope, and how far each
    has got to date: a suggestion, then an interest or 揭榜 answer, then a deal, then a live contract signed
    through a deal. Each step counts the listings that also reached every step before it, so no step can
    exceed the one before (nested by construction, not by the data)."""
    start, end = period_bounds(period)
    counts = [0] * len(FUNNEL_STEPS)
    for model, key in ((Demand, Suggestion.demand_id), (Achievement, Suggestion.achievement_id)):
        interest_key = Interest.demand_id if model is Demand else Interest.achievement_id
        deal_key = Deal.demand_id if model is Demand else Deal.achievement_id
        reached = [
            select(Suggestion.id).where(key == model.id).exists(),
            select(Interest.id).where(interest_key == model.id).exists(),
            select(Deal.id).where(deal_key == model.id).exists(),
            select(Contract.id).join(Deal, Deal.id == Contract.deal_id)
            .where(deal_key == model.id, live_contracts()).exists(),
        ]
        columns = [func.count()]
        for i in range(1, len(reached) + 1):
            columns.append(func.coalesce(func.sum(case((and_(*reached[:i]), 1), else_=0)), 0))
        row = db.session.execute(
            select(*columns).select_from(model).where(
                model.published_at >= start, model.published_at < end, _in_scope(model.region_id, scope))
        ).one()
        counts = [c + int(v or 0) for c, v in zip(counts, row)]
    return [(key, label, n) for (key, label), n in zip(FUNNEL_STEPS, counts)]


# --- feedback on suggestions: the market's own measure of matching precision ---------------------------------

@dataclass
class FeedbackMonth:
    label: str  # "2025年6月"; "合计" for the total row
    interests: int = 0  # 意向与揭榜应答 made
    declined: int = 0  # of them declined as 技术不对口 (decided in the month)
    marked: int = 0  # suggestions marked 不相关 by an owner

    @property
    def declined_share(self) -> Decimal | None:
        return percent(self.declined, self.interests)


def match_feedback(*, scope: Region | None, period: Period) -> list[FeedbackMonth]:
    """Per month of the period (China time), then a total: interests made, declined as 技术不对口, and
    suggestions marked 不相关, for organisations or listings in the scope."""
    from ..models import MatchFeedback

    start, end = period_bounds(period)
    months: dict[tuple[int, int], FeedbackMonth] = {}
    y, m = period.start.year, period.start.month
    while (y, m) <= (period.end.year, period.end.month):
        months[(y, m)] = FeedbackMonth(f"{y}年{m}月")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)

    def bucket(values, attr: str) -> None:
        for (value,) in values:
            local = value.astimezone(CHINA_TZ)
            row = months.get((local.year, local.month))
            if row is not None:
                setattr(row, attr, getattr(row, attr) + 1)

    # correlated EXISTS, not `IN (the scope's organisations)`: the period's range of the created_at index drives
    # and each row's parties are looked up, instead of one seek per organisation of the scope (20,000 of a city,
    # 60 ms on SQLite whether or not there were interests)
    parties = select(Organization.id).where(Organization.id.in_((Interest.from_org_id, Interest.to_org_id)),
                                            _in_scope(Organization.region_id, scope)).exists()
    bucket(db.session.execute(select(Interest.created_at).where(
        Interest.created_at >= start, Interest.created_at < end, parties)), "interests")
    bucket(db.session.execute(select(Interest.decided_at).where(
        Interest.status == "declined", Interest.reason_code == "not_relevant",
        Interest.decided_at >= start, Interest.decided_at < end, parties)), "declined")
    demand_in = select(Demand.id).where(Demand.id == MatchFeedback.demand_id, _in_scope(Demand.region_id, scope))
    achievement_in = select(Achievement.id).where(Achievement.id == MatchFeedback.achievement_id,
                                                  _in_scope(Achievement.region_id, scope))
    bucket(db.session.execute(select(MatchFeedback.created_at).where(
        MatchFeedback.kind == "not_relevant", MatchFeedback.created_at >= start, MatchFeedback.created_at < end,
        or_(demand_in.exists(), achievement_in.exists()))), "marked")
    rows = list(months.values())
    total = FeedbackMonth("合计", sum(r.interests for r in rows), sum(r.declined for r in rows),
                          sum(r.marked for r in rows))
    return [*rows, total]


# --- contracts of a scope (lists) --------------------------------------------------------------------------

def contracts_in(scope: Region | None, period: Period):
    """Live contracts signed in the period with either party in the scope."""
    cond = and_(live_contracts(), Contract.signed_on >= period.start, Contract.signed_on <= period.end)
    if scope is None:
        return cond
    ids = region_ids_under(scope)
    return and_(cond, or_(Contract.buyer_region_id.in_(ids), Contract.seller_region_id.in_(ids)))


# --- 产学研“一对一” coverage -----------------------------------------------------------------------------

def _institutions():
    return select(Organization.id).where(Organization.org_type.in_(INSTITUTION_TYPES))


def covered_enterprises(period: Period):
    """Ids of organisations with a live contract signed, or a deal (not terminated) opened, in the period,
    whose other party is a university or institute."""
    start, end = period_bounds(period)
    inst = _institutions()
    in_period = and_(live_contracts(), Contract.signed_on >= period.start, Contract.signed_on <= period.end)
    deal_in_period = and_(Deal.created_at >= start, Deal.created_at < end, Deal.stage != "terminated")
    return union(
        select(Contract.buyer_org_id.label("org_id")).where(in_period, Contract.seller_org_id.in_(inst)),
        select(Contract.seller_org_id).where(in_period, Contract.buyer_org_id.in_(inst)),
        select(Deal.buyer_org_id).where(deal_in_period, Deal.seller_org_id.in_(inst)),
        select(Deal.seller_org_id).where(deal_in_period, Deal.buyer_org_id.in_(inst)),
    )


def active_enterprises(scope: Region | None):
    """Verified enterprises registered in the scope."""
    return and_(
        Organization.org_type == "enterprise",
        Organization.status == "verified",
        _in_scope(Organization.region_id, scope),
    )


@dataclass
class Coverage:
    enterprises: int
    covered: int

    @property
    def uncovered(self) -> int:
        return self.enterprises - self.covered

    @property
    def rate(self) -> Decimal | None:
        return percent(self.covered, self.enterprises)


def coverage_summary(*, scope: Region | None, period: Period) -> Coverage:
    covered = covered_enterprises(period).subquery()
    row = db.session.execute(
        select(
            func.count(Organization.id),
            func.count(covered.c.org_id),
        ).select_from(Organization).outerjoin(covered, covered.c.org_id == Organization.id).where(
            active_enterprises(scope)
        )
    ).one()
    return Coverage(enterprises=row[0], covered=row[1])


def uncovered_enterprises(*, scope: Region | None, period: Period) -> Select:
    covered = covered_enterprises(period).subquery()
    return (
        select(Organization)
        .join(Region, Region.id == Organization.region_id)
        .where(active_enterprises(scope), Organization.id.not_in(select(covered.c.org_id)))
        .order_by(Region.path, Organization.name)
    )


# --- data checks before reporting ------------------------------------------------------------------------

CHECKS = {
    "tech_over_amount": "技术交易额大于成交额",
    "large": "金额异常大的合同",
    "duplicates": "同日同双方同金额（疑似重复）",
    "no_field": "未填写技术领域",
    "foreign": "涉外合同（一方在境外）",
    "legal_form_mismatch": "法人性质与单位类型不符",
    "tech_no_worksheet": "技术交易额未经核定",
}
# 疑似重复: a counted contract of the scope and period that another counted contract (wherever its parties sit)
# shares buyer, seller, signing date and amount with; the flag is kept by triggers (market/models/checks.py).
# the 法人性质 headings (reg_codes kind legal_form) each organisation type may be under, with every code below
# them; a party's code outside them contradicts its organisation (an 企业 declared 高等院校). 服务机构 are any.
ORG_TYPE_LEGAL_HEADINGS = {"enterprise": ("040",), "university": ("022",), "institute": ("021", "024", "040")}


def large_threshold() -> Decimal:
    return Decimal(str(current_app.config.get("DASHBOARD_LARGE_CONTRACT_YUAN", DEFAULT_LARGE_CONTRACT)))


def legal_forms_allowed() -> dict[str, set[str]]:
    """{organisation type: the 法人性质 codes it may declare}: the headings and every code below them."""
    from ..models.reg_code import RegCode

    children: dict[str, list[str]] = {}
    for code, parent in db.session.execute(select(RegCode.code, RegCode.parent_code)
                                           .where(RegCode.kind == "legal_form")):
        children.setdefault(parent or "", []).append(code)
    allowed = {}
    for org_type, headings in ORG_TYPE_LEGAL_HEADINGS.items():
        codes, todo = set(), list(headings)
        while todo:
            code = todo.pop()
            if code not in codes:
                codes.add(code)
                todo.extend(children.get(code, ()))
        allowed[org_type] = codes
    return allowed


def _legal_form_contradicts(form_column, type_column, allowed: dict[str, set[str]]):
    return and_(form_column.is_not(None), or_(*(
        and_(type_column == org_type, form_column.not_in(sorted(codes))) for org_type, codes in allowed.items()
    )))


def check_condition(check: str):
    """The contracts a check lists, as a condition on the contracts table. Each condition repeats the WHERE of
    its partial index (market/models/checks.py), so that SQLite reads that index; the 大额 threshold and the
    法人性质 each organisation type may declare are applied here, when reading."""
    if check == "tech_over_amount":
        return checks.tech_over_amount()
    if check == "large":
        return _large()
    if check == "duplicates":
        return checks.duplicated()
    if check == "no_field":
        return checks.no_field()
    if check == "foreign":
        return checks.foreign()
    if check == "legal_form_mismatch":  # the parties' organisation types are kept on the contract by triggers
        allowed = legal_forms_allowed()
        return and_(checks.has_legal_form(), or_(
            _legal_form_contradicts(Contract.seller_legal_form, Contract.seller_org_type, allowed),
            _legal_form_contradicts(Contract.buyer_legal_form, Contract.buyer_org_type, allowed)))
    if check == "tech_no_worksheet":
        return checks.tech_no_worksheet()
    raise ValueError(check)


def _large():
    condition = Contract.amount >= large_threshold()
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite's planner takes a one-sided range to keep a quarter of the rows and would read the period's range
        # of ix_contracts_checks instead (then sort the list): said to be rare, it reads ix_contracts_chk_large
        condition = func.likelihood(condition, literal_column("0.001"))
    return condition


CHECK_ORDER = {  # each list's order: the order of its index, so that a page is an index-ordered LIMIT
    "large": (Contract.amount.desc(), Contract.id.desc()),
    "duplicates": (Contract.signed_on, Contract.buyer_org_id, Contract.seller_org_id, Contract.amount, Contract.id),
}


def check_order(check: str) -> tuple:
    return CHECK_ORDER.get(check, (Contract.signed_on, Contract.id))


def orgs_on_city_node(scope: Region | None) -> Select:
    """Organisations still placed on a city node (the region tree's root) with no real place: those of before
    issue 16 that nobody has placed yet (a Hefei university used to sit there). Their contracts count as local."""
    city = select(Region.id).where(Region.level == "city")
    if scope is not None:
        city = city.where(Region.path.startswith(scope.path))
    return (select(Organization).where(Organization.region_id.in_(city), Organization.division_code.is_(None))
            .order_by(Organization.name))


def check_list(check: str, *, scope: Region | None, period: Period) -> Select:
    """The contracts a check lists, with their parties and field loaded along (the page and export name them)."""
    related = (selectinload(Contract.buyer_org), selectinload(Contract.seller_org), selectinload(Contract.field))
    return (select(Contract).options(*related).where(contracts_in(scope, period), check_condition(check))
            .order_by(*check_order(check)))


def check_counts(*, scope: Region | None, period: Period) -> dict[str, int]:
    """How many contracts each check lists (exactly the rows of check_list): one count per check, each over
    its own index's range (market/models/checks.py), in one statement."""
    counts = select(*(
        select(func.count()).select_from(Contract).where(contracts_in(scope, period), check_condition(check))
        .scalar_subquery().label(check) for check in CHECKS
    ))
    found = db.session.execute(counts).one()._mapping
    return {check: int(found[check]) for check in CHECKS}
