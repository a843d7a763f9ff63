"""The demo's 竞价 (issue 20): the city's published session of three results of institutions: one ended (sold
above its reserve, a deal opened at the price), one running now with bids and a proxy, one starting tomorrow.
Written through the services, as the organiser's and bidders' forms do; times are then moved so that the ended lot
lies in the past (the service only accepts future times)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update

from ..extensions import db
from ..formtokens import new_form_token
from ..models import Achievement, Organization, Region, User
from ..models.auction import AuctionBid, AuctionDeposit, AuctionLot, AuctionLotEvent
from ..models.base import utcnow
from ..models.org import INSTITUTION_TYPES
from . import services


def seed_demo_auctions() -> None:
    official = db.session.scalar(select(User).join(Region, Region.id == User.region_id).where(
        User.role == "official", Region.level == "city", User.active.is_(True)).order_by(User.id).limit(1))
    if official is None:
        return
    taken = select(AuctionLot.achievement_id)
    results = [a for a in db.session.scalars(select(Achievement).join(Organization, Organization.id == Achievement.org_id)
                                             .where(Achievement.status == "published",
                                                    Organization.org_type.in_(INSTITUTION_TYPES),
                                                    Organization.status == "verified", Achievement.id.not_in(taken))
                                             .order_by(Achievement.id.desc()).limit(50))
               if official.region.contains(a.region)][:3]
    bidders = db.session.scalars(select(User).join(Organization, Organization.id == User.org_id).where(
        User.role == "enterprise", User.active.is_(True), Organization.status == "verified")
        .order_by(User.id)).all()
    users = list({u.org_id: u for u in reversed(bidders)}.values())[:3]
    if len(results) < 3 or len(users) < 3:
        return
    session = services.session_create(user=official, title="科技成果公开竞价专场（第一期）",
                                      description="高校院所科技成果公开竞价。竞买人须先缴纳保证金，经组织方确认到账后出价；"
                                                  "结束前5分钟内有出价的，结束时间自动延长5分钟。",
                                      token=new_form_token())
    now = utcnow()
    terms = [(Decimal("800000"), Decimal("900000"), Decimal("20000")),
             (Decimal("1500000"), Decimal("1600000"), Decimal("50000")),
             (Decimal("600000"), None, Decimal("10000"))]
    lots = []
    for (start, reserve, inc), a in zip(terms, results):
        lots.append(services.lot_create(user=official, session=session, achievement_id=a.id, starting_price=start,
                                        reserve_price=reserve, increment=inc, deposit_amount=Decimal("50000"),
                                        starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=3),
                                        token=new_form_token()))
    services.session_publish(user=official, session=session)
    ended, running, upcoming = lots
    for lot in (ended, running):  # open them now (the service takes future times only)
        db.session.execute(update(AuctionLot).where(AuctionLot.id == lot.id).values(starts_at=now - timedelta(days=2)))
    db.session.expire_all()
    for lot in lots:
        for u in users:
            if u.org_id != lot.seller_org_id:
                services.deposit_record(user=official, lot=lot, org_id=u.org_id, amount=Decimal("50000"))
    a, b, c = users
    services.bid_place(user=a, lot=ended, amount=Decimal("800000"))
    services.proxy_set(user=b, lot=ended, ceiling=Decimal("1000000"))
    services.bid_place(user=c, lot=ended, amount=Decimal("1020000"))
    services.bid_place(user=a, lot=ended, amount=Decimal("1100000"))
    services.bid_place(user=b, lot=running, amount=Decimal("1500000"))
    services.proxy_set(user=c, lot=running, ceiling=Decimal("1700000"))
    services.bid_place(user=a, lot=running, amount=Decimal("1600000"))
    # the ended lot's bidding happened yesterday; it closed then (sold: 1,100,000 above the 900,000 reserve)
    shift = timedelta(days=1, hours=2)
    for model in (AuctionBid, AuctionLotEvent):
        for row in db.session.scalars(select(model).where(model.lot_id == ended.id,
                                                          model.kind.in_(("bid", "proxy", "proxy_set", "deposit")))):
            row.created_at -= shift
    for deposit in db.session.scalars(select(AuctionDeposit).where(AuctionDeposit.lot_id == ended.id)):
        deposit.received_at -= shift
    db.session.flush()
    db.session.execute(update(AuctionLot).where(AuctionLot.id == ended.id).values(
        ends_at=now - timedelta(days=1), original_ends_at=now - timedelta(days=1)))
    db.session.expire_all()
    services.lot_close(lot=ended.id, now=now - timedelta(days=1) + timedelta(minutes=1))
    db.session.flush()
