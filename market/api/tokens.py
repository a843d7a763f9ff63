"""API tokens: the secret shown once, its stored hash, which scopes a role may hold, and who a request acts as."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import or_, select, update

from ..extensions import db
from ..models import API_SCOPES, ApiToken
from ..models.base import utcnow
from ..permissions import is_verified_actor
from .problems import ApiProblem

SECRET_PREFIX = "kjdsc_"
MAX_LIFETIME = timedelta(days=366)
LAST_USED_EVERY = timedelta(seconds=60)  # last_used_at is written at most once a minute per token

# role -> the scopes its tokens may carry (the same powers the role has on the pages, never more)
# contracts:submit: the seller side that submits on the pages (registration/access.py can_submit_for)
ROLE_SCOPES = {
    "enterprise": ("listings:read", "listings:write", "contracts:submit"),
    "institution": ("listings:read", "listings:write", "contracts:submit"),
    "broker": ("contracts:submit",),
    "official": ("stats:read",),
    "admin": ("stats:read",),
}


# endpoint -> the scope its token must hold ("" for any live token), filled by routes.py: checked in hooks.py before
# the request's body is read, so a request without the right token is refused before anything else
ENDPOINT_SCOPES: dict[str, str] = {}


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def scopes_for(user) -> tuple[str, ...]:
    """The scopes a token of `user` may hold: none unless the account may act (permissions.is_verified_actor)."""
    if not is_verified_actor(user):
        return ()
    return tuple(s for s in ROLE_SCOPES.get(user.role, ()) if s in API_SCOPES)


def bearer_secret() -> str | None:
    """The secret of `Authorization: Bearer ...`; None without the header. Tokens are never read from cookies or
    query strings (a URL ends up in logs)."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiProblem(401, "Authorization 请求头格式应为“Bearer 令牌”。",
                         headers={"WWW-Authenticate": 'Bearer realm="api"'})
    return value.strip()


def token_for_request() -> ApiToken | None:
    """The live token of the request, or None without one; an unknown, expired or revoked token, or one whose owner
    may no longer act, is refused with 401 (never treated as anonymous)."""
    secret = bearer_secret()
    if secret is None:
        return None
    refused = ApiProblem(401, "API 令牌无效、已过期或已被撤销。", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 100 or not secret.isascii():
        raise refused
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    if token is None or not token.is_live():
        raise refused
    if not token.user.active or not is_verified_actor(token.user):
        raise ApiProblem(403, "令牌所属账号当前不能办理业务（账号停用或单位认证未通过）。")
    _note_use(token)
    return token


def _note_use(token: ApiToken) -> None:
    """last_used_at, at most once a minute: a compare-and-set UPDATE committed at once, best effort (a busy database
    must not refuse the call for it)."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    try:
        db.session.commit()  # end the read that found the token: the UPDATE starts its own short transaction
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == token.id,
                   or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_EVERY))
            .values(last_used_at=now))
        db.session.commit()
    except Exception as exc:  # last use is a convenience, never a reason to refuse the request
        db.session.rollback()
        current_app.logger.info("api token %s: last use not recorded (%s)", token.id, type(exc).__name__)


def require_scope(token: ApiToken | None, scope: str) -> None:
    """A token holding `scope` (and an owner whose role still grants it), or a 401/403 problem."""
    if token is None:
        raise ApiProblem(401, "该接口需要 API 令牌：请在请求头中提供 Authorization: Bearer 令牌。",
                         headers={"WWW-Authenticate": 'Bearer realm="api"'})
    if scope and (scope not in token.scope_list or scope not in scopes_for(token.user)):
        raise ApiProblem(403, f"该令牌没有“{API_SCOPES.get(scope, scope)}”权限。")
