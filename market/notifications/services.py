"""Writes: notify users, mark notifications read."""
from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, has_request_context, request
from sqlalchemy import update

from ..extensions import db
from ..models import Notification, User
from ..models.base import utcnow


def path_for(endpoint: str, _anchor: str = "", **values) -> str:
    """A local path for a notification link; works inside a request, a CLI command or a test."""
    script_root = request.script_root if has_request_context() else ""
    adapter = current_app.url_map.bind("localhost", script_name=script_root or "/")
    path = adapter.build(endpoint, values)
    return path + (f"#{_anchor}" if _anchor else "")


def notify(*, users: Iterable[User | int | None], kind: str, text: str, url: str = "", exclude: User | None = None) -> int:
    """Queue one notification per distinct recipient (skipping `exclude`, the actor); returns how many."""
    seen: set[int] = set()
    for u in users:
        if u is None:
            continue
        uid = u if isinstance(u, int) else u.id
        if uid in seen or (exclude is not None and uid == exclude.id):
            continue
        seen.add(uid)
        db.session.add(Notification(user_id=uid, kind=kind, text=text[:300], url=url[:300]))
    return len(seen)


def notification_mark_read(*, notification: Notification, user: User) -> Notification:
    if notification.read_at is None:
        notification.read_at = utcnow()
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount or 0
