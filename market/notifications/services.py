"""Writes: notify users, mark notifications read."""
from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, has_request_context, request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import DomainError
from ..extensions import db
from ..jobs import job_enqueue
from ..models import MAIL_MODES, Field, Notification, NotificationPref, Region, Subscription, User
from ..models.base import utcnow
from .topics import TOPICS, topic_of

#: subscriptions one user may keep
MAX_SUBSCRIPTIONS = 50


def path_for(endpoint: str, _anchor: str = "", **values) -> str:
    """A local path for a notification link; works inside a request, a CLI command or a test."""
    script_root = request.script_root if has_request_context() else ""
    adapter = current_app.url_map.bind("localhost", script_name=script_root or "/")
    path = adapter.build(endpoint, values)
    return path + (f"#{_anchor}" if _anchor else "")


def notify(*, users: Iterable[User | int | None], kind: str, text: str, url: str = "", exclude: User | None = None,
           key: str | None = None, session: Session | None = None) -> int:
    """Add one notice per distinct recipient (skipping `exclude`, the actor) in the caller's transaction. With
    `key`, a recipient who already has a notice with that key gets no second one. Each notice's e-mail follows the
    recipient's choice for its topic: at once (a "mail.send" job queued in this same transaction, sent after the
    commit by a consumer), in the daily digest, or none. Returns how many notices were added."""
    session = session or db.session
    seen: list[int] = []
    for u in users:
        if u is None:
            continue
        uid = u if isinstance(u, int) else u.id
        if exclude is None or uid != exclude.id:
            seen.append(uid)
    seen = list(dict.fromkeys(seen))  # each recipient once, in order
    if key is not None and seen:
        told = set(session.scalars(select(Notification.user_id).where(Notification.user_id.in_(seen),
                                                                       Notification.key == key)))
        seen = [uid for uid in seen if uid not in told]
    modes = _mail_modes(session, seen, topic_of(kind))
    added: list[Notification] = []
    for uid in seen:
        note = Notification(user_id=uid, kind=kind, text=text[:300], url=url[:300], key=key, mail=modes.get(uid, ""),
                            created_at=utcnow())
        session.add(note)
        added.append(note)
    now = [n for n in added if n.mail == "now"]
    if now:  # one job for the notices of this event: one SMTP connection, one queue message
        session.flush()
        job_enqueue(kind="mail.send", payload={"notification_ids": [n.id for n in now]}, session=session)
    return len(added)


def _mail_modes(session: Session, user_ids: list[int], topic: str) -> dict[int, str]:
    """Each recipient's e-mail for a new notice of `topic`: "now" or "digest"; absent means none (no mail server
    configured, no e-mail address, an inactive account, or the user chose none). Two queries for any number."""
    if not user_ids or not current_app.config.get("MAIL_SERVER"):
        return {}
    with_email = set(session.scalars(select(User.id).where(User.id.in_(user_ids), User.active.is_(True),
                                                           User.email != "")))
    chosen = dict(session.execute(select(NotificationPref.user_id, NotificationPref.mode).where(
        NotificationPref.user_id.in_(with_email), NotificationPref.topic == topic)).all()) if with_email else {}
    default = TOPICS.get(topic, TOPICS["other"])[1]
    modes = {uid: chosen.get(uid, default) for uid in with_email}
    return {uid: mode for uid, mode in modes.items() if mode != "off"}


def mail_mode(session: Session, user_id: int, topic: str) -> str:
    chosen = session.scalar(select(NotificationPref.mode).where(NotificationPref.user_id == user_id,
                                                                NotificationPref.topic == topic))
    return chosen or TOPICS.get(topic, TOPICS["other"])[1]


def mail_modes(user: User) -> dict[str, str]:
    """Every topic -> the user's e-mail mode (the default where no choice is stored)."""
    chosen = dict(db.session.execute(select(NotificationPref.topic, NotificationPref.mode)
                                     .where(NotificationPref.user_id == user.id)).all())
    return {topic: chosen.get(topic, default) for topic, (_label, default) in TOPICS.items()}


def mail_prefs_set(*, user: User, modes: dict[str, str], session: Session | None = None) -> dict[str, str]:
    """Store the user's e-mail mode for each topic given (unknown topics or modes are refused)."""
    session = session or db.session
    for topic, mode in modes.items():
        if topic not in TOPICS or mode not in MAIL_MODES:
            raise DomainError("请为每类通知选择立即发送、每日汇总或不发邮件")
    for topic, mode in modes.items():
        row = session.get(NotificationPref, (user.id, topic))
        if row is None:
            session.add(NotificationPref(user_id=user.id, topic=topic, mode=mode, updated_at=utcnow()))
        else:
            row.mode = mode
            row.updated_at = utcnow()
    session.flush()
    return modes


def user_email_set(*, user: User, email: str) -> None:
    """The address notices are mailed to (the form checked its shape); "" stops all mail to the user."""
    user.email = email.strip()[:120]
    db.session.flush()


# --- subscriptions ------------------------------------------------------------------------------------------

def subscription_create(*, user: User, kind: str, q: str, field_code: str, region_id: int | None) -> Subscription:
    """Save a search (its words) or a field and region; the same subscription saved twice is kept once."""
    q = " ".join((q or "").split())[:100]
    kind = kind if kind in ("demand", "achievement") else "all"
    field_code = (field_code or "").strip()[:16]
    if field_code and db.session.scalar(select(Field.id).where(Field.code == field_code, Field.parent_id.is_(None))) is None:
        raise DomainError("技术领域不存在，请从列表中选择")
    if region_id is not None and db.session.get(Region, region_id) is None:
        raise DomainError("区域不存在，请从列表中选择")
    if not (q or field_code or region_id):
        raise DomainError("请先输入搜索词，或选择技术领域或区域，再订阅")
    same = db.session.scalar(select(Subscription).where(
        Subscription.user_id == user.id, Subscription.kind == kind, Subscription.q == q,
        Subscription.field_code == field_code,
        Subscription.region_id.is_(None) if region_id is None else Subscription.region_id == region_id))
    if same is not None:
        return same
    count = len(db.session.scalars(select(Subscription.id).where(Subscription.user_id == user.id)).all())
    if count >= MAX_SUBSCRIPTIONS:
        raise DomainError(f"每个账号最多保存 {MAX_SUBSCRIPTIONS} 个订阅，请先删除不再需要的订阅")
    sub = Subscription(user_id=user.id, kind=kind, q=q, field_code=field_code, region_id=region_id,
                       created_at=utcnow())
    db.session.add(sub)
    db.session.flush()
    return sub


def subscription_delete(*, subscription: Subscription, user: User) -> None:
    if subscription.user_id != user.id:
        raise DomainError("只能删除自己的订阅")
    db.session.delete(subscription)
    db.session.flush()


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
