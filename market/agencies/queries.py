"""Reads for agencies, brokers and experts: the directory, the registry lists, a broker's record, the yearly
performance sheets, and `available_experts` for campaign panels.

Attribution, one rule everywhere on this page:
  - a contract belongs to a broker when its deal's broker is that broker, else when the contract names the broker
    (a contract recorded by hand without a deal);
  - a contract belongs to an agency when its deal recorded the agency (deals.agency_id, kept when the broker took
    the deal), and only then: a contract without a deal, or whose deal recorded no agency, is no agency's (the rule
    of /dashboard/sources, market/dashboard/sources.py, so that an agency's sheet equals its row there); an agency's
    deals are likewise the deals that recorded it;
  - only contracts the dashboard counts count (registered and not voided, market.models.stats.counted), in the
    year they were signed (signed_on), summed exactly (market.money.exact_sum);
  - money received (到账金额): the payments paid in the year on those contracts (whatever year they were signed),
    recorded by an official or administrator; those the broker recorded are shown apart as self-reported (自报);
  - needs collected (需求征集): the needs a broker recorded collecting in the year (demand_collections, with the
    broker's agency at that moment), once the need's enterprise confirmed it, while the need is public;
  - events run (举办活动): events held (started) in the year and not called off, that the broker organised, or (for an
    agency) that the organising official named it 承办机构 (happenings.agency_id) or one of its brokers organised.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import SimpleNamespace
from decimal import Decimal

from sqlalchemy import Select, case, distinct, false, func, or_, select, true, union_all
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    AgencyProfile,
    AgencyService,
    BrokerProfile,
    Contract,
    Deal,
    Demand,
    DemandCollection,
    Expert,
    ExpertField,
    Field,
    Happening,
    Organization,
    Payment,
    Region,
    User,
)
from ..models.base import utcnow
from ..models.listing import PUBLIC_STATUSES
from ..models.stats import counted
from ..money import exact_sum, join_sum
from ..permissions import scope_filter, scope_region_ids
from ..templating import CHINA_TZ

ZERO = Decimal("0.00")


# --- the directory ----------------------------------------------------------------------------------------

def verified_agencies(*, q: str = "", service: str = "") -> Select:
    stmt = select(Organization).where(Organization.org_type == "agency", Organization.status == "verified")
    if q:
        stmt = stmt.where(Organization.name.contains(q, autoescape=True))
    if service:
        stmt = stmt.where(Organization.id.in_(select(AgencyService.org_id).where(AgencyService.code == service)))
    return stmt.order_by(Organization.name, Organization.id)


def services_of(org_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in org_ids}
    if org_ids:
        rows = db.session.execute(select(AgencyService.org_id, AgencyService.code)
                                  .where(AgencyService.org_id.in_(org_ids)).order_by(AgencyService.id))
        for org_id, code in rows:
            out[org_id].append(code)
    return out


def agency_note(org_id: int) -> str:
    profile = db.session.get(AgencyProfile, org_id)
    return profile.note if profile else ""


def agency_brokers(org_id: int) -> list[User]:
    """The agency's brokers who may act (approved, account active), by name."""
    return list(db.session.scalars(select(User).where(
        User.org_id == org_id, User.role == "broker", User.broker_status == "approved", User.active.is_(True))
        .order_by(User.name, User.id)))


