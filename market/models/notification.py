"""In-app notifications: one row per recipient for every event that asks someone to act."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        db.Index("ix_notifications_user_read", "user_id", "read_at"),
        # a notice that must exist once per recipient (a new strong suggestion, a subscription hit) carries a key
        UniqueConstraint("user_id", "key", name="uq_notifications_user_key"),
        db.Index("ix_notifications_mail", "mail", "mailed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(300), default="")  # a local path
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    key: Mapped[str | None] = mapped_column(String(80))
    # how the notice goes out by e-mail, decided when it is made: "now" (a mail.send job), "digest" (the daily
    # digest), "" (site only); mailed_at is set once the mail left, so a job run twice mails it once
    mail: Mapped[str] = mapped_column(String(8), default="")
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


MAIL_MODES = {"now": "立即发送", "digest": "每日汇总", "off": "不发邮件"}


class NotificationPref(db.Model):
    """A user's e-mail choice for one topic of notices (market/notifications/topics.py); no row = the default."""

    __tablename__ = "notification_prefs"
    __table_args__ = (CheckConstraint("mode IN ('now', 'digest', 'off')", name="mode"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(16), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MailDigest(db.Model):
    """One daily digest per user and day (China time): the row is made when the digest is queued, so each day's
    digest is queued once whatever the number of sweeps and nodes; sent_at once the mail left."""

    __tablename__ = "mail_digests"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_mail_digests_user_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    notices: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
