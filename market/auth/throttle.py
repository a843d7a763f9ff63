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

from ..extensions import db
from ..models import LoginFailure, UserSession

_redis_clients: dict[str, object] = {}


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

    wait, charged = _store().charge([acct, pair, src, by_addr], t, cfg["LOGIN_WINDOW_SECONDS"], decide)
    return Attempt(allowed=not wait, wait=wait, charged=charged, pair=pair)


def sign_in_succeeded(attempt: Attempt) -> None:
    """The right password: its charge is taken back and its address is no longer failing on the account.

    In the database this joins the caller's transaction (the view commits it with the new session)."""
    store = _store()
    store.refund(attempt.charged)
    store.clear(attempt.pair)


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

    wait, charged = _store().charge([key], t, window, decide)
    return Attempt(allowed=not wait, wait=wait, charged=charged)


def _after(last: float | None, excess: int) -> float:
    """When the next attempt is allowed after an event at `last`: -inf while the event asks for no delay."""
    wait = delay(excess)
    return last + wait if last is not None and wait > 0 else -math.inf


def _datetime(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def _longest_window() -> float:
    cfg = current_app.config
    return max(cfg["LOGIN_WINDOW_SECONDS"], cfg["REGISTER_WINDOW_SECONDS"])


def _store():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return _DatabaseStore()
    if url not in _redis_clients:
        import redis

        _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=2)
    return _RedisStore(_redis_clients[url], current_app.config.get("REDIS_PREFIX", "market:"))


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
        db.session.commit()
        return wait, [(event.key, event.id) for event in events]

    def refund(self, charged: list) -> None:
        ids = [event_id for _, event_id in charged]
        if ids:
            db.session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))

    def clear(self, key: str) -> None:
        db.session.execute(delete(LoginFailure).where(LoginFailure.key == key))


class _RedisStore:
    """Events as sorted sets (score: the time), each expiring after its window; read and charged in one WATCH
    transaction, retried when another worker changed a key in between."""

    def __init__(self, client, prefix: str) -> None:
        self.client, self.prefix = client, prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}throttle:{key}"

    def charge(self, keys: list[str], t: float, window: float, decide: Decide) -> tuple[float, list]:
        from redis import WatchError

        names = {key: self._name(key) for key in dict.fromkeys(keys)}
        since = f"({t - window}"
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(*names.values())
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
