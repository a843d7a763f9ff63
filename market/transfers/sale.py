"""One result, one sale: the one rule every public-price path asks before it offers or sells a result.

A result is held, and cannot be put on 挂牌, put up as a 竞价 lot, or sold by either, while
- a 挂牌 of it is open within its period (other than the one being accepted),
- a lot of it is open in a 竞价 session that is not cancelled (other than the one being closed), or
- a deal opened at a public price (挂牌 or 竞价) for it is still live (not terminated): it was sold, and is on
  sale again only if that deal falls through.

The callers (transfers.services.listing_create / listing_accept, auctions.services.lot_create / lot_close) first
lock the result's row (`lock_result`), so two sales decided at the same moment by different paths (a 挂牌 accepted
while a lot closes) are decided one after the other and the second sees the first.
"""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Achievement, AuctionLot, AuctionSession, Deal, PriceListing
from ..models.base import utcnow
from .gate import PUBLIC_PRICE_SOURCES

HELD = {
    "listed": "该成果正在挂牌交易中",
    "in_auction": "该成果正在竞价专场中",
    "sold": "该成果已通过挂牌或竞价售出（对接尚未终止）",
}


def lock_result(achievement_id: int) -> None:
    """The result's row lock (FOR UPDATE on PostgreSQL; a SQLite write already holds the database's)."""
    db.session.execute(select(Achievement.id).where(Achievement.id == achievement_id).with_for_update())


def sale_held(achievement_id: int, *, listing_id: int | None = None, lot_id: int | None = None) -> str | None:
    """Why the result is held by another sale (a key of HELD), or None when it is free."""
    listing = select(PriceListing.id).where(
        PriceListing.achievement_id == achievement_id, PriceListing.status == "open", PriceListing.ends_at > utcnow())
    if listing_id is not None:
        listing = listing.where(PriceListing.id != listing_id)
    if db.session.scalar(listing.limit(1)) is not None:
        return "listed"
    lot = select(AuctionLot.id).join(AuctionSession, AuctionSession.id == AuctionLot.session_id).where(
        AuctionLot.achievement_id == achievement_id, AuctionLot.state == "open", AuctionSession.state != "cancelled")
    if lot_id is not None:
        lot = lot.where(AuctionLot.id != lot_id)
    if db.session.scalar(lot.limit(1)) is not None:
        return "in_auction"
    if db.session.scalar(select(Deal.id).where(
            Deal.achievement_id == achievement_id, Deal.source.in_(PUBLIC_PRICE_SOURCES),
            Deal.stage != "terminated").limit(1)) is not None:
        return "sold"
    return None
