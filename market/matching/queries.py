"""Reads of stored suggestions; each returns a select() (both sides always published)."""
from __future__ import annotations

import json

from sqlalchemy import Select, exists, false, or_, select
from sqlalchemy.orm import aliased, contains_eager, joinedload

from ..extensions import db
from ..models import Achievement, Demand, ListingMixin, MatchFeedback, Region, Suggestion, User
from ..permissions import user_region
from .engine import MATCHABLE, listing_terms


def not_marked():
    """No owner marked the pairing 不相关 (the refresh drops such pairs too; this hides them at once)."""
    return ~exists().where(MatchFeedback.demand_id == Suggestion.demand_id,
                           MatchFeedback.achievement_id == Suggestion.achievement_id,
                           MatchFeedback.kind == "not_relevant")


def best_first(stmt: Select) -> Select:
    """By 匹配度, best first: degree.match_degree is monotone in the stored score, so the score orders it."""
    return stmt.order_by(Suggestion.score.desc(), Suggestion.id)


def _both_published() -> Select:
    return (
        select(Suggestion)
        .join(Demand, Demand.id == Suggestion.demand_id)
        .join(Achievement, Achievement.id == Suggestion.achievement_id)
        # every list of suggestions shows both sides' organisation and region: loaded with the rows
        .options(contains_eager(Suggestion.demand).joinedload(Demand.org),
                 contains_eager(Suggestion.demand).joinedload(Demand.region),
                 contains_eager(Suggestion.achievement).joinedload(Achievement.org),
                 contains_eager(Suggestion.achievement).joinedload(Achievement.region))
        .where(Demand.status == MATCHABLE, Achievement.status == MATCHABLE, not_marked())
    )


def own_first(stmt: Select, kind: str) -> Select:
    """A listing's own picks (those its own match ranked) first, then the pairs only the other side's match holds (a
    result that ranks this need among its best), each by 匹配度. A pair's stored score comes from the match that
    ranked it: one computed from the other side's place (a result among the few needs of its subject) is not
    comparable with this listing's own candidates, and ordered with them it put a result about aircraft control
    above the glass results a need for ITO glass ranked itself."""
    return best_first(stmt.order_by(getattr(Suggestion, f"{kind}_pick").desc()))


def for_listing(listing: ListingMixin) -> Select:
    """The suggestions of one listing, its own picks first (own_first)."""
    side = Suggestion.demand_id if listing.KIND == "demand" else Suggestion.achievement_id
    return own_first(_both_published().where(side == listing.id), listing.KIND)


def side_of(user: User) -> str | None:
    """Whose side a user's /matching list is seen from: a company's needs, an institution's results, else none."""
    return {"enterprise": "demand", "institution": "achievement"}.get(user.role) if user.org_id else None


def for_user(user: User) -> Select:
    """What `/matching` lists: a company's or an institution's own listings; an official's or a broker's
    region (the need or the result lies inside it); everything for an admin."""
    stmt = _both_published()
    side = side_of(user)
    if side is not None:  # a company's or an institution's own listings, each one's own picks first (own_first)
        owner = Demand.org_id if side == "demand" else Achievement.org_id
        return own_first(stmt.where(owner == user.org_id), side)
    if user.role in ("official", "broker"):
        scope = user_region(user)
        if scope is None:
            return stmt.where(false())
        inside = select(Region.id).where(Region.path.startswith(scope.path))
        stmt = stmt.where(or_(Demand.region_id.in_(inside), Achievement.region_id.in_(inside)))
    elif user.role != "admin":
        return stmt.where(false())
    return best_first(stmt)


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
                .where(Suggestion.demand_id == demand.id, a.status == MATCHABLE, not_marked())
                .order_by(Suggestion.score.desc(), a.id)
                .limit(limit)
            ).all()
            yield demand, [(r[0], r[1]) for r in rows]
        last = demands[-1].id


WIDEN_TERMS = 4


def widen_args(listing: ListingMixin) -> dict[str, dict[str, str]]:
    """Searches for a listing that has no suggestion: its key terms over the other library, in every field and
    region, within its own technical field, and within its city (url arguments of /search, by link name)."""
    terms = [t for t, _ in listing_terms(listing)[:WIDEN_TERMS]]
    base = {"q": " ".join(terms), "kind": "achievement" if listing.KIND == "demand" else "demand"}
    out = {"all": base}
    if listing.field is not None:
        out["field"] = {**base, "field": listing.field.root_code}
    if listing.region is not None:
        city = db.session.scalar(select(Region).where(Region.id.in_(listing.region.ancestor_ids), Region.level == "city").limit(1))
        if city is not None:
            out["region"] = {**base, "region": str(city.id)}
    return out if terms else {}
