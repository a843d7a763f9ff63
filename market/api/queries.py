"""Reads of the API's own records."""
from __future__ import annotations

from sqlalchemy import Select, select

from ..models import ApiToken


def tokens_of(user_id: int) -> Select:
    """One's tokens, newest first (revoked and expired ones too: the list says so)."""
    return select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
