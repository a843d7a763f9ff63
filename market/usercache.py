"""Signed-in page cache: a signed-in user's main pages (工作台 lists, deals, the dashboard, ...) rendered once per
state of the database and served again to that same user from the worker's memory.

An entry is keyed by the user, the server-side session, what the user may do (role, active flag, organisation
and its verification, broker review, region: `permission_key`) and the full URL, so one user's page is never
served to another, and a role change, an organisation verified or rejected, a broker approved or an account
disabled never meets an entry made before it. Every entry carries the database's write version read at the start
of the request that rendered it (`WriteVersion`), and is served only while that version has not moved: any
committed write, by any worker, node, job or CLI command (a new contract, a deal moved, a notification, a listing
reviewed), drops every signed-in page at once, including the one the writer then opens. `USER_PAGE_CACHE_SECONDS`
bounds an entry's age besides (dates such as 逾期 move with the clock, not with writes); 0 turns the cache off.

A hit still loads the session and its user from the database (one statement: a logged-out, revoked or disabled
session is refused as on any page) and reads the write version (SQLite: `PRAGMA data_version` on a connection of
its own that never writes; PostgreSQL: `pg_current_snapshot()`, which moves whenever a writing transaction starts
or ends). Only a 200 page rendered without touching the session or cookies, without flashed messages, without a
one-time form token (a second use would be refused) and not marked `no-store` is kept, and only for the
endpoints in `USER_CACHEABLE_ENDPOINTS`.
"""
from __future__ import annotations

import os
import sqlite3
import threading

from flask import Flask, g, request, session
from flask_login import current_user
from sqlalchemy import text

from .pagecache import PageCache

USER_CACHEABLE_ENDPOINTS = frozenset({
    "main.home", "listings.mine", "listings.browse", "matching.mine", "search.search",
    "deals.board", "deals.queue", "dashboard.index", "review.queue", "contracts.index",
})
FORM_TOKEN_MARK = b'name="form_token"'  # a page carrying a one-time submission token (market/formtokens.py)
MAX_BODY_BYTES = 512 * 1024


def permission_key(user) -> tuple:
    """Everything about the user that decides what a page may show; part of every cache key."""
    from .permissions import is_verified_actor

    org = user.org
    return (user.id, user.role, bool(user.active), user.org_id, org.status if org is not None else None,
            user.broker_status, user.region_id, is_verified_actor(user))


class WriteVersion:
    """A value that changes whenever any connection commits a write to the database."""

    def __init__(self):
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def read(self, app: Flask):
        from .extensions import db

        engine = db.engine
        if engine.dialect.name == "sqlite":
            return ("sqlite", self._sqlite(engine.url.database))
        if engine.dialect.name == "postgresql":
            return ("pg", db.session.execute(text("SELECT pg_current_snapshot()::text")).scalar())
        return None  # unknown database: no version, no cache

    def _sqlite(self, path: str) -> int:
        # a connection of this process that never writes: its data_version moves on every commit made through
        # any other connection, this process's own pool included (opened again after a fork)
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self._pid = os.getpid()
            return self._conn.execute("PRAGMA data_version").fetchone()[0]


def init_user_page_cache(app: Flask) -> None:
    cache = PageCache(int(app.config.get("USER_PAGE_CACHE_ENTRIES") or 1024))
    version = WriteVersion()
    app.extensions["market.user_page_cache"] = cache

    def _wanted() -> bool:
        return (float(app.config.get("USER_PAGE_CACHE_SECONDS") or 0) > 0 and request.method == "GET"
                and request.endpoint in USER_CACHEABLE_ENDPOINTS and "_user_id" in session
                and "_flashes" not in session)

    def _note_version():
        """First of all before_request functions: the version is read before the request's first statement,
        so the page's reads see at least every write that version counts (SQLite's read snapshot starts at
        the transaction's first read)."""
        if _wanted():
            g.user_page_version = version.read(app)

    app.before_request_funcs.setdefault(None, []).insert(0, _note_version)

    @app.before_request
    def _serve_user_page():
        current = g.pop("user_page_version", None)
        if current is None or not _wanted():
            return None
        if not current_user.is_authenticated:  # the session is checked against the database here
            return None
        key = repr((permission_key(current_user), session.get("sid"), request.host, request.full_path))
        hit = cache.get(key, current)
        if hit is not None:
            body, headers = hit
            return app.response_class(body, status=200, headers=headers)
        g.user_page_slot = (key, current, float(app.config["USER_PAGE_CACHE_SECONDS"]))
        return None

    @app.after_request
    def _store_user_page(response):
        slot = g.pop("user_page_slot", None)
        if (slot is None or response.status_code != 200 or response.direct_passthrough
                or "Set-Cookie" in response.headers or session.modified
                or "no-store" in response.headers.get("Cache-Control", "")):
            return response
        body = response.get_data()
        if len(body) > MAX_BODY_BYTES or FORM_TOKEN_MARK in body:
            return response
        key, current, ttl = slot
        # headers as the view made them; the security headers and the session cookie are added to each answer
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "set-cookie")]
        cache.put(key, current, ttl, body, headers)
        return response