def public_broker_ids(user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    return set(db.session.scalars(select(BrokerProfile.user_id).where(
        BrokerProfile.user_id.in_(user_ids), BrokerProfile.public.is_(True))))


def broker_profile(user_id: int) -> BrokerProfile | None:
    return db.session.get(BrokerProfile, user_id)


# --- the broker registry ----------------------------------------------------------------------------------

def registry_brokers(user, *, q: str = "") -> Select:
    """Broker accounts whose region lies in the viewer's scope (admins: all), approved first."""
    agency = aliased(Organization)
    stmt = select(User).outerjoin(agency, agency.id == User.org_id).where(User.role == "broker")
    stmt = scope_filter(stmt, user, User.region_id)
    if q:
        stmt = stmt.where(or_(User.name.contains(q, autoescape=True), User.broker_cert_no.contains(q, autoescape=True),
                              agency.name.contains(q, autoescape=True)))
    order = case((User.broker_status == "approved", 0), (User.broker_status == "pending", 1), else_=2)
    return stmt.order_by(order, User.name, User.id)


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    """The year in the market's time zone, as UTC-aware instants [start, end)."""
    return (datetime.combine(date(year, 1, 1), time(), CHINA_TZ),
            datetime.combine(date(year + 1, 1, 1), time(), CHINA_TZ))


def _attributed_broker():
    return func.coalesce(Deal.broker_id, Contract.broker_id)


def contract_scope(viewer, broker_id: int | None = None):
    """The counted contracts a sheet's viewer may see, as a condition over Contract and Deal (None: every one):
    administrators and the broker themself everything; an official the contracts with a party in their region
    (the rule of the register and /deals); anyone else (an agency's administrator) the contracts of deals their
    organisation recorded (deals.agency_id)."""
    if viewer is None or viewer.role == "admin" or (broker_id is not None and viewer.id == broker_id):
        return None
    if viewer.role == "official":
        sub = scope_region_ids(viewer)
        return false() if sub is None else or_(Contract.buyer_region_id.in_(sub), Contract.seller_region_id.in_(sub))
    return false() if viewer.org_id is None else Deal.agency_id == viewer.org_id


def deal_scope(viewer, broker_id: int | None = None):
    """The same rule over deals: an official's the deals with a party in the region, an agency's its own."""
    if viewer is None or viewer.role == "admin" or (broker_id is not None and viewer.id == broker_id):
        return None
    if viewer.role == "official":
        sub = scope_region_ids(viewer)
        return false() if sub is None else or_(Deal.buyer_region_id.in_(sub), Deal.seller_region_id.in_(sub))
    return false() if viewer.org_id is None else Deal.agency_id == viewer.org_id


@dataclass
class Figures:
    """One line of a performance sheet (or a record): counts and exact sums in 元."""

    deals: int = 0  # deals the broker worked (opened in the period)
    signed_deals: int = 0  # of those, signed
    needs: int = 0  # distinct enterprise needs in those deals
    contracts: int = 0  # registered contracts attributed (signed in the period)
    amount: Decimal = ZERO  # 合同成交额
    tech_amount: Decimal = ZERO  # 技术交易额
    events: int = 0  # events the broker organised, or the agency runs (承办), held in the period, not called off
    received: Decimal = ZERO  # 到账金额: payments paid in the period on the attributed counted contracts, recorded
    # by an official or administrator (核实): the broker who is credited records payments too, and the sheet is
    # the evidence for the broker's reward, so what the broker recorded is kept apart
    reported: Decimal = ZERO  # 经纪人自报到账: payments the same way, recorded by a broker (待核实)
    collected: int = 0  # 需求征集: needs the broker (the agency's brokers) recorded collecting in the period

    def add(self, other: Figures) -> None:
        for name in ("deals", "signed_deals", "needs", "contracts", "events", "collected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.amount += other.amount
        self.tech_amount += other.tech_amount
        self.received += other.received
        self.reported += other.reported


def _contract_figures(where, year: int | None, group, scope=None) -> dict:
    """{group value: (n, amount, tech_amount)} for counted contracts under `where`, signed in `year` (None: ever).

    `where` is (kind, ids): ("broker", ids) the contracts attributed to those brokers, ("agency", id) those of the
    deals that recorded the agency. Each read starts from the deals side (deals.broker_id, deals.agency_id) and
    the contracts' own broker_id, all indexed, joining to the contracts of those deals only: the cost follows the
    broker's or agency's records, not the register's size (a scan of every counted contract took ~10 s at
    1,000,000)."""
    return _attributed_sums(where, year, group, scope, payments=False)


VERIFIERS = ("official", "admin")  # who records a payment as 核实 (the contract's broker records payments too)


def _payment_figures(where, year: int | None, group, scope=None, *, verified: bool = True) -> dict:
    """{group value: (n, received, 0)}: the payments paid (paid_on) in `year` on the counted contracts under
    `where` (`_contract_figures`' attribution), whatever year those contracts were signed in; recorded by an
    official or administrator (`verified`), or by anyone else (the broker: self-reported)."""
    return _attributed_sums(where, year, group, scope, payments=True, verified=verified)


def _attributed_sums(where, year: int | None, group, scope, *, payments: bool, verified: bool = True) -> dict:
    kind, ids = where
    attributed = _attributed_broker()
    key = {"broker": attributed, "agency": Deal.agency_id}[group]
    if payments:
        columns = (key.label("k"), func.count(Payment.id).label("n"), *exact_sum(Payment.amount, "amount"),
                   *exact_sum(Payment.amount, "tech"))
        day = Payment.paid_on
    else:
        columns = (key.label("k"), func.count(Contract.id).label("n"), *exact_sum(Contract.amount, "amount"),
                   *exact_sum(Contract.tech_amount, "tech"))
        day = Contract.signed_on

    def one(stmt) -> list:
        if payments:
            recorder = select(User.id).where(User.role.in_(VERIFIERS))
            stmt = stmt.join(Payment, Payment.contract_id == Contract.id).where(
                Payment.recorded_by_id.in_(recorder) if verified else Payment.recorded_by_id.not_in(recorder))
        stmt = stmt.where(counted()).group_by(key)
        if year is not None:
            stmt = stmt.where(day >= date(year, 1, 1), day < date(year + 1, 1, 1))
        if scope is not None:
            stmt = stmt.where(scope)
        return list(db.session.execute(stmt))

    # the candidate contracts by id, from indexed lookups only (deals.broker_id / deals.agency_id -> contracts.deal_id,
    # and contracts.broker_id): "contracts.id IN (...)" makes SQLite's planner start there too (joined from deals it
    # preferred the signed_on index and read the year's every contract: 8 s at 1,000,000; this way under 1 ms)
    if kind == "broker":
        candidates = union_all(
            select(Contract.id).where(Contract.deal_id.in_(select(Deal.id).where(Deal.broker_id.in_(ids)))),
            # a contract whose deal names no broker, or that has no deal, is the broker's it names
            select(Contract.id).outerjoin(Deal, Deal.id == Contract.deal_id)
            .where(Contract.broker_id.in_(ids), Deal.broker_id.is_(None)))
    else:
        candidates = select(Contract.id).where(Contract.deal_id.in_(select(Deal.id).where(Deal.agency_id == ids)))
    rows = one(select(*columns).select_from(Contract).outerjoin(Deal, Deal.id == Contract.deal_id)
               .where(Contract.id.in_(candidates)))
    out: dict = {}
    for row in rows:
        n, amount, tech = out.get(row.k, (0, ZERO, ZERO))
        out[row.k] = (n + int(row.n), amount + join_sum(row.amount_hi, row.amount),
                      tech + join_sum(row.tech_hi, row.tech))
    return out


def _deal_figures(broker_ids, year: int | None, scope=None, *, agency_id: int | None = None) -> dict:
    """{broker id: (deals, signed, needs)} of the brokers' deals, or (agency_id) of the deals that recorded the
    agency, by their broker (None: no broker)."""
    stmt = (select(Deal.broker_id, func.count(Deal.id), func.count(case((Deal.stage == "signed", 1))),
                   func.count(distinct(Deal.demand_id)))
            .where(Deal.broker_id.in_(broker_ids) if agency_id is None else Deal.agency_id == agency_id)
            .group_by(Deal.broker_id))
    if scope is not None:
        stmt = stmt.where(scope)
    if year is not None:
        start, end = _year_bounds(year)
        stmt = stmt.where(Deal.created_at >= start, Deal.created_at < end)
    return {b: (int(n), int(s), int(d)) for b, n, s, d in db.session.execute(stmt)}


def _held(stmt, year: int | None):
    """Events not called off that have started, in the year (one planned for later this year is not held yet)."""
    stmt = stmt.where(Happening.status != "cancelled", Happening.starts_at <= utcnow())
    if year is not None:
        start, end = _year_bounds(year)
        stmt = stmt.where(Happening.starts_at >= start, Happening.starts_at < end)
    return stmt


def _event_figures(broker_ids, year: int | None) -> dict[int, int]:
    stmt = (select(Happening.organiser_id, func.count(Happening.id))
            .where(Happening.organiser_id.in_(broker_ids)).group_by(Happening.organiser_id))
    return dict(db.session.execute(_held(stmt, year)).all())


def _agency_events(agency_id: int, broker_ids, year: int | None) -> tuple[int, int]:
    """(events the agency ran, of those not organised by one of `broker_ids`): an event counts for the agency when
    the organising official named it 承办机构 (happenings.agency_id), or when one of its current brokers organised
    it; each event once."""
    run = or_(Happening.agency_id == agency_id, Happening.organiser_id.in_(broker_ids)) if broker_ids else (
        Happening.agency_id == agency_id)
    total = db.session.scalar(_held(select(func.count(Happening.id)).where(run), year))
    others = db.session.scalar(_held(select(func.count(Happening.id)).where(
        Happening.agency_id == agency_id, Happening.organiser_id.not_in(broker_ids) if broker_ids else true()), year))
    return int(total or 0), int(others or 0)


def collection_scope(viewer, broker_id: int | None = None):
    """The collected needs a sheet's viewer may count, as a condition over DemandCollection (None: every one):
    administrators and the broker themself all; an official those of needs in their region; an agency's
    administrator those recorded for their agency."""
    if viewer is None or viewer.role == "admin" or (broker_id is not None and viewer.id == broker_id):
        return None
    if viewer.role == "official":
        sub = scope_region_ids(viewer)
        return false() if sub is None else DemandCollection.demand_id.in_(
            select(Demand.id).where(Demand.region_id.in_(sub)))
    return false() if viewer.org_id is None else DemandCollection.agency_id == viewer.org_id


def _collected(where, year: int | None, scope=None) -> dict:
    """{broker id: needs collected} recorded in the year, under `where` (a condition over DemandCollection)."""
    # a need counts once its enterprise confirmed the claim, and while it is public (发布中 or 已解决): one taken
    # down or returned to its company is no evidence
    public = select(Demand.id).where(Demand.status.in_(PUBLIC_STATUSES))
    stmt = (select(DemandCollection.broker_id, func.count(DemandCollection.demand_id))
            .where(where, DemandCollection.confirmed_at.is_not(None), DemandCollection.demand_id.in_(public))
            .group_by(DemandCollection.broker_id))
    if year is not None:
        start, end = _year_bounds(year)
        stmt = stmt.where(DemandCollection.collected_at >= start, DemandCollection.collected_at < end)
    if scope is not None:
        stmt = stmt.where(scope)
    return {b: int(n) for b, n in db.session.execute(stmt)}


def broker_figures(broker_ids: list[int], year: int | None = None, viewer=None) -> dict[int, Figures]:
    """Each broker's figures in `year` (None: the whole record), in four grouped queries whatever the count;
    with `viewer`, only the contracts and deals that viewer may see (contract_scope, deal_scope)."""
    one = broker_ids[0] if len(broker_ids) == 1 else None
    out = {b: Figures() for b in broker_ids}
    if not broker_ids:
        return out
    for b, (n, amount, tech) in _contract_figures(("broker", broker_ids), year, "broker",
                                                  contract_scope(viewer, one)).items():
        out[b].contracts, out[b].amount, out[b].tech_amount = n, amount, tech
    for b, (n, signed, needs) in _deal_figures(broker_ids, year, deal_scope(viewer, one)).items():
        out[b].deals, out[b].signed_deals, out[b].needs = n, signed, needs
    for b, n in _event_figures(broker_ids, year).items():
        out[b].events = int(n)
    for b, (_n, received, _) in _payment_figures(("broker", broker_ids), year, "broker",
                                                 contract_scope(viewer, one)).items():
        out[b].received = received
    for b, (_n, reported, _) in _payment_figures(("broker", broker_ids), year, "broker", contract_scope(viewer, one),
                                                 verified=False).items():
        out[b].reported = reported
    for b, n in _collected(DemandCollection.broker_id.in_(broker_ids), year, collection_scope(viewer, one)).items():
        out[b].collected = n
    return out


@dataclass
class Sheet:
    """An agency's yearly sheet: a line per broker (its current brokers and any other broker a contract attributed
    to it names), and the total, computed from the records (not added up from the lines)."""

    year: int
    lines: list[tuple[User, Figures]] = field(default_factory=list)
    total: Figures = field(default_factory=Figures)


def agency_sheet(agency: Organization, year: int, viewer=None) -> Sheet:
    """With `viewer`, only the contracts and deals that viewer may see (an official: those of their region)."""
    sheet = Sheet(year=year)
    scope = contract_scope(viewer)
    by_broker = _contract_figures(("agency", agency.id), year, "broker", scope)
    deals = _deal_figures([], year, deal_scope(viewer), agency_id=agency.id)
    current = [u.id for u in db.session.scalars(select(User).where(User.org_id == agency.id, User.role == "broker"))]
    broker_ids = sorted(set(current) | {b for b in by_broker if b is not None} | {b for b in deals if b is not None})
    events = _event_figures(current, year) if current else {}
    received = _payment_figures(("agency", agency.id), year, "broker", scope)
    collected = _collected(DemandCollection.agency_id == agency.id, year, collection_scope(viewer))
    broker_ids = sorted(set(broker_ids) | set(received) - {None} | set(collected))
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(broker_ids)))} if broker_ids else {}
    for b in broker_ids:
        # a broker who moved agencies keeps here only the contracts, deals and needs that recorded this agency;
        # events count for the broker's current agency
        f = Figures(*deals.get(b, (0, 0, 0)), *by_broker.get(b, (0, ZERO, ZERO)), events=int(events.get(b, 0)),
                    received=received.get(b, (0, ZERO, ZERO))[1], collected=collected.get(b, 0))
        if b not in current and not (f.contracts or f.deals or f.received or f.collected):
            continue
        sheet.lines.append((users[b], f))
    total_events, other_events = _agency_events(agency.id, current, year)
    if None in by_broker or None in deals or None in received or other_events:
        # deals the agency recorded that no broker worked, and events it runs that none of its brokers organised
        nobody = SimpleNamespace(id=None, name="（未指定经纪人）", broker_cert_no="", username="")
        sheet.lines.append((nobody, Figures(*deals.get(None, (0, 0, 0)), *by_broker.get(None, (0, ZERO, ZERO)),
                                            events=other_events, received=received.get(None, (0, ZERO, ZERO))[1])))
    total = _contract_figures(("agency", agency.id), year, "agency", scope).get(agency.id)
    sheet.total.contracts, sheet.total.amount, sheet.total.tech_amount = total or (0, ZERO, ZERO)
    sheet.total.received = _payment_figures(("agency", agency.id), year, "agency", scope).get(
        agency.id, (0, ZERO, ZERO))[1]
    sheet.total.reported = _payment_figures(("agency", agency.id), year, "agency", scope, verified=False).get(
        agency.id, (0, ZERO, ZERO))[1]
    sheet.total.events = total_events
    sheet.total.collected = sum(collected.values())
    for _user, f in sheet.lines:
        for name in ("deals", "signed_deals", "needs"):
            setattr(sheet.total, name, getattr(sheet.total, name) + getattr(f, name))
    sheet.lines.sort(key=lambda line: (-line[1].amount, line[0].name, line[0].id or 0))
    return sheet


