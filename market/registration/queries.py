"""Reads of the 登记 workflow: the competent 登记点, queues, submissions, history, working days waited."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import Select, func, or_, select

from ..extensions import db
from ..models import Contract, Region, RegPoint, RegStep, User
from ..models.registration import REG_REQUESTS, REG_STATUSES
from ..permissions import scope_region_ids
from ..review.queries import china_today
from ..templating import CHINA_TZ
from . import calendar

DEADLINE_WORKING_DAYS = 15  # a submission is to be decided within 15 working days


def competent_point(*, seller_region_id: int | None, buyer_region_id: int | None) -> RegPoint | None:
    """The rule: the active 登记点 whose region is the nearest ancestor-or-self of the seller's region; else of the
    buyer's region (a seller outside the city); else one on the city node. Two points on one region: the older."""
    for region_id in (seller_region_id, buyer_region_id):
        region = db.session.get(Region, region_id) if region_id else None
        if region is None:
            continue
        for ancestor in reversed(region.ancestor_ids):  # self first, then up to the city
            point = _point_on(ancestor)
            if point is not None:
                return point
    city = db.session.scalar(select(Region.id).where(Region.parent_id.is_(None)).order_by(Region.id).limit(1))
    return _point_on(city) if city is not None else None


def _point_on(region_id: int) -> RegPoint | None:
    return db.session.scalar(select(RegPoint).where(RegPoint.region_id == region_id, RegPoint.active.is_(True))
                             .order_by(RegPoint.id).limit(1))


def working_days(since: datetime | None, today: date | None = None) -> int | None:
    """Working days after the China date of `since`, up to and including today: Monday to Friday, less the public
    holidays and plus the 调休 workdays of the administrators' calendar (registration/calendar.py). A submission
    made on Friday has waited 1 working day on Monday; one made on 30 September 2026 (国庆 1–7 October off) has
    waited 1 on 8 October."""
    if since is None:
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    start, end = since.astimezone(CHINA_TZ).date(), today or china_today()
    return calendar.count_working_days(start, end)


def status_label(contract: Contract) -> str:
    if contract.reg_status == "submitted" and contract.reg_request in ("change", "cancel"):
        return f"待{REG_REQUESTS[contract.reg_request]}"
    if contract.voided:
        return "已注销" if contract.void_reason.startswith("注销登记") else "已作废"
    return REG_STATUSES.get(contract.reg_status, contract.reg_status)


def queue(user: User) -> Select:
    """A 登记员's queue: what waits at their 登记点, the oldest first."""
    return (select(Contract).where(Contract.reg_status == "submitted", Contract.reg_point_id == user.reg_point_id)
            .order_by(Contract.submitted_at, Contract.id))


def submissions_of(user: User) -> Select:
    """What the seller side sees: the submissions it made, or of its organisation as seller, or as their broker."""
    mine = [Contract.submitted_by_id == user.id]
    if user.role in ("enterprise", "institution") and user.org_id:
        mine.append(Contract.seller_org_id == user.org_id)
    if user.role == "broker":
        mine.append(Contract.broker_id == user.id)
    return (select(Contract).where(Contract.submitted_by_id.is_not(None), or_(*mine))
            .order_by(Contract.submitted_at.desc(), Contract.id.desc()))


def waiting_in_scope(user: User) -> Select:
    """Officials (their region and below) and admins: every submission waiting, the oldest first."""
    stmt = select(Contract).where(Contract.reg_status == "submitted").order_by(Contract.submitted_at, Contract.id)
    if user.role == "admin":
        return stmt
    sub = scope_region_ids(user)
    if sub is None:
        return stmt.where(False)
    return stmt.where(or_(Contract.seller_region_id.in_(sub), Contract.buyer_region_id.in_(sub)))


def waiting_at(point: RegPoint) -> int:
    """How many submissions wait at a 登记点."""
    return db.session.scalar(select(func.count()).select_from(Contract).where(
        Contract.reg_status == "submitted", Contract.reg_point_id == point.id)) or 0


def points() -> list[RegPoint]:
    return list(db.session.scalars(select(RegPoint).order_by(RegPoint.division, RegPoint.serial)))


def registrars(point: RegPoint) -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == "registrar", User.reg_point_id == point.id)
                                   .order_by(User.id)))


def steps(contract: Contract) -> list[RegStep]:
    return list(db.session.scalars(select(RegStep).where(RegStep.contract_id == contract.id)
                                   .order_by(RegStep.at, RegStep.id)))


def by_code(code: str) -> Contract | None:
    """The registered contract whose 登记证明 carries this verification code."""
    code = (code or "").strip().upper()
    if not (8 <= len(code) <= 16 and code.isascii() and code.isalnum()):
        return None
    return db.session.scalar(select(Contract).where(Contract.reg_verify_code == code))


__all__ = ["DEADLINE_WORKING_DAYS", "china_today", "competent_point", "queue", "status_label", "steps",
           "submissions_of", "working_days"]
