"""Building 竞价 lots for the tests: a published session of the city with one lot of the university's result,
running now (or at the times given), and deposits recorded for the bidders named."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from market.extensions import db
from market.models import Organization, User
from market.models.auction import AuctionDeposit, AuctionLot, AuctionSession
from market.models.base import utcnow
from tests import factories


def make_lot(world, *, starting=Decimal("100000.00"), increment=Decimal("10000.00"), reserve=None,
             deposit=Decimal("5000.00"), starts_in=timedelta(minutes=-1), ends_in=timedelta(hours=1),
             snipe=0, extend=5, bidders=(), state="published") -> AuctionLot:
    """The lot of a session the city official organised; `bidders` are organisations with a held deposit."""
    seller = world.users.institution
    achievement = factories.achievement(owner=seller, field=world.fields["materials"], status="published")
    session = AuctionSession(title="蚌埠市科技成果竞价专场", description="测试专场", region_id=world.regions["city"].id,
                             organiser_id=world.users.city_official.id, state=state, published_at=utcnow())
    db.session.add(session)
    db.session.flush()
    now = utcnow()
    lot = AuctionLot(session_id=session.id, achievement_id=achievement.id, seller_org_id=seller.org_id,
                     starting_price=starting, reserve_price=reserve, increment=increment, deposit_amount=deposit,
                     starts_at=now + starts_in, ends_at=now + ends_in, original_ends_at=now + ends_in,
                     snipe_window_minutes=snipe, extend_minutes=extend, state="open", bid_count=0, version=0)
    db.session.add(lot)
    db.session.flush()
    for org in bidders:
        add_deposit(lot, org, world.users.city_official)
    db.session.commit()
    return lot


def add_deposit(lot: AuctionLot, org: Organization, by: User) -> AuctionDeposit:
    d = AuctionDeposit(lot_id=lot.id, org_id=org.id, amount=lot.deposit_amount, recorded_by_id=by.id,
                       received_at=utcnow(), status="held", updated_at=utcnow())
    db.session.add(d)
    db.session.flush()
    return d


def bidder_accounts(world, n: int) -> list[User]:
    """n verified enterprises of the county, one account each."""
    users = []
    for i in range(n):
        org = factories.org(region=world.regions["county_a"], name=f"竞买测试企业{i:03d}有限公司")
        users.append(factories.user(role="enterprise", org=org, username=f"bidder{i:03d}"))
    db.session.commit()
    return users
