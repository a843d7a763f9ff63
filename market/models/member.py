"""Organisation members (issue 17 item 6): one-time invitations an organisation's administrator hands to colleagues.
The membership itself is users.org_id with users.org_admin (one organisation per account)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .org import Organization
from .user import User


class OrgInvitation(db.Model):
    """A one-time link to join an organisation: signed (market/members/services.py), expiring, used once,
    revocable. The nonce is in the signed token, so a link cannot be forged from an id."""

    __tablename__ = "org_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(43), unique=True)
    note: Mapped[str] = mapped_column(String(50), default="")  # whom it is for, as the admin wrote it
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    org: Mapped[Organization] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    used_by: Mapped[User | None] = relationship(foreign_keys=[used_by_id])

    def is_open(self, now: datetime | None = None) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > (now or utcnow())
