"""Reads for 竞价 sessions: the lists, a lot's live state (never the reserve or another bidder's ceiling before
the end), its history, bidder numbers, and a session's results (items, sold, starting and final totals, premium)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Select, and_, func, or_, select

from ..extensions import db
from ..money import exact_sum, join_sum
from ..models.auction import AuctionBid, AuctionDeposit, AuctionLot, AuctionLotEvent, AuctionProxy, AuctionSession
from ..permissions import is_verified_actor, scope_region_ids

RECENT_BIDS = 20  # in the polled state (the page shows as many: the poll redraws them)
PAGE_BIDS = 20  # on the lot's page; the history (paginated) holds every bid


def sessions_visible(user) -> Select:
    """Published and cancelled sessions for everyone; drafts for their organiser's side too."""
    visible = AuctionSession.state != "draft"
    if getattr(user, "is_authenticated", False) and is_verified_actor(user):
        if user.role == "broker":
            visible = or_(visible, AuctionSession.organiser_org_id == user.org_id)
        elif user.role == "official":
            sub = scope_region_ids(user)
            if sub is not None:
                visible = or_(visible, and_(AuctionSession.organiser_org_id.is_(None),
                                            AuctionSession.region_id.in_(sub)))
        elif user.role == "admin":
            visible = True
    return select(AuctionSession).where(visible).order_by(AuctionSession.id.desc())


def bidder_numbers(lot_id: int) -> dict[int, int]:
    """Each bidding organisation's number on the lot (竞买号), in the order its deposit was recorded."""
    ids = db.session.scalars(select(AuctionDeposit.org_id).where(AuctionDeposit.lot_id == lot_id)
                             .order_by(AuctionDeposit.id))
    return {org_id: n for n, org_id in enumerate(ids, 1)}


def bidder_label(numbers: dict[int, int], org_id: int | None, own_org_id: int | None = None) -> str:
    if org_id is None:
        return ""
    if own_org_id is not None and org_id == own_org_id:
        return f"贵单位（{numbers.get(org_id, 0):03d}号）"
    return f"{numbers.get(org_id, 0):03d}号竞买人"


def recent_bids(lot_id: int, limit: int = RECENT_BIDS) -> list[AuctionBid]:
    return list(db.session.scalars(select(AuctionBid).where(AuctionBid.lot_id == lot_id)
                                   .order_by(AuctionBid.seq.desc()).limit(limit)))


def lot_events(lot_id: int) -> Select:
    return select(AuctionLotEvent).where(AuctionLotEvent.lot_id == lot_id).order_by(AuctionLotEvent.id.desc())


def own_proxy(lot_id: int, org_id: int | None) -> AuctionProxy | None:
    if org_id is None:
        return None
    return db.session.scalar(select(AuctionProxy).where(AuctionProxy.lot_id == lot_id, AuctionProxy.org_id == org_id))


def own_deposit(lot_id: int, org_id: int | None) -> AuctionDeposit | None:
    if org_id is None:
        return None
    return db.session.scalar(select(AuctionDeposit).where(AuctionDeposit.lot_id == lot_id,
                                                          AuctionDeposit.org_id == org_id))


def deposits(lot_id: int) -> list[AuctionDeposit]:
    return list(db.session.scalars(select(AuctionDeposit).where(AuctionDeposit.lot_id == lot_id)
                                   .order_by(AuctionDeposit.id)))


def next_amount(lot: AuctionLot) -> Decimal:
    return lot.starting_price if lot.current_price is None else lot.current_price + lot.increment


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def lot_state(lot: AuctionLot, *, now: datetime, viewer_org_id: int | None, may_bid_reason: str | None) -> dict:
    """The live state the lot page polls. Before the close it holds no reserve and no proxy ceiling but the
    viewer's own; after the close it says whether the reserve was met (and shows the reserve)."""
    from ..money import format_yuan

    numbers = bidder_numbers(lot.id)
    phase = lot.phase(now)
    state = {
        "lot_id": lot.id,
        "version": lot.version,
        "phase": phase,
        "phase_label": PHASE_LABELS[phase],
        "server_time": now.isoformat(),
        "starts_at": _iso(lot.starts_at),
        "ends_at": _iso(lot.ends_at),
        "extended": lot.ends_at != lot.original_ends_at,
        "starting_price": str(lot.starting_price),
        "increment": str(lot.increment),
        "current_price": str(lot.current_price) if lot.current_price is not None else None,
        "current_price_label": format_yuan(lot.current_price) if lot.current_price is not None else "暂无出价",
        "next_amount": str(next_amount(lot)),
        "leader": bidder_label(numbers, lot.leader_org_id, viewer_org_id),
        "you_lead": viewer_org_id is not None and lot.leader_org_id == viewer_org_id,
        "bid_count": lot.bid_count,
        "bidders": len(numbers),
        "bids": [{"seq": b.seq, "bidder": bidder_label(numbers, b.org_id, viewer_org_id), "amount": str(b.amount),
                  "amount_label": format_yuan(b.amount), "kind": b.kind, "at": b.created_at.isoformat()}
                 for b in recent_bids(lot.id)],
        "may_bid": may_bid_reason is None and phase == "running",
        "why_not": may_bid_reason,
    }
    proxy = own_proxy(lot.id, viewer_org_id)
    if proxy is not None:
        state["your_ceiling"] = str(proxy.ceiling)
    if lot.state != "open":
        state["reserve_met"] = lot.state == "sold"
        state["reserve_price"] = str(lot.reserve_price) if lot.reserve_price is not None else None
    return state