def broker_contracts(broker_id: int, year: int, viewer=None) -> Select:
    """The counted contracts attributed to the broker, signed in the year, that `viewer` may see (contract_scope):
    the sheet's evidence, row by row (a select: the page shows it a page at a time, the .xlsx up to a cap)."""
    # the contract ids from the deals side and from the contracts' own broker_id (both indexed), not a scan
    ids = union_all(select(Contract.id).join(Deal, Deal.id == Contract.deal_id).where(Deal.broker_id == broker_id),
                    select(Contract.id).outerjoin(Deal, Deal.id == Contract.deal_id)
                    .where(Contract.broker_id == broker_id, Deal.broker_id.is_(None)))
    stmt = (select(Contract).outerjoin(Deal, Deal.id == Contract.deal_id)
            .where(counted(), Contract.id.in_(ids),
                   Contract.signed_on >= date(year, 1, 1), Contract.signed_on < date(year + 1, 1, 1))
            .order_by(Contract.signed_on, Contract.id))
    scope = contract_scope(viewer, broker_id)
    return stmt if scope is None else stmt.where(scope)


# --- 专家库 -------------------------------------------------------------------------------------------------

def experts_list(user, *, q: str = "", field_code: str = "", available: str = "") -> Select:
    stmt = select(Expert).join(Organization, Organization.id == Expert.org_id)
    stmt = scope_filter(stmt, user, Expert.region_id)
    if q:
        stmt = stmt.where(or_(Expert.name.contains(q, autoescape=True), Expert.title.contains(q, autoescape=True),
                              Organization.name.contains(q, autoescape=True)))
    if field_code:
        stmt = stmt.where(Expert.id.in_(_experts_in_fields([field_code])))
    if available in ("1", "0"):
        stmt = stmt.where(Expert.available.is_(available == "1"))
    return stmt.order_by(Expert.available.desc(), Expert.name, Expert.id)


