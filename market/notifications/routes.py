"""The notification list; opening one marks it read and follows its link."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import DomainError
from ..extensions import db
from ..forms import posted_text
from ..models import MAIL_MODES, SUBSCRIPTION_KINDS, Notification, Subscription, User
from ..pagination import get_page, paginate
from ..security import safe_next
from . import mail, queries, services
from .forms import MailSettingsForm
from .topics import TOPICS

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def _get_own(notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    return notification


@bp.route("/")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    pagination = paginate(queries.for_user(current_user, unread_only=unread_only), page=get_page())
    return render_template("notifications/index.html", pagination=pagination, unread_only=unread_only)


@bp.route("/<int:notification_id>/open", methods=["POST"])
@login_required
def open_(notification_id: int):
    notification = _get_own(notification_id)
    services.notification_mark_read(notification=notification, user=current_user)
    db.session.commit()
    return redirect(safe_next(notification.url, url_for("notifications.index")))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all():
    count = services.notifications_mark_all_read(user=current_user)
    db.session.commit()
    flash(f"已将 {count} 条通知标记为已读", "success")
    return redirect(url_for("notifications.index"))


# --- e-mail choices -------------------------------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """The signed-in user's own address and e-mail choices (no user id in the URL or the form to point elsewhere).
    A refusal re-renders the form with what was chosen and the error at its place, with a 400."""
    modes = services.mail_modes(current_user)
    form = MailSettingsForm(data={"email": current_user.email})
    error = ""
    if request.method == "POST":
        chosen = {topic: request.form.get(f"mode_{topic}", "") for topic in TOPICS}
        valid = form.validate_on_submit()
        try:
            if any(mode not in MAIL_MODES for mode in chosen.values()):
                raise DomainError("请为每类通知选择立即发送、每日汇总或不发邮件")
            if valid:
                services.mail_prefs_set(user=current_user, modes=chosen)
                if "email" in request.form:  # the page always sends it; a script that leaves it out keeps it
                    services.user_email_set(user=current_user, email=form.email.data or "")
        except DomainError as exc:
            error = exc.message
        if valid and not error:
            db.session.commit()
            flash("邮件通知设置已保存", "success")
            return redirect(url_for("notifications.settings"))
        db.session.rollback()
        modes = {topic: chosen[topic] if chosen[topic] in MAIL_MODES else modes[topic] for topic in TOPICS}
        error = error or "提交的内容有误，请按提示修改。"
    return render_template("notifications/settings.html", topics=TOPICS, modes=modes, mail_modes=MAIL_MODES,
                           form=form, error=error, mail_ready=mail.mail_configured()), (400 if error else 200)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """The 退订 link of a mail: signed for one user and one topic (or all), works without signing in. Opening it
    shows one button; pressing it (a POST with the page's CSRF token) turns that mail off. A GET never changes
    anything: mail gateways and link scanners open links in mails, and must not unsubscribe anyone."""
    found = mail.read_unsubscribe_token(token)
    user = db.session.get(User, found[0]) if found is not None else None
    if user is None:
        return render_template("notifications/unsubscribe.html", state="invalid", label=""), 400
    topic = found[1]
    topics = list(TOPICS) if topic == mail.ALL_TOPICS else [topic]
    label = "全部通知" if topic == mail.ALL_TOPICS else TOPICS[topic][0]
    if request.method != "POST":  # GET and HEAD only show the button
        return render_template("notifications/unsubscribe.html", state="confirm", label=label, name=user.name)
    services.mail_prefs_set(user=user, modes={t: "off" for t in topics})
    db.session.commit()
    return render_template("notifications/unsubscribe.html", state="done", label=label, name=user.name)


# --- subscriptions --------------------------------------------------------------------------------------------

def _get_own_subscription(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None or sub.user_id != current_user.id:
        abort(404)
    return sub


@bp.route("/subscriptions")
@login_required
def subscriptions(error: str = ""):
    from .handlers import describe

    rows = db.session.scalars(queries.subscriptions_of(current_user)).all()
    return render_template("notifications/subscriptions.html", rows=[(s, describe(s)) for s in rows], error=error,
                           back=safe_next(request.form.get("next"), "")), (400 if error else 200)


def _region_arg(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


@bp.route("/subscriptions/new", methods=["POST"])
@login_required
def subscription_new():
    """订阅 from the search page or a listing list: its words, kind, field and region (hidden fields)."""
    kind = request.form.get("kind", "all")
    try:
        # the words and field code as any posted text: control characters (NUL: PostgreSQL refuses it) -> 400
        q = posted_text("q", label="订阅关键词", max_length=200)
        field_code = posted_text("field", label="技术领域", max_length=50)
        sub = services.subscription_create(
            user=current_user, kind=kind if kind in SUBSCRIPTION_KINDS else "all", q=q,
            field_code=field_code, region_id=_region_arg(request.form.get("region", "")))
    except DomainError as exc:
        db.session.rollback()
        return subscriptions(error=exc.message)
    db.session.commit()
    flash("已订阅：有新的符合条件的条目发布时，将通知您（站内通知，并按邮件设置发送邮件）", "success")
    return redirect(url_for("notifications.subscriptions", _anchor=f"sub-{sub.id}"))


@bp.route("/subscriptions/<int:subscription_id>/delete", methods=["POST"])
@login_required
def subscription_delete(subscription_id: int):
    sub = _get_own_subscription(subscription_id)
    services.subscription_delete(subscription=sub, user=current_user)
    db.session.commit()
    flash("订阅已删除", "success")
    return redirect(url_for("notifications.subscriptions"))
