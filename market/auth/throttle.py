"""Sign-in and registration throttles shared by every worker and node: Redis when REDIS_URL is set, else the
database (the login_failures table, used as an event log).

Sign-in slows guessing without locking the owner out (OWASP ASVS V2.2.1). A failed sign-in is an event under up
to four keys:

- ``acct:<user>``        every failure on the account, from any address;
- ``pair:<user>|<addr>`` the failures of one address on the account: an address with any is a *failing source*;
- ``src:<user>``         the first failure of each address on the account (how many addresses fail on it);
- ``ip:<addr>``          the first failure of the address on each account (how many accounts it fails on).

An attempt waits for a "next allowed at" time computed from them, where delay(k) is LOGIN_FIRST_DELAY_SECONDS
doubled k times, capped at LOGIN_MAX_DELAY_SECONDS, and nothing while k < 0:

- from a failing source: the account's last failure + delay(failures on the account - LOGIN_FREE_FAILURES);
- from a clean address: the account's last failure + delay(failing addresses - LOGIN_FREE_ADDRESSES) (many
  addresses against one account), and the address's last new account + delay(accounts it failed on -
  LOGIN_FREE_ACCOUNTS) (password spraying); an address the account signed in from within
  LOGIN_KNOWN_ADDRESS_DAYS skips both.

So one address failing on an account slows only itself on that account: the owner elsewhere, and colleagues behind
the same NAT on their own accounts, sign in at once. Every address against one account shares that account's
single clock, so guesses per account stay bounded whatever the number of addresses.

An attempt that may go ahead is charged as a failure before its password is checked, under a lock (a PostgreSQL
advisory lock, SQLite's BEGIN IMMEDIATE, a Redis WATCH transaction), so concurrent requests cannot share one
slot; the right password takes the charge back and clears its address's failures on the account. Attempts
answered 429 are not counted. Events are forgotten after LOGIN_WINDOW_SECONDS; IPv6 addresses count per /64.

With Redis the database is still the record: every failure (a sign-in whose password was wrong, a registration
attempt) is written to login_failures as well, so Redis is the fast path (the lock and the counts) and never the only
copy. When Redis does not answer within REDIS_TIMEOUT_SECONDS the attempt is made on the database store, which holds
every failure, and Redis is skipped for REDIS_RETRY_SECONDS (market/redisconn.py: one WARNING per episode). Redis is
rebuilt from the database (every throttle key replaced) when it may have missed something: after this process used
the database in its stead, and whenever its marker key is gone (a restart without persistence, a flush, an eviction).
"""
from __future__ import annotations

import ipaddress
import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, NamedTuple

from flask import current_app
from sqlalchemy import delete, func, select, text

from .. import redisconn
from ..extensions import db
from ..models import LoginFailure, UserSession

#: (Redis URL, prefix) this process charged on the database in Redis's stead: rebuilt from it before their next use
_missed: set[tuple[str, str]] = set()


class Seen(NamedTuple):
    """The events under one key within its window: how many, the first and the last (epoch seconds)."""

    count: int = 0
    first: float | None = None
    last: float | None = None


@dataclass
class Attempt:
    allowed: bool
    wait: float = 0.0  # seconds until an attempt may be made, when refused
    charged: list[tuple[str, object]] = field(default_factory=list)  # (key, event) taken back on success
    pair: str = ""
    store: str = "database"  # where it was charged: "redis" or "database"
    at: float = 0.0  # when


# decide(seen) -> (seconds to wait, keys to charge): called under the store's lock
Decide = Callable[[dict[str, Seen]], tuple[float, list[str]]]


def now() -> float:
    """The throttles' clock in epoch seconds; tests move it with THROTTLE_CLOCK_OFFSET instead of sleeping."""
    return time.time() + float(current_app.config.get("THROTTLE_CLOCK_OFFSET") or 0)


def delay(excess: int) -> float:
    """The wait after `excess` failures over the free ones: 0 below them, then doubling up to the cap."""
    if excess < 0:
        return 0.0
    cfg = current_app.config
    return min(cfg["LOGIN_FIRST_DELAY_SECONDS"] * 2.0 ** min(excess, 64), cfg["LOGIN_MAX_DELAY_SECONDS"])


