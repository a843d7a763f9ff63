"""Signed-in page cache: a signed-in user's main pages (工作台 lists, deals, the dashboard, ...) rendered once per
state of the database and served again to that same user from the worker's memory.

An entry is keyed by the user and the server-side session named in the signed session cookie (a new one at every
sign-in) and the full URL, so one user's page is never served to another. Every entry carries the database's
write version read at the start of the request that rendered it (`WriteVersion`: SQLite's `PRAGMA data_version`
on a connection of the worker's own that never writes; PostgreSQL: this database's `write_counter`, read on an
AUTOCOMMIT connection of the worker's own, which every
transaction of the app that wrote something moves by one just before its COMMIT, in the same transaction, so a
reader that sees the new number sees the writes too; other databases on the same server move nothing), and is
served only while that version has not moved: any
committed write, by any worker, node, job or CLI command (a new contract, a deal moved, a notification, a listing
reviewed, a role changed, an organisation verified, a session revoked, an account disabled), drops every
signed-in page at once, including the one the writer then opens. An entry lives at most
`USER_PAGE_CACHE_SECONDS` (dates such as 逾期 move with the clock, not with writes) and never past its session's
end; 0 turns the cache off.

An entry is made only by a request that loaded and checked its session against the database (the actor gate
included), so a hit is answered before anything else, without a statement on SQLite (one, the counter, on
PostgreSQL). Only a 200 page rendered without touching the session or cookies, without flashed messages and not
marked `no-store` by its view is kept, and only for the endpoints in `USER_CACHEABLE_ENDPOINTS`.

One-time form tokens (the 认领 buttons of the deals board and queue, market/formtokens.py) stay one-time: using
one writes its `form_submissions` row, which drops the page; until then the same page, tokens included, may be
shown again to the same session, where a button pressed twice (two tabs of one kept page) is the resubmission
the token exists to catch (409 with a link to the deal the first press made).

The PostgreSQL counter is moved by every write made through the app's engine (web, jobs, CLI commands, imports):
a statement that is not a read and changed rows marks the connection's transaction (a savepoint rolled back takes
its mark back), and its COMMIT first adds one to the counter
(`install_write_counter`). The counter is the transaction's last statement, so its row lock is held only for the
COMMIT itself and no lock is waited for after it (no deadlock). Writes made outside the app (psql) are seen
within USER_PAGE_CACHE_SECONDS; a database without the table (not yet upgraded) has no signed-in cache.
"""
from __future__ import annotations

import os
import re
import sqlite3
import threading

from flask import Flask, g, request, session
from flask_login import current_user
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from .pagecache import PageCache

USER_CACHEABLE_ENDPOINTS = frozenset({
    "main.home", "listings.mine", "listings.browse", "matching.mine", "search.search",
    "deals.board", "deals.queue", "dashboard.index", "review.queue", "contracts.index",
})
MAX_BODY_BYTES = 512 * 1024
#: the count and the row version's transaction id: a row deleted and made again (a test's cleanup) never repeats one
READ_COUNTER = "SELECT n, xmin::text FROM write_counter WHERE id = 1"
#: one round trip; a database without the table (before the upgrade, after a downgrade) commits as before
BUMP_COUNTER = ("DO $$ BEGIN INSERT INTO write_counter (id, n) VALUES (1, 1) "
                "ON CONFLICT (id) DO UPDATE SET n = write_counter.n + 1; "
                "EXCEPTION WHEN undefined_table THEN NULL; END $$")
#: statements that change nothing: everything else marks the transaction as a writer (unknown verbs included)
_READS = frozenset({"select", "show", "set", "reset", "begin", "start", "savepoint", "release", "rollback", "commit",
                    "end", "explain", "values", "fetch", "declare", "close", "move", "prepare", "deallocate",
                    "listen", "unlisten", "discard"})
_CHANGES = re.compile(r"\b(insert|update|delete|merge)\b", re.IGNORECASE)
_WROTE = "market_wrote"
_SAVEPOINTS = "market_wrote_savepoints"  # the mark as it was when each open savepoint began


def _is_write(statement: str) -> bool:
    head = statement.lstrip(" \t\r\n(").split(None, 1)
    if not head:
        return False
    verb = head[0].lower().rstrip(";")
    if verb == "with":  # a common table expression: a read unless it changes rows
        return _CHANGES.search(statement) is not None
    return verb not in _READS


