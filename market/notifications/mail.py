"""E-mail of notices: SMTP, sent only by background jobs (never inside a request), with a signed 退订 link.

    notify()                  a notice whose topic the user wants "at once" queues a "mail.send" job in the same
                              transaction; a "digest" notice waits for the day's digest
    mail.send (job)           mails the notices of one event over one SMTP connection, each unless mailed_at says
                              it left already (a job run twice mails once); an SMTP failure raises: the job is
                              retried (market/jobs) and the notices stay in the site
    the sweep (every minute)  after MAIL_DIGEST_HOUR (China time) queues one "mail.digest" job per user with waiting
                              digest notices; a mail_digests row per user and day makes it once a day
    mail.digest (job)         one mail listing the user's waiting notices, each then marked mailed

Delivery is at least once: a consumer killed after the SMTP server accepted a mail and before mailed_at committed
sends it again; its Message-ID is fixed per notice (per digest) so that mail clients show it once.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..database import write_intent
from ..extensions import db
from ..jobs import job_enqueue, job_kind, on_sweep
from ..models import MailDigest, Notification, User
from ..models.base import utcnow
from .services import mail_mode, path_for
from .topics import TOPICS, topic_label, topic_of

log = logging.getLogger(__name__)

CHINA = timezone(timedelta(hours=8))  # no daylight saving: a fixed offset is exact
ALL_TOPICS = "*"
#: digest notices older than this are no longer mailed (a server without mail for weeks does not flood inboxes)
DIGEST_MAX_AGE = timedelta(days=3)


def mail_configured(app=None) -> bool:
    return bool((app or current_app).config.get("MAIL_SERVER"))


# --- the signed 退订 link -----------------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="market.mail-unsubscribe")


def unsubscribe_token(user_id: int, topic: str) -> str:
    return _serializer().dumps({"u": int(user_id), "t": topic})


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """(user id, topic or "*") of a valid token; None for anything else (tampered, truncated, another key)."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    topic = data.get("t")
    if topic != ALL_TOPICS and topic not in TOPICS:
        return None
    return data["u"], topic


def render_mail(name: str, **context) -> str:
    """A mail body from templates/mail/ (plain text): rendered without the page context processors, which need
    a request and a signed-in user; a job has neither."""
    return current_app.jinja_env.get_template(name).render(**context)


def site_link(path: str) -> str:
    return current_app.config["SITE_URL"].rstrip("/") + path


def unsubscribe_link(user_id: int, topic: str) -> str:
    return site_link(path_for("notifications.unsubscribe", token=unsubscribe_token(user_id, topic)))


# --- SMTP -----------------------------------------------------------------------------------------------------

def _message(*, to: str, subject: str, body: str, message_id: str, unsubscribe: str = "") -> EmailMessage:
    config = current_app.config
    msg = EmailMessage()
    name, address = parseaddr(config["MAIL_FROM"])
    msg["From"] = formataddr((name, address)) if name else address
    msg["To"] = to
    msg["Subject"] = " ".join(subject.split())  # a title's line breaks never reach a header
    msg["Message-ID"] = message_id
    if unsubscribe:  # a notice's mail; an invitation goes to someone without an account here
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"  # a page with one button: a GET never unsubscribes
    msg.set_content(body)
    return msg


compose = _message  # for the other mails sent by jobs (members/mail.py: invitations)


def _domain() -> str:
    return parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"


mail_domain = _domain


@contextmanager
def smtp_connection():
    """One connection to the configured SMTP server for a batch of messages; raises on any failure."""
    config = current_app.config
    host, port, timeout = config["MAIL_SERVER"], int(config["MAIL_PORT"]), float(config.get("MAIL_TIMEOUT", 10))
    if config.get("MAIL_USE_SSL"):
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config.get("MAIL_USE_TLS") and not config.get("MAIL_USE_SSL"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
        yield smtp


def _mark_mailed(session: Session, ids: list[int], *, mail: str | None = None) -> None:
    token = write_intent.set(True)
    try:
        for note in session.scalars(select(Notification).where(Notification.id.in_(ids))):
            if mail is not None:
                note.mail = mail  # a refused address: not mailed, never retried
            else:
                note.mailed_at = note.mailed_at or utcnow()
        session.commit()
    finally:
        write_intent.reset(token)


# --- the jobs ---------------------------------------------------------------------------------------------------

@job_kind("mail.send", label="发送通知邮件", lease_seconds=300, max_attempts=6, retry_seconds=60)
def mail_send(session: Session, payload: dict) -> str:
    """Mail the notices of one event (one job per notify() call), over one SMTP connection. Each notice is marked
    mailed as soon as the server took it: a retry after a failure half-way, or the job run twice, sends only
    what had not left. A recipient the server refuses for good (5xx) is recorded and skipped; anything else
    (the server down, a 4xx) raises, and the job is retried."""
    if not mail_configured():
        return "未配置邮件服务器，未发送"
    ids = [int(i) for i in payload.get("notification_ids") or [payload["notification_id"]]]
    token = write_intent.set(False)
    try:
        todo = []
        for note in session.scalars(select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)):
            user = session.get(User, note.user_id)
            topic = topic_of(note.kind)
            if (note.mailed_at is None and note.mail == "now" and user is not None and user.email and user.active
                    and mail_mode(session, user.id, topic) != "off"):
                todo.append((note, user, topic))
        session.commit()  # no transaction is held while the SMTP server answers
    finally:
        write_intent.reset(token)
    if not todo:
        return "没有待发送的邮件（已发送过，或用户已不接收）"
    sent, refused = [], []
    settings = site_link(path_for("notifications.settings"))
    with smtp_connection() as smtp:
        for note, user, topic in todo:
            unsubscribe = unsubscribe_link(user.id, topic)
            body = render_mail("mail/notice.txt", user=user, note=note, link=site_link(note.url) if note.url else "",
                               topic_label=topic_label(topic), unsubscribe=unsubscribe, settings=settings)
            message = _message(to=user.email, subject=f"【科技大市场】{note.text[:60]}", body=body,
                               message_id=f"<notice-{note.id}@{_domain()}>", unsubscribe=unsubscribe)
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                if any(code < 500 for code, _msg in exc.recipients.values()):
                    raise  # a temporary refusal (4xx): retried with the job
                log.warning("mail server refused %s for notice %s", user.email, note.id)
                refused.append(note.id)
                _mark_mailed(session, [note.id], mail="refused")
                continue
            sent.append(note.id)
            _mark_mailed(session, [note.id])
    return f"发送 {len(sent)} 封" + (f"，{len(refused)} 个地址被邮件服务器拒收" if refused else "")


