"""Writes of the open API: tokens (create, revoke) and the stored answers of idempotent creates."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select, text

from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models import API_SCOPES, ApiIdempotencyKey, ApiToken, User
from ..models.base import utcnow
from ..permissions import require_verified_actor
from ..text import clean_name_into
from .tokens import MAX_LIFETIME, hash_secret, new_secret, scopes_for

MAX_LIVE_TOKENS = 20


def token_create(*, user: User, name: str, scopes: list[str], expires_at: datetime) -> tuple[ApiToken, str]:
    """A new token of `user` and its secret, which is shown once and never stored (only its sha256 is)."""
    require_verified_actor(user)
    errors: dict[str, str] = {}
    name = clean_name_into(errors, "name", name, field_label="令牌名称")
    if not errors.get("name") and not 1 <= len(name) <= 60:
        errors["name"] = "请填写令牌名称（1-60字）"
    allowed = scopes_for(user)
    chosen = [s for s in API_SCOPES if s in set(scopes or [])]
    if not chosen:
        errors["scopes"] = "请至少选择一项权限"
    elif any(s not in allowed for s in scopes):
        errors["scopes"] = "所选权限超出了您的账号可以办理的业务"
    now = utcnow()
    if expires_at <= now:
        errors["expires_at"] = "有效期须晚于现在"
    elif expires_at > now + MAX_LIFETIME:
        errors["expires_at"] = "有效期最长一年"
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    live = db.session.scalar(select(db.func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now))
    if live >= MAX_LIVE_TOKENS:
        raise DomainError(f"有效令牌最多{MAX_LIVE_TOKENS}个，请先撤销不用的令牌")
    secret = new_secret()
    token = ApiToken(user_id=user.id, name=name, scopes=",".join(chosen), token_hash=hash_secret(secret),
                     prefix=secret[:10], created_at=now, expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    return token, secret


def token_revoke(*, token: ApiToken, user: User) -> ApiToken:
    """Revoke one's own token (a compare-and-set: revoking twice changes nothing)."""
    if token.user_id != user.id:
        raise NotAllowed("只能撤销自己的令牌")
    if token.revoked_at is None:
        db.session.execute(db.update(ApiToken).where(ApiToken.id == token.id, ApiToken.revoked_at.is_(None))
                           .values(revoked_at=utcnow()))
        db.session.refresh(token)
    return token


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode("utf-8", "surrogatepass") + b"\n" + body).hexdigest()


def idempotency_lock(*, token_id: int, key: str) -> None:
    """Serialise requests with the same token and key: PostgreSQL takes a transaction advisory lock; SQLite's
    writing requests already begin with BEGIN IMMEDIATE (market/database.py), one at a time."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"apiidem:{token_id}:{key}"})


def idempotency_find(*, token_id: int, key: str) -> ApiIdempotencyKey | None:
    return db.session.scalar(select(ApiIdempotencyKey).where(ApiIdempotencyKey.token_id == token_id,
                                                             ApiIdempotencyKey.key == key))


def idempotency_record(*, token_id: int, key: str, fingerprint: str, status: int, body: str) -> None:
    db.session.add(ApiIdempotencyKey(token_id=token_id, key=key, fingerprint=fingerprint, status=status, body=body))
    db.session.flush()


def idempotency_prune(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Stored answers are kept a week: a client retries within minutes."""
    result = db.session.execute(db.delete(ApiIdempotencyKey).where(ApiIdempotencyKey.created_at < utcnow() - older_than))
    return result.rowcount or 0
