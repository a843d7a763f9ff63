"""Reads: a user's notifications and the unread count shown in the header."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from ..extensions import db
from ..models import Notification, Subscription


def for_user(user, *, unread_only: bool = False) -> Select:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def unread_count(user) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def subscriptions_of(user) -> Select:
    return select(Subscription).where(Subscription.user_id == user.id).order_by(Subscription.id.desc())
