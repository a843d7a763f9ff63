"""Subscriptions: a saved search, or a field and region, whose new published listings reach the subscriber."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .region import Region

SUBSCRIPTION_KINDS = {"all": "需求和成果", "demand": "技术需求", "achievement": "科技成果"}


class Subscription(db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (CheckConstraint("kind IN ('all', 'demand', 'achievement')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="all")
    q: Mapped[str] = mapped_column(String(100), default="")  # the search words; "" = any
    field_code: Mapped[str] = mapped_column(String(16), default="")  # a top-level 技术领域 code; "" = any
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))  # and below it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    region: Mapped[Region | None] = relationship()

    @property
    def kind_label(self) -> str:
        return SUBSCRIPTION_KINDS[self.kind]
