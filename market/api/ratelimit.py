"""Requests per token (or per address without one) in fixed one-minute windows: counted in Redis when REDIS_URL is
set, so every worker and node shares the count, else in this process (market/redisconn.py's breaker: a Redis that
does not answer falls back to the process count, never to a 500)."""
from __future__ import annotations

import threading
import time

from flask import current_app

from .. import redisconn

WINDOW_SECONDS = 60


class LocalCounts:
    """The process's counts (one per app: a test's app starts afresh): key -> (window, count)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, tuple[int, int]] = {}


def _local() -> LocalCounts:
    return current_app.extensions.setdefault("market.api_rate", LocalCounts())


def _clock() -> float:
    return time.time() + float(current_app.config.get("THROTTLE_CLOCK_OFFSET") or 0)


def hit(key: str, *, anonymous: bool = False) -> int | None:
    """Count one request of `key`; the seconds to wait when it is over API_RATE_LIMIT per minute (a token) or
    API_ANON_RATE_LIMIT (an address without a token), else None. A limit of 0 counts nothing."""
    limit = int(current_app.config.get("API_ANON_RATE_LIMIT" if anonymous else "API_RATE_LIMIT") or 0)
    if limit <= 0:
        return None
    now = _clock()
    window = int(now // WINDOW_SECONDS)
    retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now))
    count = _redis_hit(key, window)
    if count is None:
        local = _local()
        with local.lock:
            seen_window, seen = local.counts.get(key, (window, 0))
            count = (seen if seen_window == window else 0) + 1
            local.counts[key] = (window, count)
            if len(local.counts) > 10_000:  # forget finished windows
                for old in [k for k, (w, _) in local.counts.items() if w != window]:
                    local.counts.pop(old, None)
    return retry_after if count > limit else None


def _redis_hit(key: str, window: int) -> int | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    timeout, retry_seconds = redisconn.settings(current_app.config)
    gate = redisconn.breaker(url)
    if not gate.allows():
        return None
    name = f"{current_app.config.get('REDIS_PREFIX', 'market:')}apirate:{key}:{window}"
    try:
        pipe = redisconn.client(url, timeout).pipeline()
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS * 2)
        count = int(pipe.execute()[0])
    except redisconn.RedisError as exc:
        gate.failed(exc, retry_seconds)
        return None
    gate.succeeded()
    return count
