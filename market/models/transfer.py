"""Issue 20, sections 1-2: the 公示 of a 协议定价 transfer or licence by a 高校 or 科研院所 (《促进科技成果转化法》
art. 18) with its objections, and the 挂牌 of a result at a fixed price (the first verified buyer who accepts
opens a deal at that price)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..money import Money
from .base import UTCDateTime, utcnow
from .listing import Achievement
from .org import Organization
from .user import User

# the contract types a 公示 covers (CONTRACT_TYPES keys): a negotiated price of a transfer or a licence
DISCLOSED_TYPES = {"transfer": "技术转让", "license": "技术许可"}
DISCLOSURE_STATES = {
    "open": "公示中",
    "pending": "公示期满，异议待处理",
    "cleared": "公示期满无异议",
    "upheld": "异议成立",
    "withdrawn": "已撤回",
}
OBJECTION_DECISIONS = {"upheld": "异议成立", "rejected": "异议不成立"}
LISTING_STATES = {"open": "挂牌中", "expired": "已到期", "sold": "已成交", "withdrawn": "已撤牌", "upcoming": "未开始"}


class Disclosure(db.Model):
    """A 公示 of a negotiated transfer or licence of a result: its state follows from the clock and the
    objections (state()); `contract_id` is the live contract it cleared for registration, if any."""

    __tablename__ = "disclosures"
    __table_args__ = (
        CheckConstraint("contract_type IN ('transfer', 'license')", name="contract_type"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("ends_at > starts_at", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)  # the seller: the result's owner
    buyer_name: Mapped[str] = mapped_column(String(100))
    buyer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    contract_type: Mapped[str] = mapped_column(String(16))
    price: Mapped[Decimal] = mapped_column(Money())  # 元
    note: Mapped[str] = mapped_column(Text, default="")  # how the price was arrived at (评估, 协商)
    days: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    contact_name: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(30), default="")
    contact_email: Mapped[str] = mapped_column(String(120), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)

    achievement: Mapped[Achievement] = relationship()
    org: Mapped[Organization] = relationship(foreign_keys=[org_id])
    buyer_org: Mapped[Organization | None] = relationship(foreign_keys=[buyer_org_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    objections: Mapped[list[DisclosureObjection]] = relationship(order_by="DisclosureObjection.id",
                                                                 back_populates="disclosure")

    @property
    def type_label(self) -> str:
        return DISCLOSED_TYPES[self.contract_type]

    def state(self, now: datetime | None = None) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        decisions = [o.decision for o in self.objections]
        if "upheld" in decisions:
            return "upheld"
        if (now or utcnow()) < self.ends_at:
            return "open"
        # an objection lodged in time and not yet decided holds the 公示 open until an official decides it
        return "pending" if None in decisions else "cleared"

    def state_label(self, now: datetime | None = None) -> str:
        return DISCLOSURE_STATES[self.state(now)]


class DisclosureObjection(db.Model):
    """An objection to a 公示, lodged during its period: the owner answers it, an official of the owner's region
    (or an administrator) decides whether it is upheld. The objector's contact is never shown publicly."""

    __tablename__ = "disclosure_objections"
    __table_args__ = (
        CheckConstraint("decision IS NULL OR decision IN ('upheld', 'rejected')", name="decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    disclosure_id: Mapped[int] = mapped_column(ForeignKey("disclosures.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    author_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    reasons: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(120), default="")  # private: owner, officials, admins
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(12))
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    disclosure: Mapped[Disclosure] = relationship(back_populates="objections")
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    author_org: Mapped[Organization | None] = relationship(foreign_keys=[author_org_id])

    @property
    def decision_label(self) -> str:
        return OBJECTION_DECISIONS.get(self.decision or "", "待处理")


class PriceListing(db.Model):
    """A 挂牌: a result offered at a fixed price for a period. One open 挂牌 per result (an expired one is closed
    when the next is listed); the first verified buyer who accepts buys it and opens a deal at the price."""

    __tablename__ = "price_listings"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'expired', 'sold', 'withdrawn')", name="status"),
        CheckConstraint("contract_type IN ('transfer', 'license')", name="contract_type"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("ends_at > starts_at", name="period"),
        CheckConstraint("status != 'sold' OR (buyer_org_id IS NOT NULL AND deal_id IS NOT NULL)", name="sold_has_buyer"),
        Index("uq_price_listings_open", "achievement_id", unique=True,
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    contract_type: Mapped[str] = mapped_column(String(16), default="transfer")
    price: Mapped[Decimal] = mapped_column(Money())  # 元
    note: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    buyer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    buyer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), unique=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    achievement: Mapped[Achievement] = relationship()
    org: Mapped[Organization] = relationship(foreign_keys=[org_id])
    buyer_org: Mapped[Organization | None] = relationship(foreign_keys=[buyer_org_id])

    @property
    def type_label(self) -> str:
        return DISCLOSED_TYPES.get(self.contract_type, "")

    def state(self, now: datetime | None = None) -> str:
        if self.status != "open":
            return self.status
        now = now or utcnow()
        if now < self.starts_at:
            return "upcoming"
        return "open" if now < self.ends_at else "expired"

    def state_label(self, now: datetime | None = None) -> str:
        return LISTING_STATES[self.state(now)]
