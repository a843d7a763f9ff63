"""Idempotency tokens: a creation form carries a random token; a second submission of it is refused."""
from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, DomainError
from ..extensions import db
from ..models import FormSubmission, User

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
DUPLICATE_MESSAGE = "该表单已经提交过，请勿重复提交（记录只保存一份）。"


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def claim_form_token(*, token: str | None, kind: str, user: User | None) -> FormSubmission:
    """Record the token in this transaction; a unique constraint refuses the second submission."""
    token = (token or "").strip()
    if not TOKEN_RE.match(token):
        raise DomainError("表单已失效，请刷新页面后重新提交")
    if db.session.scalar(select(FormSubmission.id).where(FormSubmission.token == token)) is not None:
        raise Conflict(DUPLICATE_MESSAGE)
    submission = FormSubmission(token=token, kind=kind, user_id=user.id if user else None)
    try:
        with db.session.begin_nested():
            db.session.add(submission)
    except IntegrityError as exc:  # the same token committed meanwhile by a concurrent request
        raise Conflict(DUPLICATE_MESSAGE) from exc
    return submission
