"""Events (活动): 路演, 对接会, 成果巡展 run by a 科技局 official, with sessions, presented listings, sign-ups with a
waiting list and single-use check-in codes. (Named "happenings": market/events.py holds the domain signals.)"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .listing import LISTING_MODELS
from .org import Organization
from .region import Region
from .user import User

HAPPENING_KINDS = {"roadshow": "路演", "matchmaking": "对接会", "showcase": "成果巡展"}
SIGNUP_STATUSES = {"confirmed": "已报名", "waiting": "候补中", "cancelled": "已取消"}
HAPPENING_STATUSES = {"active": "正常", "cancelled": "已取消"}


class Happening(db.Model):
    __tablename__ = "happenings"
    __table_args__ = (
        CheckConstraint("kind IN ('roadshow', 'matchmaking', 'showcase')", name="kind"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        # the counter the sign-up's conditional UPDATE moves: it can never pass the capacity
        CheckConstraint("confirmed_count >= 0 AND confirmed_count <= capacity", name="confirmed_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # called off by its organiser (services.happening_cancel): the time, who and why are kept with it
        CheckConstraint("status IN ('active', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    place: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signup_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # 承办机构: the 服务机构 that runs the event for the bureau (主办), named by the organiser (an official); the
    # event counts on that agency's yearly sheet (market.agencies.services.happening_set_agency)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)

    region: Mapped[Region] = relationship()
    organiser: Mapped[User] = relationship(foreign_keys=[organiser_id])
    agency: Mapped[Organization | None] = relationship(foreign_keys=[agency_id])
    sessions: Mapped[list[HappeningSession]] = relationship(order_by="HappeningSession.starts_at, HappeningSession.id")
    presented: Mapped[list[HappeningListing]] = relationship(order_by="HappeningListing.id")

    @property
    def kind_label(self) -> str:
        return HAPPENING_KINDS[self.kind]

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


class HappeningSession(db.Model):
    __tablename__ = "happening_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    happening_id: Mapped[int] = mapped_column(ForeignKey("happenings.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HappeningListing(db.Model):
    """A published need or result presented at the event."""

    __tablename__ = "happening_listings"
    __table_args__ = (
        CheckConstraint("kind IN ('demand', 'achievement')", name="kind"),
        UniqueConstraint("happening_id", "kind", "listing_id", name="uq_happening_listings"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    happening_id: Mapped[int] = mapped_column(ForeignKey("happenings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    listing_id: Mapped[int] = mapped_column(Integer)

    @property
    def listing(self):
        return db.session.get(LISTING_MODELS[self.kind], self.listing_id)


class HappeningSignup(db.Model):
    """One account's sign-up: confirmed (holds a seat), waiting (in queued_at order) or cancelled.

    The check-in code is an HMAC of (id, nonce) under the app's secret: it cannot be made without the secret, and
    checked_in_at is set by one conditional UPDATE, so a code is used once."""

    __tablename__ = "happening_signups"
    __table_args__ = (
        CheckConstraint("status IN ('confirmed', 'waiting', 'cancelled')", name="status"),
        UniqueConstraint("happening_id", "user_id", name="uq_happening_signups_user"),
        Index("ix_happening_signups_queue", "happening_id", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    happening_id: Mapped[int] = mapped_column(ForeignKey("happenings.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    nonce: Mapped[str] = mapped_column(String(32))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    happening: Mapped[Happening] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    org: Mapped[Organization | None] = relationship()

    @property
    def status_label(self) -> str:
        return SIGNUP_STATUSES[self.status]