def counter_present(engine: Engine, conn) -> bool:
    """Whether this database has the write_counter table (looked up once per engine, on `conn`)."""
    present = getattr(engine, "_market_write_counter", None)
    if present is None:
        present = conn.execute(text("SELECT to_regclass('write_counter')")).scalar() is not None
        engine._market_write_counter = present
    return present


def install_write_counter(engine: Engine) -> None:
    """PostgreSQL: every transaction of this engine that wrote adds one to `write_counter` just before COMMIT."""
    if engine.dialect.name != "postgresql" or getattr(engine, "_market_counter_hooks", False):
        return
    engine._market_counter_hooks = True

    @event.listens_for(engine, "begin")
    @event.listens_for(engine, "rollback")
    def _forget(conn):
        if not conn.invalidated:  # an invalidated connection refuses even a look at its info
            conn.info.pop(_WROTE, None)
            conn.info.pop(_SAVEPOINTS, None)

    @event.listens_for(engine, "after_cursor_execute")
    def _note_write(conn, cursor, statement, parameters, context, executemany):
        # a statement that changed no row (an UPDATE that matched nothing) changes no page: only rows count
        if not conn.invalidated and _WROTE not in conn.info and _is_write(statement) and cursor.rowcount != 0:
            conn.info[_WROTE] = True

    # what a savepoint rolled back was never written: the mark goes back to what it was when the savepoint began
    @event.listens_for(engine, "savepoint")
    def _savepoint(conn, name):
        if not conn.invalidated:
            conn.info.setdefault(_SAVEPOINTS, []).append(conn.info.get(_WROTE, False))

    @event.listens_for(engine, "rollback_savepoint")
    def _savepoint_rolled_back(conn, name, context):
        if not conn.invalidated and conn.info.get(_SAVEPOINTS):
            if not conn.info[_SAVEPOINTS].pop():
                conn.info.pop(_WROTE, None)

    @event.listens_for(engine, "release_savepoint")
    def _savepoint_released(conn, name, context):
        if not conn.invalidated and conn.info.get(_SAVEPOINTS):
            conn.info[_SAVEPOINTS].pop()

    @event.listens_for(engine, "commit")
    def _bump(conn):
        if conn.invalidated:
            return
        conn.info.pop(_SAVEPOINTS, None)
        if not conn.info.pop(_WROTE, False):
            return
        # through the Connection, still in this transaction (COMMIT is sent after this event): a failure is wrapped
        # and handled as any statement's is (handle_error hooks; a lost server invalidates the pooled connection),
        # so it answers the Chinese 503, nothing saved (market/errors.py)
        conn.exec_driver_sql(BUMP_COUNTER)
        conn.info.pop(_WROTE, None)  # the bump's own UPDATE marks nothing for the next transaction


class WriteVersion:
    """A value that changes whenever any connection commits a write to the database."""

    def __init__(self):
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._pg = None  # (engine, pid, an AUTOCOMMIT Connection of this process that only reads the counter)

    def read(self, app: Flask):
        from .extensions import db

        engine = db.engine
        if engine.dialect.name == "sqlite":
            return ("sqlite", self._sqlite(engine.url.database))
        if engine.dialect.name == "postgresql":
            return self._postgres(engine)
        return None  # unknown database: no version, no cache

    def _postgres(self, engine: Engine):
        """One round trip on a connection this process keeps for the counter alone, in AUTOCOMMIT: no pool
        checkout with its ping, no BEGIN and no ROLLBACK (a kept page cost 1.3 ms in process through the
        request's session: three round trips more). It goes through the engine, so its connect and stall limits
        (market/database.py) hold. A connection the server closed (a restart) is replaced once, as the pool's
        pre-ping would; any other error drops it and is raised, as the session's read did, so that the error
        pages answer (503 when the database is out of reach) and a later request connects afresh."""
        with self._lock:
            for attempt in (1, 2):
                held = self._pg
                if held is None or held[0] is not engine or held[1] != os.getpid():
                    if held is not None and held[1] == os.getpid():
                        _drop(held[2])  # another engine's (the app's engine was made anew)
                    if not event.contains(engine, "engine_disposed", self._disposed):
                        event.listen(engine, "engine_disposed", self._disposed)
                    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                    if not counter_present(engine, conn):
                        conn.close()
                        return None  # not upgraded yet: no version, no cache
                    held = self._pg = (engine, os.getpid(), conn)
                try:
                    return ("pg", tuple(held[2].execute(text(READ_COUNTER)).first() or ()))
                except DBAPIError as exc:
                    self._pg = None
                    _drop(held[2])
                    if attempt == 2 or not exc.connection_invalidated:
                        raise
                except Exception:
                    self._pg = None
                    _drop(held[2])
                    raise
            return None  # not reached: the second attempt returns or raises

    def _disposed(self, engine: Engine) -> None:
        """The engine's connections are closed (a test's teardown, a fork's fresh start): so is the counter's."""
        with self._lock:
            held = self._pg
            if held is not None and held[0] is engine:
                self._pg = None
                if held[1] == os.getpid():
                    _drop(held[2])

    def _sqlite(self, path: str) -> int:
        # a connection of this process that never writes: its data_version moves on every commit made through
        # any other connection, this process's own pool included (opened again after a fork)
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self._pid = os.getpid()
            return self._conn.execute("PRAGMA data_version").fetchone()[0]