def address_key(ip: str) -> str:
    """The address as the throttles count it: IPv6 per /64 (one host often holds a whole /64), IPv4 as it is."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if addr.version == 6:
        if addr.ipv4_mapped:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def sign_in_begin(username: str, ip: str, *, user_id: int | None) -> Attempt:
    """Let a sign-in attempt go ahead, charged as a failure until sign_in_succeeded, or say how long to wait.

    The answer never depends on whether the account exists, except that an address the account signed in
    from before skips the clean-address waits.
    """
    cfg = current_app.config
    name, addr = username.strip().lower(), address_key(ip)
    acct, pair, src, by_addr = f"acct:{name}", f"pair:{name}|{addr}", f"src:{name}", f"ip:{addr}"
    t = now()

    def known_address() -> bool:
        days = cfg["LOGIN_KNOWN_ADDRESS_DAYS"]
        if user_id is None or days <= 0:
            return False
        return db.session.scalar(
            select(UserSession.id).where(UserSession.user_id == user_id, UserSession.ip == ip[:64],
                                         UserSession.created_at >= _datetime(t - days * 86400)).limit(1)
        ) is not None

    def decide(seen: dict[str, Seen]) -> tuple[float, list[str]]:
        account = seen[acct]
        if seen[pair].count:
            until = _after(account.last, account.count - cfg["LOGIN_FREE_FAILURES"])
            charge = [acct, pair]
        else:
            spray = seen[by_addr]
            until = max(_after(account.last, seen[src].count - cfg["LOGIN_FREE_ADDRESSES"]),
                        _after(spray.last, spray.count - cfg["LOGIN_FREE_ACCOUNTS"]))
            if until > t and known_address():
                until = t
            charge = [acct, pair, src, by_addr]
        return (until - t, []) if until > t else (0.0, charge)

    wait, charged, store = _charge([acct, pair, src, by_addr], t, cfg["LOGIN_WINDOW_SECONDS"], decide)
    return Attempt(allowed=not wait, wait=wait, charged=charged, pair=pair, store=store, at=t)


def sign_in_succeeded(attempt: Attempt) -> None:
    """The right password: its charge is taken back and its address is no longer failing on the account.

    In the database this joins the caller's transaction (the view commits it with the new session)."""
    database = _DatabaseStore()
    if attempt.store == "database":
        database.refund(attempt.charged)
    database.clear(attempt.pair)  # with Redis too: the database keeps every failure
    if attempt.store == "redis" and (redis_store := _redis_store()) is not None:
        try:
            redis_store.refund(attempt.charged)
            redis_store.clear(attempt.pair)
        except redisconn.RedisError as exc:
            _redis_failed(exc)  # Redis is rebuilt from the database before its next use


def sign_in_failed(attempt: Attempt) -> None:
    """A wrong password (or an unknown or disabled account): the charge stays. Charged on Redis, it is written to the
    database as well (committed at once), so that a Redis restart or outage loses no failure."""
    if attempt.store == "redis" and attempt.charged:
        _DatabaseStore().record([key for key, _ in attempt.charged], attempt.at)


def register_begin(ip: str) -> Attempt:
    """Count a registration attempt from this address, or say how long to wait (REGISTER_MAX_PER_ADDRESS in
    REGISTER_WINDOW_SECONDS, a sliding window): it bounds how many user and organisation names one address can
    probe through the uniqueness messages."""
    cfg = current_app.config
    key = f"register:{address_key(ip)}"
    window, limit = cfg["REGISTER_WINDOW_SECONDS"], cfg["REGISTER_MAX_PER_ADDRESS"]
    t = now()

    def decide(seen: dict[str, Seen]) -> tuple[float, list[str]]:
        mine = seen[key]
        if mine.count >= limit:
            return max(mine.first + window - t, 1.0), []
        return 0.0, [key]

    wait, charged, store = _charge([key], t, window, decide)
    if store == "redis" and charged:  # never taken back: kept in the database at once
        _DatabaseStore().record([key for key, _ in charged], t)
    return Attempt(allowed=not wait, wait=wait, charged=charged, store=store, at=t)


