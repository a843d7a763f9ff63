"""Sign-in throttling shared by every worker and node: Redis when configured, else the database."""
from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import LoginFailure
from ..models.base import utcnow

_redis_clients: dict[str, object] = {}


def _redis():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    if url not in _redis_clients:
        import redis

        _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=2)
    return _redis_clients[url]


def _redis_key(key: str) -> str:
    return f"{current_app.config.get('REDIS_PREFIX', 'market:')}login:{key}"


def _keys(username: str, ip: str) -> list[tuple[str, int]]:
    cfg = current_app.config
    return [
        (f"acct:{username.strip().lower()}", cfg["LOGIN_MAX_FAILURES_ACCOUNT"]),
        (f"ip:{ip}", cfg["LOGIN_MAX_FAILURES_ADDRESS"]),
    ]


def is_blocked(username: str, ip: str) -> bool:
    window = current_app.config["LOGIN_WINDOW_SECONDS"]
    r = _redis()
    for key, limit in _keys(username, ip):
        if r is not None:
            name = _redis_key(key)
            r.zremrangebyscore(name, 0, time.time() - window)
            count = r.zcard(name)
        else:
            since = utcnow() - timedelta(seconds=window)
            count = db.session.scalar(
                select(func.count()).select_from(LoginFailure).where(LoginFailure.key == key, LoginFailure.at >= since)
            )
        if count >= limit:
            return True
    return False


def record_failure(username: str, ip: str) -> None:
    """Recorded at once (its own commit for the database store), so a failed sign-in always counts."""
    window = current_app.config["LOGIN_WINDOW_SECONDS"]
    r = _redis()
    for key, _ in _keys(username, ip):
        if r is not None:
            name = _redis_key(key)
            now = time.time()
            r.zadd(name, {f"{now}:{id(object())}": now})
            r.expire(name, window)
        else:
            db.session.add(LoginFailure(key=key))
    if r is None:
        db.session.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - timedelta(seconds=window)))
        db.session.commit()


def clear_account(username: str) -> None:
    key = f"acct:{username.strip().lower()}"
    r = _redis()
    if r is not None:
        r.delete(_redis_key(key))
    else:
        db.session.execute(delete(LoginFailure).where(LoginFailure.key == key))
