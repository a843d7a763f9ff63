from __future__ import annotations

from sqlalchemy import Select, select

from ..models import LISTING_MODELS, Organization, User
from ..permissions import scope_filter


def pending_listings(kind: str, *, user) -> Select:
    model = LISTING_MODELS[kind]
    stmt = select(model).where(model.status == "pending").order_by(model.updated_at)
    return scope_filter(stmt, user, model.region_id)


def orgs_to_verify(*, user, status: str = "pending") -> Select:
    stmt = select(Organization).where(Organization.status == status).order_by(Organization.created_at)
    return scope_filter(stmt, user, Organization.region_id)


def brokers_to_review(*, user, status: str = "pending") -> Select:
    stmt = select(User).where(User.role == "broker", User.broker_status == status).order_by(User.created_at)
    return scope_filter(stmt, user, User.region_id)