def _drop(conn) -> None:
    try:
        conn.invalidate()
    except Exception:  # nosec B110 - already failing: the first error is the one raised
        pass


def init_user_page_cache(app: Flask) -> None:
    from .extensions import db

    cache = PageCache(int(app.config.get("USER_PAGE_CACHE_ENTRIES") or 1024))
    version = WriteVersion()
    with app.app_context():
        install_write_counter(db.engine)  # connects to nothing: the table is looked up at the first use
    app.extensions["market.user_page_cache"] = cache
    app.extensions["market.write_version"] = version

    def _wanted() -> bool:
        return (float(app.config.get("USER_PAGE_CACHE_SECONDS") or 0) > 0 and request.method == "GET"
                and request.endpoint in USER_CACHEABLE_ENDPOINTS and "_user_id" in session
                and "_flashes" not in session)

    def _key() -> str:
        # read from the signed session cookie only: the user, the server-side session (one per sign-in), the URL
        return repr((session.get("_user_id"), session.get("sid"), request.host, request.full_path))

    def _serve_user_page():
        """First of all before_request functions. The version is read before the request's first statement, so
        a page rendered now sees at least every write that version counts (SQLite's read snapshot starts at the
        transaction's first read). A hit is answered at once, without loading the session from the database:
        the entry was made by a request that loaded and checked this very session, and a logout, a revocation,
        a password change, a disabled account or a permission change is a write, which moves the version."""
        if not _wanted() or not session.get("sid"):
            return None
        current = version.read(app)
        if current is None:
            return None
        key = _key()
        hit = cache.get(key, current)
        if hit is not None:
            body, headers = hit
            return app.response_class(body, status=200, headers=headers)
        g.user_page_version = (key, current)
        return None

    app.before_request_funcs.setdefault(None, []).insert(0, _serve_user_page)

    @app.before_request
    def _mark_user_page():
        """After the actor gate: the page may be kept once the session has been checked against the database,
        for at most USER_PAGE_CACHE_SECONDS and never past the session's own end."""
        noted = g.pop("user_page_version", None)
        if noted is None or not current_user.is_authenticated:
            return None
        from .extensions import db
        from .models import UserSession
        from .models.base import utcnow

        row = db.session.get(UserSession, session.get("sid"))  # loaded with the user: no statement
        if row is None or row.user_id != current_user.id:
            return None
        left = (row.created_at + app.permanent_session_lifetime - utcnow()).total_seconds()
        ttl = min(float(app.config["USER_PAGE_CACHE_SECONDS"]), left)
        if ttl > 0:
            g.user_page_slot = (*noted, ttl)
        return None

    @app.after_request
    def _store_user_page(response):
        slot = g.pop("user_page_slot", None)
        if (slot is None or response.status_code != 200 or response.direct_passthrough
                or "Set-Cookie" in response.headers or session.modified
                or "no-store" in response.headers.get("Cache-Control", "")):
            return response
        body = response.get_data()
        if len(body) > MAX_BODY_BYTES:
            return response
        key, current, ttl = slot
        # headers as the view made them, marked no-store as every signed-in page is (market/security.py adds the
        # security headers to each answer, Flask the refreshed session cookie)
        headers = [(k, v) for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "set-cookie", "cache-control")] + [("Cache-Control", "no-store")]
        cache.put(key, current, ttl, body, headers)
        return response
