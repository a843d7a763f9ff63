"""Reads for both libraries; each returns a select() that views paginate."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (LISTING_MODELS, Achievement, Demand, Field, Interest, ListingEvent, ListingMixin, Region,
                      Suggestion)
from ..models.listing import DONE_BY_CONTRACT, PRICE_BANDS, PUBLIC_STATUSES
from ..money import WAN

_BAND_RANGES = {
    "0-10": (None, 10),
    "10-50": (10, 50),
    "50-100": (50, 100),
    "100-500": (100, 500),
    "500+": (500, None),
}


def public_listings(kind: str, *, filters: dict) -> Select:
    model = LISTING_MODELS[kind]
    stmt = select(model).where(model.status.in_(PUBLIC_STATUSES))
    field_code = filters.get("field")
    if field_code:
        field_ids = select(Field.id).where(or_(Field.code == field_code, Field.code.startswith(field_code + ".")))
        stmt = stmt.where(model.field_id.in_(field_ids))
    region_id = filters.get("region")
    if region_id:
        region = db.session.get(Region, region_id)
        if region is not None:
            stmt = stmt.where(model.region_id.in_(select(Region.id).where(Region.path.startswith(region.path))))
    mode = filters.get("mode")
    if mode and mode in model.MODES:
        stmt = stmt.where(model.modes.contains(f",{mode},"))
    if kind == "achievement" and filters.get("maturity"):
        stmt = stmt.where(model.maturity == filters["maturity"])
    band = filters.get("band")
    amount_col = model.budget if kind == "demand" else model.price
    if band == "negotiable":
        stmt = stmt.where(amount_col.is_(None))
    elif band in _BAND_RANGES:
        low, high = _BAND_RANGES[band]
        if low is not None:
            stmt = stmt.where(amount_col >= Decimal(low) * WAN)
        if high is not None:
            stmt = stmt.where(amount_col < Decimal(high) * WAN)
    if filters.get("status") == "open":
        stmt = stmt.where(model.status == "published")
    # each card shows the organisation, region and field: loaded in three queries, not three per card
    return stmt.order_by(model.published_at.desc(), model.id.desc()).options(*card_loads(model))


def card_loads(model) -> tuple:
    """A listing card's organisation, region and field, joined into the listing's own statement (many-to-one:
    no extra rows; selectinload cost three more statements per list)."""
    return joinedload(model.org), joinedload(model.region), joinedload(model.field)


def own_listings(kind: str, *, org_id: int, status: str | None = None) -> Select:
    model = LISTING_MODELS[kind]
    stmt = select(model).where(model.org_id == org_id)
    if status:
        stmt = stmt.where(model.status == status)
    return stmt.order_by(model.updated_at.desc(), model.id.desc())


def listing_events(listing: ListingMixin) -> list[ListingEvent]:
    return db.session.scalars(
        select(ListingEvent)
        .where(ListingEvent.kind == listing.KIND, ListingEvent.listing_id == listing.id)
        .order_by(ListingEvent.at, ListingEvent.id)
    ).all()


def done_by_contract_reason(listing: ListingMixin) -> str | None:
    """The reason of the listing's latest move to done when a contract wrote it (None when its owner did).
    Only real moves count: history rows that leave the status as it was (from = to) are skipped."""
    reason = db.session.scalar(
        select(ListingEvent.reason)
        .where(ListingEvent.kind == listing.KIND, ListingEvent.listing_id == listing.id,
               ListingEvent.to_status == "done",
               or_(ListingEvent.from_status.is_(None), ListingEvent.from_status != "done"))
        .order_by(ListingEvent.id.desc())
        .limit(1)
    )
    return reason if reason is not None and reason.startswith(DONE_BY_CONTRACT) else None


def filter_options(kind: str) -> dict:
    # top-level fields in the order the administrator set (sort), then by code, as in the forms
    roots = db.session.scalars(select(Field).where(Field.parent_id.is_(None)).order_by(Field.sort, Field.code)).all()
    regions = db.session.scalars(select(Region).where(Region.level.in_(("city", "county"))).order_by(Region.path)).all()
    return {"fields": roots, "regions": regions, "bands": PRICE_BANDS, "modes": LISTING_MODELS[kind].MODES}


def status_counts(kind: str, *, org_id: int | None) -> dict[str, int]:
    """{status: how many} of an organisation's listings of one kind, in one grouped query (every status
    present, 0 when none): the 我的需求 / 我的成果 tabs and the workbench read the same figures."""
    from ..models.listing import STATUSES

    model = LISTING_MODELS[kind]
    found: dict[str, int] = {}
    if org_id is not None:
        found = dict(db.session.execute(
            select(model.status, func.count()).where(model.org_id == org_id).group_by(model.status)).all())
    return {status: int(found.get(status, 0)) for status in STATUSES}


def row_counts(kind: str, ids: list[int]) -> dict[int, tuple[int, int]]:
    """{listing id: (suggestions, interests)} for one page of an owner's list, in one query: the suggestions its
    suggestion panel lists (both sides published, not marked 不相关) and the interests addressed to it."""
    if not ids:
        return {}
    from ..deals.services import target_filter
    from ..matching.queries import not_marked

    model = LISTING_MODELS[kind]
    other = Achievement if kind == "demand" else Demand
    own_side, other_side = ((Suggestion.demand_id, Suggestion.achievement_id) if kind == "demand"
                            else (Suggestion.achievement_id, Suggestion.demand_id))
    suggestions = (
        select(func.count()).select_from(Suggestion).join(other, other.id == other_side)
        .where(own_side == model.id, model.status == "published", other.status == "published", not_marked())
        .correlate(model).scalar_subquery()
    )
    interests = (select(func.count()).select_from(Interest).where(target_filter(model))
                 .correlate(model).scalar_subquery())
    rows = db.session.execute(select(model.id, suggestions, interests).where(model.id.in_(ids))).all()
    return {listing_id: (int(s or 0), int(i or 0)) for listing_id, s, i in rows}
