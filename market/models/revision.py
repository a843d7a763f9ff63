"""A change to a published listing waiting for review (issue 17 item 5): the published version stays public (page,
search, matching) until a reviewer approves; 退回 keeps it and tells the owner."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .user import User

REVISION_STATUSES = {"pending": "待审核", "approved": "已通过", "returned": "已退回", "withdrawn": "已撤销"}


class ListingRevision(db.Model):
    __tablename__ = "listing_revisions"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'returned', 'withdrawn')", name="status"),
        CheckConstraint("kind IN ('demand', 'achievement')", name="kind"),
        # at most one change waiting per listing, even under concurrent edits
        Index("uq_listing_revisions_open", "kind", "listing_id", unique=True,
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    listing_id: Mapped[int] = mapped_column(Integer, index=True)
    # the reviewed fields as the owner wants them (JSON, the listing's stored form: dates ISO, codes as stored)
    data: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(500), default="")

    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def values(self) -> dict:
        return json.loads(self.data or "{}")

    @property
    def status_label(self) -> str:
        return REVISION_STATUSES[self.status]
