"""What /healthz reports: the database and Redis, each probed on a connection of its own in a thread of its own,
the answer given within a second whatever hangs.

The database probe never takes a connection from the app's pool (a pool waiting on a frozen server must not make
the health check wait too): it opens one of its own (no pool), with the same client-side limits as the app
(market/database.py), runs `SELECT 1` and closes it. A probe still running from an earlier request (the server
frozen, the connect timeout not yet over) is not started again: the answer says so at once.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from ..database import configure_engine, engine_options, write_intent

#: seconds the answer waits for the probes (it is sent within a second, whatever they do)
DEADLINE = 0.7
REDIS_TIMEOUT = 0.5


@dataclass
class _Probe:
    """One kind of check, in a daemon thread; its last result kept for the requests that find it still running."""

    name: str
    check: object  # () -> None, raises on failure
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    result: dict | None = None
    started: float = 0.0

    def start(self) -> bool:
        """Start a check unless one is still running; False when one is (a hung connection)."""
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return False
            self.result = None
            self.started = time.monotonic()
            self.thread = threading.Thread(target=self._run, name=f"healthz-{self.name}", daemon=True)
            self.thread.start()
            return True

    def _run(self) -> None:
        try:
            self.check()
            outcome = {"ok": True}
        except Exception as exc:  # any failure of the dependency is the answer, not an error of ours
            outcome = {"ok": False, "error": _first_line(exc)}
        outcome["ms"] = round((time.monotonic() - self.started) * 1000, 1)
        self.result = outcome

    def wait(self, until: float) -> dict:
        thread = self.thread
        if thread is not None:
            thread.join(max(0.0, until - time.monotonic()))
        if self.result is not None:
            return self.result
        waited = round((time.monotonic() - self.started) * 1000)
        return {"ok": False, "error": f"no answer within {waited} ms"}


def _first_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip()
    return (text_.splitlines()[0][:200] if text_ else "") or type(exc).__name__


class Health:
    """The probes of one app."""

    def __init__(self, app: Flask):
        config = dict(app.config)
        uri = config["SQLALCHEMY_DATABASE_URI"]
        options = {k: v for k, v in engine_options(config).items() if k not in {"pool_pre_ping", "pool_size",
                                                                               "max_overflow", "pool_timeout",
                                                                               "pool_recycle"}}
        if uri.startswith("sqlite"):
            options["connect_args"] = {**options.get("connect_args", {}), "timeout": DEADLINE}
        self.engine = create_engine(uri, poolclass=NullPool, **options)
        configure_engine(self.engine, config)
        self.redis_url = config.get("REDIS_URL")
        self.database = _Probe("database", self._check_database)
        self.redis = _Probe("redis", self._check_redis) if self.redis_url else None

    def _check_database(self) -> None:
        write_intent.set(False)  # a read: never BEGIN IMMEDIATE for it on SQLite (this thread's own context)
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar()

    def _check_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=REDIS_TIMEOUT,
                                      socket_timeout=REDIS_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()

    def report(self) -> tuple[dict, int]:
        """({"status": "ok" | "degraded" | "unavailable", "database": {...}, "redis": {...}}, HTTP status).

        503 only when the database fails (the node cannot serve); Redis failing is "degraded" (sign-in throttling
        falls back to the database), still 200."""
        until = time.monotonic() + DEADLINE
        probes = [p for p in (self.database, self.redis) if p is not None]
        busy = {p.name for p in probes if not p.start()}
        out: dict = {}
        for probe in probes:
            result = dict(probe.wait(until))
            if probe.name in busy and not result.get("ok"):
                result["error"] = "the previous check has not returned yet"
            out[probe.name] = result
        if self.redis is None:
            out["redis"] = {"ok": None, "configured": False}
        database_ok = out["database"]["ok"]
        redis_ok = out["redis"]["ok"] is not False
        status = "ok" if database_ok and redis_ok else ("degraded" if database_ok else "unavailable")
        return {"status": status, **out}, (200 if database_ok else 503)


def health(app: Flask) -> Health:
    found = app.extensions.get("market.health")
    if found is None:
        found = app.extensions.setdefault("market.health", Health(app))
    return found