def address_limit_begin(ip: str, *, scope: str, limit: int, window: float) -> Attempt:
    """Count one request of `scope` from this address, or say how long to wait (`limit` in `window` seconds, a
    sliding window, on the same shared store as sign-in): public lookups such as the 登记证明 verification page."""
    key = f"{scope}:{address_key(ip)}"
    t = now()

    def decide(seen: dict[str, Seen]) -> tuple[float, list[str]]:
        mine = seen[key]
        if mine.count >= limit:
            return max(mine.first + window - t, 1.0), []
        return 0.0, [key]

    wait, charged, store = _charge([key], t, window, decide)
    if store == "redis" and charged:
        _DatabaseStore().record([key for key, _ in charged], t)
    return Attempt(allowed=not wait, wait=wait, charged=charged, store=store, at=t)


def _after(last: float | None, excess: int) -> float:
    """When the next attempt is allowed after an event at `last`: -inf while the event asks for no delay."""
    wait = delay(excess)
    return last + wait if last is not None and wait > 0 else -math.inf


def _datetime(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def _longest_window() -> float:
    cfg = current_app.config
    return max(cfg["LOGIN_WINDOW_SECONDS"], cfg["REGISTER_WINDOW_SECONDS"])


def _charge(keys: list[str], t: float, window: float, decide: Decide) -> tuple[float, list, str]:
    """Charge on Redis when it is configured and answers, else on the database: (wait, charged, store name)."""
    redis_store = _redis_store()
    if redis_store is not None:
        try:
            if _where() in _missed:
                redis_store.rebuild(t)
                _missed.discard(_where())
            wait, charged = redis_store.charge(keys, t, window, decide)
        except redisconn.RedisError as exc:
            _redis_failed(exc)
        else:
            redisconn.breaker(current_app.config["REDIS_URL"]).succeeded()
            return wait, charged, "redis"
    wait, charged = _DatabaseStore().charge(keys, t, window, decide)
    return wait, charged, "database"


def _redis_store() -> "_RedisStore | None":
    """The Redis store, or None without REDIS_URL or while its breaker is open (a recent failure)."""
    cfg = current_app.config
    url = cfg.get("REDIS_URL")
    if not url or not redisconn.breaker(url).allows():
        return None
    timeout, _ = redisconn.settings(cfg)
    return _RedisStore(redisconn.client(url, timeout), cfg.get("REDIS_PREFIX", "market:"))


def _where() -> tuple[str, str]:
    cfg = current_app.config
    return cfg["REDIS_URL"], cfg.get("REDIS_PREFIX", "market:")


def _redis_failed(exc: BaseException) -> None:
    _missed.add(_where())
    redisconn.breaker(current_app.config["REDIS_URL"]).failed(exc, redisconn.settings(current_app.config)[1])


class _DatabaseStore:
    """Events as login_failures rows; charge() commits at once so a failure counts even if the request dies."""

    def charge(self, keys: list[str], t: float, window: float, decide: Decide) -> tuple[float, list]:
        if db.session.get_bind().dialect.name == "postgresql":
            for key in sorted(set(keys)):  # one order everywhere: no deadlock
                db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "throttle:" + key})
        # SQLite: a POST's transaction began with BEGIN IMMEDIATE (market/database.py), which serialises writers
        rows = db.session.execute(
            select(LoginFailure.key, func.count(), func.min(LoginFailure.at), func.max(LoginFailure.at))
            .where(LoginFailure.key.in_(keys), LoginFailure.at > _datetime(t - window))
            .group_by(LoginFailure.key)
        )
        seen = defaultdict(Seen, {key: Seen(n, first.timestamp(), last.timestamp()) for key, n, first, last in rows})
        wait, charge = decide(seen)
        events = [LoginFailure(key=key, at=_datetime(t)) for key in charge]
        if events:
            db.session.add_all(events)
            db.session.flush()
            db.session.execute(delete(LoginFailure).where(LoginFailure.at <= _datetime(t - _longest_window())))
        # read before the commit expires them: a concurrent right password on the same account and address may
        # delete these rows (clear) before this request reads them back (an ObjectDeletedError, a 500, before)
        charged = [(event.key, event.id) for event in events]
        db.session.commit()
        return wait, charged

    def record(self, keys: list[str], t: float) -> None:
        """Failures charged on Redis, written here too (committed at once, as charge() does)."""
        db.session.add_all([LoginFailure(key=key, at=_datetime(t)) for key in keys])
        db.session.flush()
        db.session.execute(delete(LoginFailure).where(LoginFailure.at <= _datetime(t - _longest_window())))
        db.session.commit()

    def refund(self, charged: list) -> None:
        ids = [event_id for _, event_id in charged]
        if ids:
            db.session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))

    def clear(self, key: str) -> None:
        db.session.execute(delete(LoginFailure).where(LoginFailure.key == key))


