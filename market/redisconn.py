"""Redis, optional in fact: clients with short timeouts and, per Redis URL, a circuit breaker.

Redis carries the sign-in throttles' fast path (market/auth/throttle.py) and the job queue's messages
(market/jobs/queue.py); neither is needed to answer a request. A Redis that refuses connections answers at once, but a
frozen one (stopped, swapping, a dead network path) holds every command until the socket times out, and redis-py's
default of three retries multiplies that. So the clients here wait REDIS_TIMEOUT_SECONDS to connect and to read, never
retry, and a failure opens the URL's breaker: for REDIS_RETRY_SECONDS callers skip Redis at once (the throttles use
the database, a job's message is left to the sweep), then the next caller tries it again. The first failure of an
episode is logged as a WARNING and the recovery once; the requests in between log nothing.

The breaker is per process (each gunicorn worker finds out for itself): one WARNING per worker per episode.
"""
from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

#: what a Redis that is down, frozen, restarting or refusing writes raises (ConnectionError, TimeoutError,
#: BusyLoadingError, ReadOnlyError, an OOM answer...): every one means "use the other path", never a 500
RedisError = redis.RedisError

_lock = threading.Lock()
_clients: dict[tuple[str, float], redis.Redis] = {}
_breakers: dict[str, "Breaker"] = {}


def redacted(url: str) -> str:
    """The URL without its password, for the log."""
    parts = urlsplit(url)
    host = parts.hostname or parts.path or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path if parts.hostname else ''}"


def no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def client(url: str, timeout: float) -> redis.Redis:
    """One client (and connection pool) per URL and timeout in this process: connect and read time out after
    `timeout` seconds, nothing is retried."""
    key = (url, float(timeout))
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = redis.Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=no_retry(),
                health_check_interval=0)
        return found


def breaker(url: str) -> "Breaker":
    with _lock:
        found = _breakers.get(url)
        if found is None:
            found = _breakers[url] = Breaker(url)
        return found


class Breaker:
    """Closed: callers use Redis. Open (after a failure, for `retry_seconds`): callers skip it at once. Then the next
    caller tries again; a success closes the breaker, a failure opens it for another `retry_seconds`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._open_until = 0.0
        self._down_since: float | None = None  # monotonic time of the episode's first failure
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        """Within an episode: the last attempt failed (whether or not the back-off is over)."""
        return self._down_since is not None

    def allows(self) -> bool:
        """May a caller try Redis now? False while the back-off after a failure runs."""
        return time.monotonic() >= self._open_until

    def failed(self, exc: BaseException, retry_seconds: float) -> None:
        with self._lock:
            now = time.monotonic()
            self._open_until = now + retry_seconds
            first = self._down_since is None
            if first:
                self._down_since = now
        if first:
            log.warning("Redis at %s did not answer (%s: %s): sign-in and registration throttles use the database "
                        "and job messages are left to the sweep until it does; trying again every %.1f s",
                        redacted(self.url), type(exc).__name__, exc, retry_seconds)

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            since, self._down_since = self._down_since, None
            self._open_until = 0.0
        if since is not None:
            log.warning("Redis at %s answers again after %.1f s", redacted(self.url), time.monotonic() - since)


def settings(config) -> tuple[float, float]:
    """(timeout, retry_seconds) from the app's config."""
    return float(config.get("REDIS_TIMEOUT_SECONDS") or 0.3), float(config.get("REDIS_RETRY_SECONDS") or 5.0)
