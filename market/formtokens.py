"""One-time submission tokens: every form that creates a record carries one, so a resubmission makes nothing.

A token is a random nonce signed with SECRET_KEY (a token the server never issued is refused). Claiming it
writes a `form_submissions` row in the transaction that writes the record; the unique constraint on the
token lets exactly one of two submissions commit, on SQLite and PostgreSQL alike. The second one is
answered 409 with the record that was made (`AlreadySubmitted`), never a second record.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Callable

from flask import Flask, current_app, render_template
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .errors import Conflict, DomainError
from .extensions import db
from .models import FormSubmission, User

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{22}$")
DUPLICATE_MESSAGE = "该表单已经提交过，记录已保存（只保存一份），请勿重复提交。"
INVALID_MESSAGE = "表单已失效，本次提交未保存。请刷新页面后重新提交。"


class AlreadySubmitted(Conflict):
    """The token was claimed before: the record exists; `url` leads to it when the same user made it."""

    def __init__(self, message: str = DUPLICATE_MESSAGE, *, url: str | None = None):
        super().__init__(message)
        self.url = url


def _signature(nonce: str, secret_key: str) -> str:
    mac = hmac.new(str(secret_key).encode(), b"form-token:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode()


def form_token_for(nonce: str, *, secret_key: str) -> str:
    """The token of a 32-character nonce under a site's secret (a load generator makes its own this way)."""
    return f"{nonce}.{_signature(nonce, secret_key)}"


def new_form_token() -> str:
    """A fresh token for a form page (55 characters: it fits form_submissions.token)."""
    return form_token_for(secrets.token_urlsafe(24), secret_key=current_app.config["SECRET_KEY"])


def token_is_valid(token: str | None) -> bool:
    """Issued by this site (whatever happened to it since)."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return False
    nonce, _, signature = token.partition(".")
    return hmac.compare_digest(signature, _signature(nonce, current_app.config["SECRET_KEY"]))


def form_token_keep_or_issue(form) -> None:
    """Before showing a creating form: keep a valid token (a corrected form still saves once, a resubmitted
    one is still recognised), issue one where it is missing or forged."""
    if not token_is_valid(form.form_token.data):
        form.form_token.data = new_form_token()


def _link(row_user_id: int | None, object_id: int | None, user: User | None,
          link: Callable[[int], str] | None) -> str | None:
    """The record's address, shown only to whoever made it (an anonymous registration: to anyone with the token)."""
    if link is None or object_id is None:
        return None
    if row_user_id != (user.id if user is not None else None):
        return None
    return link(object_id)


def claim_form_token(*, token: str | None, kind: str, user: User | None,
                     link: Callable[[int], str] | None = None, message: str = DUPLICATE_MESSAGE) -> FormSubmission:
    """Record the token in this transaction (set `object_id` on the result once the record has its id).

    A missing or forged token is a 400; a token claimed before is `AlreadySubmitted` (409), also when a
    concurrent request claims it first: its unique index makes this insert wait for that transaction and fail.
    `link(object_id)` builds the address of the record that the first submission made; `message` is what the
    second submission is told.
    """
    token = (token or "").strip()
    if not token_is_valid(token):
        raise DomainError(INVALID_MESSAGE)
    first = db.session.execute(
        select(FormSubmission.user_id, FormSubmission.object_id).where(FormSubmission.token == token)).first()
    if first is None:
        submission = FormSubmission(token=token, kind=kind, user_id=user.id if user is not None else None)
        try:
            with db.session.begin_nested():
                db.session.add(submission)
            return submission
        except IntegrityError:  # the same token committed meanwhile by a concurrent request
            first = db.session.execute(
                select(FormSubmission.user_id, FormSubmission.object_id).where(FormSubmission.token == token)).first()
    url = _link(first.user_id, first.object_id, user, link) if first is not None else None
    raise AlreadySubmitted(message, url=url)


def init_form_tokens(app: Flask) -> None:
    """The token input for button forms, and the 409 page with its link for a resubmission that reaches the
    error pages (buttons and small forms; a full form shows the same message and link above itself)."""

    @app.template_global()
    def form_token_input() -> Markup:
        """A button's form (认领): its hidden one-time token."""
        # the template alone, without render_template's context processors: those count the menu's badges and
        # notifications, once per button otherwise (20 buttons on the 认领 queue were 20 statements)
        template = current_app.jinja_env.get_template("_macros/form_token_input.html")
        return Markup(template.render(token=new_form_token()))  # nosec B704 - an autoescaped template

    @app.errorhandler(AlreadySubmitted)
    def already_submitted(err: AlreadySubmitted):
        db.session.rollback()
        return render_template("errors/already_saved.html", code=409, title="已经提交过", message=err.message,
                               url=err.url), 409
