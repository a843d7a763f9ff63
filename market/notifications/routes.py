"""The notification list; opening one marks it read and follows its link."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..models import Notification
from ..pagination import get_page, paginate
from ..security import safe_next
from . import queries, services

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
