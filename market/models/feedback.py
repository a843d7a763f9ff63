"""What owners told the market about its suggestions: a pairing marked 不相关 by one of its owners."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .listing import Achievement, Demand

FEEDBACK_KINDS = {"not_relevant": "不相关"}


class MatchFeedback(db.Model):
    """One organisation's verdict on one (need, result) pairing. A 不相关 mark hides the pairing from every list
    of suggestions and keeps it out of the stored suggestions at every refresh (market/matching/feedback.py).
    Interests declined as 技术不对口 are read from `interests` itself (reason_code 'not_relevant')."""

    __tablename__ = "match_feedback"
    __table_args__ = (
        UniqueConstraint("demand_id", "achievement_id", "org_id", "kind", name="uq_match_feedback_pair_org_kind"),
        CheckConstraint("kind IN ('not_relevant')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="not_relevant")
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)  # the owner that judged
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    demand: Mapped[Demand] = relationship()
    achievement: Mapped[Achievement] = relationship()
