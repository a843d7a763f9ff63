"""Reads on the contract register; every list is scoped to what the user may see."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import CONTRACT_TYPES, Contract, ContractAudit, Deal, Organization, Payment, User
from ..money import exact_sum, join_sum
from ..permissions import scope_region_ids, user_region

ZERO = Decimal("0.00")


def visible_contracts(user: User, *, filters: dict | None = None) -> Select:
    filters = filters or {}
    stmt = select(Contract)
    if user.role == "official":
        sub = scope_region_ids(user)
        stmt = stmt.where(false()) if sub is None else stmt.where(
            or_(Contract.buyer_region_id.in_(sub), Contract.seller_region_id.in_(sub))
        )
    elif user.role == "broker":
        deals = select(Deal.id).where(Deal.broker_id == user.id)
        stmt = stmt.where(or_(Contract.broker_id == user.id, Contract.deal_id.in_(deals)))
    elif user.role != "admin":
        if user.org_id is None:
            stmt = stmt.where(false())
        else:
            stmt = stmt.where(or_(Contract.buyer_org_id == user.org_id, Contract.seller_org_id == user.org_id))
    ctype = filters.get("type")
    if ctype in CONTRACT_TYPES:
        stmt = stmt.where(Contract.contract_type == ctype)
    year = filters.get("year")
    if year:
        from datetime import date

        stmt = stmt.where(Contract.signed_on >= date(year, 1, 1), Contract.signed_on <= date(year, 12, 31))
    state = filters.get("state")
    if state == "live":
        stmt = stmt.where(Contract.voided.is_(False))
    elif state == "void":
        stmt = stmt.where(Contract.voided.is_(True))
    q = (filters.get("q") or "").strip()
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        orgs = select(Organization.id).where(Organization.name.like(like, escape="\\"))
        stmt = stmt.where(or_(Contract.registration_no.like(like, escape="\\"), Contract.buyer_org_id.in_(orgs),
                              Contract.seller_org_id.in_(orgs)))
    # the list shows both parties' names: loaded with the rows (lazy loads cost two statements per row)
    return (stmt.options(joinedload(Contract.buyer_org, innerjoin=True), joinedload(Contract.seller_org, innerjoin=True))
            .order_by(Contract.signed_on.desc(), Contract.id.desc()))


def totals(stmt: Select, *, user: User | None = None, filters: dict | None = None,
           years: list[int] | None = None) -> dict:
    """Count and exact sums of the contracts of a list that count in the official figures (registered, not
    voided: market.models.stats.counted), computed in SQL (in two parts each: a plain SUM over integer fen
    overflows SQLite's int64). An official's list with no text or type filter is read from the monthly summary
    instead (summary_totals); pass `user`, `filters` and the list's `years` for that."""
    if user is not None and years is not None:
        found = summary_totals(user, filters or {}, years)
        if found is not None:
            return found
    sub = stmt.order_by(None).where(Contract.voided.is_(False), Contract.reg_status == "registered").subquery()
    row = db.session.execute(
        select(func.count(sub.c.id), *exact_sum(sub.c.amount, "amount"), *exact_sum(sub.c.tech_amount, "tech_amount"))
    ).one()
    return {"count": row[0] or 0, "amount": join_sum(row.amount_hi, row.amount),
            "tech_amount": join_sum(row.tech_amount_hi, row.tech_amount)}


def summary_totals(user: User, filters: dict, years: list[int]) -> dict | None:
    """The totals of an official's list when it is "every contract with a party in the official's region" (no
    text or type filter; a year or 有效 only narrows it the way the summary is keyed): the side 'e' (either
    party, each contract once) of contract_month_stats over whole months, the rows the dashboard reads (a few
    dozen), not a sum over every contract (a million at scale). Same rule (counted) and the same exact sums, so
    the same figures to the fen (tests/test_contract_totals_summary.py). None when the list is another one."""
    if user.role != "official" or (filters.get("q") or "").strip() or filters.get("type") in CONTRACT_TYPES:
        return None
    scope = user_region(user)
    if scope is None:
        return None
    if filters.get("state") == "void" or not years:  # a voided contract never counts; no contracts at all
        return {"count": 0, "amount": ZERO, "tech_amount": ZERO}
    from ..dashboard.stats import Period
    from ..dashboard.stats import totals as region_totals

    year = filters.get("year")
    period = Period.year(year) if year else Period.between(date(min(years), 1, 1), date(max(years), 12, 31))
    either = region_totals(scope=scope, period=period).sides["e"]
    return {"count": either.n, "amount": either.amount, "tech_amount": either.tech_amount}


def payments(contract: Contract) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.contract_id == contract.id).order_by(Payment.paid_on, Payment.id)))


def audits(contract: Contract) -> list[ContractAudit]:
    return list(db.session.scalars(select(ContractAudit).where(ContractAudit.contract_id == contract.id).order_by(ContractAudit.at, ContractAudit.id)))


def years() -> list[int]:
    """The years of the year filter, newest first: every year from the first signing to the last. Read from the
    signing-date index (two index ends), not by scanning every contract for its distinct years."""
    # one scalar subquery per end: SQLite reads min() or max() alone from an index end, but scans the whole index
    # for both in one SELECT (235 ms at 1,000,000 contracts)
    first, last = db.session.execute(select(select(func.min(Contract.signed_on)).scalar_subquery(),
                                            select(func.max(Contract.signed_on)).scalar_subquery())).one()
    if first is None:
        return []
    return list(range(last.year, first.year - 1, -1))


def org_names(limit: int = 2000) -> list[str]:
    return list(db.session.scalars(select(Organization.name).order_by(Organization.name).limit(limit)))


def officials_of(region_ids) -> Select:
    """The active officials whose own region is one of `region_ids`."""
    return select(User).where(User.role == "official", User.active.is_(True), User.region_id.in_(list(region_ids)))
