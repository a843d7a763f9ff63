"""Reads for events: the public lists and the outcome figures (interest -> deal -> registered contract -> money)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select, true

from ..extensions import db
from ..models import Contract, Deal, Happening, HappeningSignup, Interest, Payment
from ..models.base import utcnow
from ..money import exact_sum, join_sum


def upcoming_and_past(limit: int = 100) -> tuple[list[Happening], list[Happening]]:
    now = utcnow()
    upcoming = db.session.scalars(select(Happening).where(Happening.ends_at >= now)
                                  .order_by(Happening.starts_at, Happening.id).limit(limit)).all()
    past = db.session.scalars(select(Happening).where(Happening.ends_at < now)
                              .order_by(Happening.starts_at.desc(), Happening.id.desc()).limit(limit)).all()
    return list(upcoming), list(past)


def signup_list(happening_id: int):
    """The outcome page's list (a statement to paginate): the confirmed in the order they came, then the waiting."""
    return (select(HappeningSignup).where(HappeningSignup.happening_id == happening_id,
                                          HappeningSignup.status.in_(("confirmed", "waiting")))
            .order_by(case((HappeningSignup.status == "confirmed", 0), else_=1), HappeningSignup.queued_at,
                      HappeningSignup.id))


def waiting_position(row: HappeningSignup) -> int:
    """1 for the first on the waiting list: a count of those queued before, not the list itself."""
    ahead = db.session.scalar(select(func.count()).select_from(HappeningSignup).where(
        HappeningSignup.happening_id == row.happening_id, HappeningSignup.status == "waiting",
        or_(HappeningSignup.queued_at < row.queued_at,
            and_(HappeningSignup.queued_at == row.queued_at, HappeningSignup.id < row.id)))) or 0
    return ahead + 1


def own_signup(happening_id: int, user) -> HappeningSignup | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(select(HappeningSignup).where(
        HappeningSignup.happening_id == happening_id, HappeningSignup.user_id == user.id))


@dataclass
class Outcome:
    confirmed: int = 0
    waiting: int = 0
    cancelled: int = 0
    attended: int = 0
    interests: int = 0  # recorded at the event
    deals: int = 0  # opened from those interests
    contracts: int = 0  # registered, not voided, from those deals
    amount: Decimal = Decimal("0.00")  # 合同成交额 of those contracts, 元
    received: Decimal = Decimal("0.00")  # payments received on them, 元


def attendance(happening_id: int) -> Outcome:
    """The sign-up counts alone, in one statement (the check-in desk shows them on every check-in): attended
    counts the confirmed sign-ups checked in."""
    out = Outcome()
    for status, n, checked_in in db.session.execute(
            select(HappeningSignup.status, func.count(), func.count(HappeningSignup.checked_in_at))
            .where(HappeningSignup.happening_id == happening_id).group_by(HappeningSignup.status)):
        if status in ("confirmed", "waiting", "cancelled"):
            setattr(out, status, n)
        if status == "confirmed":
            out.attended = checked_in
    return out


def _deal_ids(happening_id: int):
    """The deals opened from the interests recorded at the event (a subquery)."""
    return select(Deal.id).join(Interest, Interest.id == Deal.interest_id).where(Interest.happening_id == happening_id)


def _live_contracts(happening_id: int):
    return and_(Contract.deal_id.in_(_deal_ids(happening_id)), Contract.reg_status == "registered",
                Contract.voided.is_(False))


def outcome(happening_id: int) -> Outcome:
    """The chain from this event's interests: how many interests, deals opened from them and registered contracts
    those deals ended in, the contracts' amounts and the money received: counts and exact sums in SQL, whatever
    the number of rows (the lists are paged: interest_list, deal_list)."""
    out = attendance(happening_id)
    live = _live_contracts(happening_id)
    interests = select(func.count()).select_from(Interest).where(Interest.happening_id == happening_id).scalar_subquery()
    deals = select(func.count()).select_from(_deal_ids(happening_id).subquery()).scalar_subquery()
    sums = select(func.count(Contract.id).label("n"), *exact_sum(Contract.amount, "amount")).where(live).subquery()
    paid = (select(*exact_sum(Payment.amount, "paid")).join(Contract, Contract.id == Payment.contract_id)
            .where(live).subquery())
    row = db.session.execute(select(interests.label("interests"), deals.label("deals"), sums, paid)
                             .select_from(sums.join(paid, true()))).one()
    out.interests, out.deals, out.contracts = row.interests or 0, row.deals or 0, row.n or 0
    out.amount = join_sum(row.amount_hi, row.amount)
    out.received = join_sum(row.paid_hi, row.paid)
    return out


def interest_list(happening_id: int):
    """The interests recorded at the event, oldest first (a statement to paginate)."""
    return select(Interest).where(Interest.happening_id == happening_id).order_by(Interest.id)


def deal_list(happening_id: int):
    """The deals opened from them (a statement to paginate)."""
    return select(Deal).where(Deal.id.in_(_deal_ids(happening_id))).order_by(Deal.id)


def contracts_of(deal_ids: list[int]) -> dict[int, list[Contract]]:
    """The registered, unvoided contracts of one page of deals, by deal."""
    out: dict[int, list[Contract]] = {i: [] for i in deal_ids}
    if deal_ids:
        for c in db.session.scalars(select(Contract).where(
                Contract.deal_id.in_(deal_ids), Contract.reg_status == "registered", Contract.voided.is_(False))
                .order_by(Contract.id)):
            out[c.deal_id].append(c)
    return out


def checked_in_list(happening_id: int):
    """The attendees checked in, in the order they came (a statement to paginate): whom the organiser records a
    意向 for."""
    return (select(HappeningSignup).where(HappeningSignup.happening_id == happening_id,
                                          HappeningSignup.status == "confirmed",
                                          HappeningSignup.checked_in_at.is_not(None))
            .order_by(HappeningSignup.checked_in_at, HappeningSignup.id))
