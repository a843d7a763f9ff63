"""竞价 sessions (专场): an official or a 服务机构 opens a session of lots; each lot sells one published result to the
highest valid bid at or above its hidden reserve. Bidders record a deposit first; bids are decided on the server
under the lot's row lock (market/auctions/services.py) and every bid, extension and decision is kept as an event."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..money import Money
from .base import UTCDateTime, utcnow
from .deal import Deal
from .listing import Achievement
from .org import Organization
from .region import Region
from .user import User

SESSION_STATES = {"draft": "筹备中", "published": "已发布", "cancelled": "已取消"}
LOT_STATES = {"open": "竞价中", "sold": "已成交", "unsold": "流拍"}
DEPOSIT_STATES = {"held": "已收取", "to_return": "待退还", "applied": "已转作价款", "returned": "已退还"}
BID_KINDS = {"bid": "出价", "proxy": "代理出价"}
EVENT_KINDS = {"bid": "出价", "proxy": "代理出价", "proxy_set": "设置代理出价", "extend": "延时", "sold": "成交",
               "unsold": "流拍", "deposit": "保证金", "edit": "修改"}


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class AuctionSession(db.Model):
    __tablename__ = "auction_sessions"
    __table_args__ = (CheckConstraint(f"state IN ({_in(SESSION_STATES)})", name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # set when a 服务机构 organises the session (its verified brokers run it); None: the region's officials
    organiser_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    region: Mapped[Region] = relationship()
    organiser: Mapped[User] = relationship()
    organiser_org: Mapped[Organization | None] = relationship()
    lots: Mapped[list[AuctionLot]] = relationship(order_by="AuctionLot.id", back_populates="session")

    @property
    def state_label(self) -> str:
        return SESSION_STATES[self.state]


class AuctionLot(db.Model):
    """One lot. `ends_at` is the current end (moved by anti-sniping extensions), `original_ends_at` the one
    announced. `current_price`/`leader_org_id` are the standing highest bid; `version` grows with every change."""

    __tablename__ = "auction_lots"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(LOT_STATES)})", name="state"),
        CheckConstraint("starting_price > 0", name="starting_positive"),
        CheckConstraint("increment > 0", name="increment_positive"),
        CheckConstraint("deposit_amount >= 0", name="deposit_not_negative"),
        CheckConstraint("reserve_price IS NULL OR reserve_price > 0", name="reserve_positive"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("bid_count >= 0", name="bid_count_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("auction_sessions.id"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id"), index=True)
    seller_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    starting_price: Mapped[Decimal] = mapped_column(Money())
    reserve_price: Mapped[Decimal | None] = mapped_column(Money())  # hidden from bidders until the end
    increment: Mapped[Decimal] = mapped_column(Money())
    deposit_amount: Mapped[Decimal] = mapped_column(Money())
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    original_ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    snipe_window_minutes: Mapped[int] = mapped_column(Integer, default=5)
    extend_minutes: Mapped[int] = mapped_column(Integer, default=5)
    current_price: Mapped[Decimal | None] = mapped_column(Money())
    leader_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    bid_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    session: Mapped[AuctionSession] = relationship(back_populates="lots")
    achievement: Mapped[Achievement] = relationship()
    seller_org: Mapped[Organization] = relationship(foreign_keys=[seller_org_id])
    leader_org: Mapped[Organization | None] = relationship(foreign_keys=[leader_org_id])
    deal: Mapped[Deal | None] = relationship()

    @property
    def state_label(self) -> str:
        return LOT_STATES[self.state]

    def phase(self, now: datetime) -> str:
        """'upcoming', 'running', 'ended' (time is up, not yet closed), 'sold' or 'unsold'."""
        if self.state != "open":
            return self.state
        if now < self.starts_at:
            return "upcoming"
        return "running" if now < self.ends_at else "ended"


class AuctionDeposit(db.Model):
    """A bidder's deposit for a lot, recorded by the organiser's side once received; marked at the close."""

    __tablename__ = "auction_deposits"
    __table_args__ = (
        UniqueConstraint("lot_id", "org_id", name="uq_auction_deposits_lot_org"),
        CheckConstraint(f"status IN ({_in(DEPOSIT_STATES)})", name="status"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("auction_lots.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="held")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    org: Mapped[Organization] = relationship()
    recorded_by: Mapped[User] = relationship()

    @property
    def status_label(self) -> str:
        return DEPOSIT_STATES[self.status]


class AuctionBid(db.Model):
    """An accepted bid: `seq` numbers a lot's bids 1, 2, 3 ... and each is above the one before by at least the
    increment (the unique constraints are the last guard against two bids decided at once)."""

    __tablename__ = "auction_bids"
    __table_args__ = (
        UniqueConstraint("lot_id", "seq", name="uq_auction_bids_lot_seq"),
        UniqueConstraint("lot_id", "amount", name="uq_auction_bids_lot_amount"),
        CheckConstraint(f"kind IN ({_in(BID_KINDS)})", name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("auction_lots.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    kind: Mapped[str] = mapped_column(String(8), default="bid")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    org: Mapped[Organization] = relationship()


class AuctionProxy(db.Model):
    """A bidder's ceiling (代理出价): the server raises the bidder's bid by one increment whenever outbid, up to
    the ceiling. Seen only by the bidder's organisation (and the organiser after the end)."""

    __tablename__ = "auction_proxies"
    __table_args__ = (UniqueConstraint("lot_id", "org_id", name="uq_auction_proxies_lot_org"), CheckConstraint("ceiling > 0", name="ceiling_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("auction_lots.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ceiling: Mapped[Decimal] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuctionLotEvent(db.Model):
    """The lot's history: every bid, proxy raise, extension, deposit and the close decision."""

    __tablename__ = "auction_lot_events"
    __table_args__ = (CheckConstraint(f"kind IN ({_in(EVENT_KINDS)})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("auction_lots.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    bid_seq: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Money())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def kind_label(self) -> str:
        return EVENT_KINDS[self.kind]