def _digest_notices(session: Session, user_id: int, before: datetime) -> list[Notification]:
    rows = session.scalars(select(Notification).where(
        Notification.user_id == user_id, Notification.mail == "digest", Notification.mailed_at.is_(None),
        Notification.created_at < before, Notification.created_at >= before - DIGEST_MAX_AGE,
    ).order_by(Notification.created_at, Notification.id)).all()
    return [n for n in rows if mail_mode(session, user_id, topic_of(n.kind)) != "off"]


@job_kind("mail.digest", label="发送每日通知汇总邮件", lease_seconds=300, max_attempts=6, retry_seconds=120)
def mail_digest(session: Session, payload: dict) -> str:
    if not mail_configured():
        return "未配置邮件服务器，未发送"
    token = write_intent.set(False)
    try:
        digest = session.get(MailDigest, int(payload["digest_id"]))
        user = session.get(User, digest.user_id) if digest is not None else None
        notes = _digest_notices(session, user.id, digest.created_at) if user is not None else []
        session.commit()
    finally:
        write_intent.reset(token)
    if digest is None or user is None:
        return "汇总已不存在"
    if digest.sent_at is not None:
        return "今日汇总已发送过"
    if not notes or not user.email or not user.active:
        _digest_done(session, digest.id, 0)
        return "没有待汇总的通知"
    topics = sorted({topic_of(n.kind) for n in notes}, key=list(TOPICS).index)
    unsubscribe = unsubscribe_link(user.id, ALL_TOPICS)
    body = render_mail(
        "mail/digest.txt", user=user, day=digest.day,
        notes=[(n, site_link(n.url) if n.url else "") for n in notes],
        topics=[(topic_label(t), unsubscribe_link(user.id, t)) for t in topics], unsubscribe=unsubscribe,
        settings=site_link(path_for("notifications.settings")))
    with smtp_connection() as smtp:
        smtp.send_message(_message(
            to=user.email, subject=f"【科技大市场】{digest.day:%Y年%m月%d日}通知汇总（{len(notes)} 条）", body=body,
            message_id=f"<digest-{digest.id}@{_domain()}>", unsubscribe=unsubscribe))
    _mark_mailed(session, [n.id for n in notes])
    _digest_done(session, digest.id, len(notes))
    return f"{len(notes)} 条通知已汇总发送至 {user.email}"


def _digest_done(session: Session, digest_id: int, count: int) -> None:
    token = write_intent.set(True)
    try:
        digest = session.get(MailDigest, digest_id)
        digest.sent_at = utcnow()
        digest.notices = count
        session.commit()
    finally:
        write_intent.reset(token)


def china_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(CHINA).date()


def digests_queue(now: datetime | None = None, *, any_hour: bool = False) -> int:
    """Queue today's digest for every user with waiting digest notices and none queued today; before
    MAIL_DIGEST_HOUR (China time) nothing, unless `any_hour` (`flask mail digests`). Returns how many were queued. Safe on every node at once: the unique
    (user, day) row refuses a second digest."""
    if not mail_configured():
        return 0
    now = now or utcnow()
    local = now.astimezone(CHINA)
    if not any_hour and local.hour < int(current_app.config.get("MAIL_DIGEST_HOUR", 8)):
        return 0
    day = local.date()
    token = write_intent.set(False)
    try:
        with Session(db.engine) as session:
            waiting = set(session.scalars(select(Notification.user_id).where(
                Notification.mail == "digest", Notification.mailed_at.is_(None),
                Notification.created_at < now, Notification.created_at >= now - DIGEST_MAX_AGE).distinct()))
            done = set(session.scalars(select(MailDigest.user_id).where(MailDigest.day == day)))
    finally:
        write_intent.reset(token)
    queued = 0
    for user_id in sorted(waiting - done):
        with Session(db.engine) as session:
            token = write_intent.set(True)
            try:
                digest = MailDigest(user_id=user_id, day=day, created_at=now)
                session.add(digest)
                session.flush()
                job_enqueue(kind="mail.digest", payload={"digest_id": digest.id}, session=session)
                session.commit()
                queued += 1
            except IntegrityError:  # another node queued it meanwhile
                session.rollback()
            finally:
                write_intent.reset(token)
    return queued


def init_app(app) -> None:
    on_sweep(_sweep)


def _sweep() -> None:
    digests_queue()
