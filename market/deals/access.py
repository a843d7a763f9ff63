"""Who may see and act on deals, interests and suggestions (load-and-check helpers)."""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import or_

from ..extensions import db
from ..models import Deal, Interest, Suggestion, User
from ..models.deal import SYSTEM_SOURCES
from ..permissions import is_verified_actor, region_in_scope


def is_party(user: User, deal: Deal) -> bool:
    return user.org_id is not None and user.role in ("enterprise", "institution") and user.org_id in (
        deal.buyer_org_id,
        deal.seller_org_id,
    )


def deal_in_region(user: User, deal: Deal) -> bool:
    return region_in_scope(user, deal.buyer_region_id) or region_in_scope(user, deal.seller_region_id)


def can_view_deal(user: User, deal: Deal) -> bool:
    if user.role == "admin":
        return True
    if user.role == "official":
        return deal_in_region(user, deal)
    if user.role == "broker":
        return deal.broker_id == user.id or (deal.broker_id is None and deal_in_region(user, deal))
    return is_party(user, deal)


def can_work_deal(user: User, deal: Deal) -> bool:
    """Move stages, plan the next action, add notes: the responsible broker (or the parties while none)."""
    if user.role == "admin":
        return True
    if not is_verified_actor(user):
        return False
    if deal.broker_id is not None:
        return deal.broker_id == user.id
    return is_party(user, deal)


def can_correct_source(user: User, deal: Deal) -> bool:
    """Correct where the deal came from: its broker (verified) or an administrator; never the parties, whose own
    deal's attribution it is, and never a deal whose source its feature recorded (揭榜挂帅, 挂牌, 竞价)."""
    if deal.source in SYSTEM_SOURCES:
        return False
    if user.role == "admin":
        return True
    return deal.broker_id is not None and deal.broker_id == user.id and is_verified_actor(user)


def can_sign_deal(user: User, deal: Deal) -> bool:
    """Record the contract that moves a deal to 签约: its broker, officials of its region, admins."""
    if user.role == "admin":
        return True
    if not is_verified_actor(user):
        return False
    if user.role == "broker":
        return deal.broker_id == user.id
    return user.role == "official" and deal_in_region(user, deal)


def can_claim_deal(user: User, deal: Deal) -> bool:
    return user.role == "broker" and deal.broker_id is None and deal.is_open and deal_in_region(user, deal)


def suggestion_in_region(user: User, suggestion: Suggestion) -> bool:
    regions = [x.region_id for x in (suggestion.demand, suggestion.achievement) if x is not None]
    return any(region_in_scope(user, r) for r in regions)


def get_deal(deal_id: int) -> Deal:
    deal = db.session.get(Deal, deal_id)
    if deal is None or not can_view_deal(current_user, deal):
        abort(404)
    return deal


def get_interest(interest_id: int) -> Interest:
    """The author's organisation and the listing owner's organisation only."""
    interest = db.session.get(Interest, interest_id)
    if interest is None or current_user.org_id is None or current_user.org_id not in (
        interest.from_org_id,
        interest.to_org_id,
    ):
        abort(404)
    return interest


def get_suggestion_for_claim(suggestion_id: int) -> Suggestion:
    suggestion = db.session.get(Suggestion, suggestion_id)
    if suggestion is None or current_user.role != "broker" or not suggestion_in_region(current_user, suggestion):
        abort(404)
    return suggestion


def party_filter(stmt, user: User):
    return stmt.where(or_(Deal.buyer_org_id == user.org_id, Deal.seller_org_id == user.org_id))