class _RedisStore:
    """Events as sorted sets (score: the time), each expiring after its window; read and charged in one WATCH
    transaction, retried when another worker changed a key in between.

    A marker key says the sets hold every failure the database holds; when it is missing (Redis restarted without
    persistence, was flushed, evicted it) the sets are rebuilt from the database before anything is charged."""

    def __init__(self, client, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self.marker = f"{prefix}throttle-complete"

    def _name(self, key: str) -> str:
        return f"{self.prefix}throttle:{key}"

    def rebuild(self, t: float) -> int:
        """Replace every throttle set with the database's failures (the record), in one MULTI: a concurrent charge
        sees the sets before or after, never half-built. Returns the number of events loaded."""
        window = _longest_window()
        rows = db.session.execute(select(LoginFailure.id, LoginFailure.key, LoginFailure.at)
                                  .where(LoginFailure.at > _datetime(t - window)))
        events: dict[str, dict[str, float]] = defaultdict(dict)
        for event_id, key, at in rows:
            events[self._name(key)][f"db:{event_id}"] = at.timestamp()
        stale = set(self.client.scan_iter(match=f"{self.prefix}throttle:*", count=1000))
        with self.client.pipeline(transaction=True) as pipe:
            for name in stale:
                pipe.delete(name)
            for name, members in events.items():
                pipe.zadd(name, members)
                pipe.expire(name, math.ceil(window))
            pipe.set(self.marker, str(t))
            pipe.execute()
        return sum(len(members) for members in events.values())

    def charge(self, keys: list[str], t: float, window: float, decide: Decide) -> tuple[float, list]:
        from redis import WatchError

        names = {key: self._name(key) for key in dict.fromkeys(keys)}
        since = f"({t - window}"
        rebuilt = False
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.marker, *names.values())
                    if not rebuilt and not pipe.exists(self.marker):
                        pipe.unwatch()
                        self.rebuild(t)
                        rebuilt = True  # once: a Redis that drops the marker at once (evicting) still counts
                        continue
                    seen: dict[str, Seen] = defaultdict(Seen)
                    for key, name in names.items():
                        first = pipe.zrangebyscore(name, since, "+inf", start=0, num=1, withscores=True)
                        if first:
                            last = pipe.zrevrangebyscore(name, "+inf", since, start=0, num=1, withscores=True)
                            seen[key] = Seen(pipe.zcount(name, since, "+inf"), first[0][1], last[0][1])
                    wait, charge = decide(seen)
                    pipe.multi()
                    charged = []
                    for key in charge:
                        event = uuid.uuid4().hex
                        pipe.zadd(names[key], {event: t})
                        pipe.zremrangebyscore(names[key], "-inf", t - window)
                        pipe.expire(names[key], math.ceil(window))
                        charged.append((key, event))
                    pipe.execute()
                    return wait, charged
                except WatchError:
                    continue

    def refund(self, charged: list) -> None:
        with self.client.pipeline() as pipe:
            for key, event in charged:
                pipe.zrem(self._name(key), event)
            pipe.execute()

    def clear(self, key: str) -> None:
        self.client.delete(self._name(key))
