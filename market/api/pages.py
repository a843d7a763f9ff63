"""HTML pages of the API: the account's tokens (/account/tokens) and the browsable document (/api/v1/docs)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..errors import DomainError
from ..extensions import db
from ..models import API_SCOPES, ApiToken
from ..models.base import utcnow
from ..pagination import get_page, paginate
from ..permissions import is_verified_actor
from . import queries, services
from .forms import TokenForm
from .tokens import scopes_for

bp = Blueprint("api_pages", __name__)
SHANGHAI = timezone(timedelta(hours=8))


def _actor_only() -> None:
    if not is_verified_actor(current_user):
        abort(403)


def _expiry(day: date | None) -> datetime:
    """The end of the chosen day in Asia/Shanghai, in UTC."""
    if day is None:
        return utcnow()
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI).astimezone(timezone.utc)


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    _actor_only()
    allowed = scopes_for(current_user)
    form = TokenForm().setup(allowed)
    status, secret, created = 200, None, None
    if form.validate_on_submit():
        try:
            created, secret = services.token_create(user=current_user, name=form.name.data, scopes=form.scopes.data,
                                                    expires_at=_expiry(form.expires_on.data))
        except DomainError as err:
            db.session.rollback()
            if "expires_at" in err.fields:
                err.fields["expires_on"] = err.fields.pop("expires_at")
            form.apply_error(err)
            status = 400
        else:
            db.session.commit()
            form = TokenForm(formdata=None).setup(allowed)
    elif form.is_submitted():
        status = 400
    if form.expires_on.data is None and status == 200:
        form.expires_on.data = (utcnow() + timedelta(days=90)).astimezone(SHANGHAI).date()
    pagination = paginate(queries.tokens_of(current_user.id), page=get_page())
    response = render_template("api/tokens.html", form=form, pagination=pagination, secret=secret, created=created,
                               scopes=API_SCOPES, now=utcnow(), allowed=allowed)
    return response, status


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    _actor_only()
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    services.token_revoke(token=token, user=current_user)
    db.session.commit()
    flash(f"令牌“{token.name}”已撤销，使用它的请求将被拒绝", "success")
    return redirect(url_for("api_pages.tokens"))


@bp.route("/api/v1/docs")
def docs():
    """The OpenAPI document, rendered in the page by static/js/api-docs.js (no external script)."""
    return render_template("api/docs.html")