def _experts_in_fields(field_codes: list[str]):
    """Ids of experts with a field equal to, under, or above one of the codes ('01' takes '01.02' and back)."""
    conditions = []
    for code in field_codes:
        root = code.split(".")[0]
        conditions += [Field.code == code, Field.code.startswith(code + ".", autoescape=True)]
        if root != code:
            conditions.append(Field.code == root)
    return (select(ExpertField.expert_id).join(Field, Field.id == ExpertField.field_id)
            .where(or_(*conditions)) if conditions else select(ExpertField.expert_id).where(False))


def available_experts(field_codes: list[str], exclude_org_ids: list[int] | set[int] = ()) -> list[Expert]:
    """Experts a campaign panel may draw: available, in one of the fields (same code, a subfield, or the top-level
    field above it), not from any organisation in `exclude_org_ids` (the solvers': a conflict of interest), and,
    when tied to an account, that account still active. Ordered by name."""
    stmt = (select(Expert).outerjoin(User, User.id == Expert.user_id)
            .where(Expert.available.is_(True), Expert.id.in_(_experts_in_fields(list(field_codes))),
                   or_(Expert.user_id.is_(None), User.active.is_(True))))
    exclude = [int(i) for i in exclude_org_ids]
    if exclude:
        stmt = stmt.where(Expert.org_id.not_in(exclude),
                          or_(Expert.user_id.is_(None), User.org_id.is_(None), User.org_id.not_in(exclude)))
    return list(db.session.scalars(stmt.order_by(Expert.name, Expert.id)))


def expert_conflicts(expert: Expert, org_ids) -> bool:
    """True when the expert belongs (by the entry or the account) to one of the organisations."""
    orgs = {int(i) for i in org_ids}
    return expert.org_id in orgs or (expert.user is not None and expert.user.org_id in orgs)


def own_expert(user) -> Expert | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(select(Expert).where(Expert.user_id == user.id))


def region_names() -> dict[int, str]:
    return dict(db.session.execute(select(Region.id, Region.name)).all())

