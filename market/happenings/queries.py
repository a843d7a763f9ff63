"""Reads for events: the public lists and the outcome figures (interest -> deal -> registered contract -> money)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select

from ..extensions import db
from ..models import Contract, Deal, Happening, HappeningSignup, Interest, Payment
from ..models.base import utcnow


def upcoming_and_past(limit: int = 100) -> tuple[list[Happening], list[Happening]]:
    now = utcnow()
    upcoming = db.session.scalars(select(Happening).where(Happening.ends_at >= now)
                                  .order_by(Happening.starts_at, Happening.id).limit(limit)).all()
    past = db.session.scalars(select(Happening).where(Happening.ends_at < now)
                              .order_by(Happening.starts_at.desc(), Happening.id.desc()).limit(limit)).all()
    return list(upcoming), list(past)


def signups(happening_id: int, status: str) -> list[HappeningSignup]:
    order = (HappeningSignup.queued_at, HappeningSignup.id)
    return list(db.session.scalars(select(HappeningSignup).where(
        HappeningSignup.happening_id == happening_id, HappeningSignup.status == status).order_by(*order)))


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
    interests: list = field(default_factory=list)
    deals: list = field(default_factory=list)
    contracts: list = field(default_factory=list)  # registered, not voided
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


def outcome(happening_id: int) -> Outcome:
    """The chain from this event's interests: the deals opened from them, the registered contracts those deals
    ended in, their amounts and the money received (exact Decimal sums of the rows)."""
    out = attendance(happening_id)
    out.interests = list(db.session.scalars(select(Interest).where(Interest.happening_id == happening_id)
                                            .order_by(Interest.id)))
    interest_ids = [i.id for i in out.interests]
    if interest_ids:
        out.deals = list(db.session.scalars(select(Deal).where(Deal.interest_id.in_(interest_ids)).order_by(Deal.id)))
    deal_ids = [d.id for d in out.deals]
    if deal_ids:
        out.contracts = list(db.session.scalars(select(Contract).where(
            Contract.deal_id.in_(deal_ids), Contract.reg_status == "registered", Contract.voided.is_(False))
            .order_by(Contract.id)))
    contract_ids = [c.id for c in out.contracts]
    out.amount = sum((c.amount for c in out.contracts), Decimal("0.00"))
    if contract_ids:
        out.received = sum(db.session.scalars(select(Payment.amount).where(Payment.contract_id.in_(contract_ids))),
                           Decimal("0.00"))
    return out