PHASE_LABELS = {"upcoming": "未开始", "running": "竞价中", "ended": "已结束，待确认结果", "sold": "已成交", "unsold": "流拍"}


@dataclass
class Results:
    items: int
    closed: int
    sold: int
    starting_total: Decimal  # the sold lots' starting prices
    final_total: Decimal  # the sold lots' winning prices

    @property
    def premium(self) -> Decimal | None:
        """溢价率 in percent: (final - starting) / starting over the sold lots, one decimal."""
        if not self.starting_total:
            return None
        return ((self.final_total - self.starting_total) * 100 / self.starting_total).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP)


def session_results(session_ids: list[int], window: tuple[datetime, datetime] | None = None) -> dict[int, Results]:
    """Per session: lots, closed lots, sold lots, and the sums over sold lots, computed in SQL; with `window`
    (start, end), only the lots whose end (ends_at, after any extension) falls in [start, end)."""
    if not session_ids:
        return {}
    in_window = (AuctionLot.ends_at >= window[0], AuctionLot.ends_at < window[1]) if window else ()
    counts = db.session.execute(
        select(AuctionLot.session_id, func.count(AuctionLot.id),
               func.count(AuctionLot.id).filter(AuctionLot.state != "open"),
               func.count(AuctionLot.id).filter(AuctionLot.state == "sold"))
        .where(AuctionLot.session_id.in_(session_ids), *in_window).group_by(AuctionLot.session_id))
    sums = {row.session_id: row for row in db.session.execute(
        select(AuctionLot.session_id, *exact_sum(AuctionLot.starting_price, "start"),
               *exact_sum(AuctionLot.current_price, "final"))
        .where(AuctionLot.session_id.in_(session_ids), AuctionLot.state == "sold", *in_window)
        .group_by(AuctionLot.session_id))}
    out = {}
    for sid, items, closed, n_sold in counts:
        row = sums.get(sid)
        out[sid] = Results(items=items, closed=closed, sold=n_sold,
                           starting_total=join_sum(row.start_hi, row.start) if row else Decimal("0.00"),
                           final_total=join_sum(row.final_hi, row.final) if row else Decimal("0.00"))
    for sid in session_ids:
        out.setdefault(sid, Results(0, 0, 0, Decimal("0.00"), Decimal("0.00")))
    return out


def sessions_in_scope(user) -> Select:
    """Published sessions of the user's scope (the dashboard's results)."""
    from ..permissions import scope_filter

    stmt = select(AuctionSession).where(AuctionSession.state == "published").order_by(AuctionSession.id.desc())
    return scope_filter(stmt, user, AuctionSession.region_id)


def results_rows(user, region_ids: Select | None, window: tuple[datetime, datetime]) -> list[tuple[AuctionSession, Results]]:
    """The published sessions of the user's scope (under `region_ids` when given; newest first) that have a lot
    ending in `window` (start, end), each with the results of those lots alone: the dashboard's 竞价 tab for its
    period. Every such session is listed (no cut), so that the 合计 is the sum of the rows and of the lots."""
    stmt = sessions_in_scope(user).where(AuctionSession.id.in_(
        select(AuctionLot.session_id).where(AuctionLot.ends_at >= window[0], AuctionLot.ends_at < window[1])))
    if region_ids is not None:
        stmt = stmt.where(AuctionSession.region_id.in_(region_ids))
    sessions = list(db.session.scalars(stmt))
    results = session_results([s.id for s in sessions], window)
    return [(s, results[s.id]) for s in sessions]


def results_total(rows: list[tuple[AuctionSession, Results]]) -> Results:
    total = Results(0, 0, 0, Decimal("0.00"), Decimal("0.00"))
    for _, r in rows:
        total.items, total.closed, total.sold = total.items + r.items, total.closed + r.closed, total.sold + r.sold
        total.starting_total += r.starting_total
        total.final_total += r.final_total
    return total
