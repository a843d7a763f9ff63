"""Reads of stored suggestions; each returns a select() (both sides always published)."""
from __future__ import annotations

import json

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import aliased, contains_eager

from ..models import Achievement, Demand, ListingMixin, Region, Suggestion, User
from ..permissions import user_region
from .engine import MATCHABLE


def _both_published() -> Select:
    return (
        select(Suggestion)
        .join(Demand, Demand.id == Suggestion.demand_id)
        .join(Achievement, Achievement.id == Suggestion.achievement_id)
        .options(contains_eager(Suggestion.demand), contains_eager(Suggestion.achievement))
        .where(Demand.status == MATCHABLE, Achievement.status == MATCHABLE)
    )


def for_listing(listing: ListingMixin) -> Select:
    """The suggestions of one listing, best first."""
    side = Suggestion.demand_id if listing.KIND == "demand" else Suggestion.achievement_id
    return _both_published().where(side == listing.id).order_by(Suggestion.score.desc(), Suggestion.id)


def for_user(user: User) -> Select:
    """What `/matching` lists: a company's or an institution's own listings; an official's or a broker's
    region (the need or the result lies inside it); everything for an admin."""
    stmt = _both_published()
    if user.role == "enterprise" and user.org_id:
        stmt = stmt.where(Demand.org_id == user.org_id)
    elif user.role == "institution" and user.org_id:
        stmt = stmt.where(Achievement.org_id == user.org_id)
    elif user.role in ("official", "broker"):
        scope = user_region(user)
        if scope is None:
            return stmt.where(false())
        inside = select(Region.id).where(Region.path.startswith(scope.path))
        stmt = stmt.where(or_(Demand.region_id.in_(inside), Achievement.region_id.in_(inside)))
    elif user.role != "admin":
        return stmt.where(false())
    return stmt.order_by(Suggestion.score.desc(), Suggestion.id)


def reasons_of(suggestion: Suggestion) -> list[str]:
    try:
        value = json.loads(suggestion.reasons or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def export_rows(session, *, limit: int):
    """(demand, [(achievement, suggestion), ...]) for every published need, in id order, streamed."""
    last = 0
    while True:
        demands = session.scalars(
            select(Demand).where(Demand.status == MATCHABLE, Demand.id > last).order_by(Demand.id).limit(200)
        ).all()
        if not demands:
            return
        for demand in demands:
            a = aliased(Achievement)
            rows = session.execute(
                select(a, Suggestion)
                .join(Suggestion, Suggestion.achievement_id == a.id)
                .where(Suggestion.demand_id == demand.id, a.status == MATCHABLE)
                .order_by(Suggestion.score.desc(), a.id)
                .limit(limit)
            ).all()
            yield demand, [(r[0], r[1]) for r in rows]
        last = demands[-1].id
