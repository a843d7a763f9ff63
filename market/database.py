"""Engine tuning: SQLite in WAL mode; write transactions start with BEGIN IMMEDIATE; a statement timeout; client-side
limits so that a database out of reach (stopped, frozen, cut off) answers within seconds instead of hanging a worker.

pysqlite's own implicit BEGIN is deferred: a read-then-write transaction then fails at once
with "database is locked" while another connection writes, and ORM read-modify-write loses
updates. Requests that may write (POST and friends) and CLI commands take the write lock up
front and wait for it; GET requests read with a deferred BEGIN so readers never queue.

PostgreSQL: the server's statement_timeout (DB_STATEMENT_TIMEOUT_MS) stops a slow statement, but a server that
answers nothing (its processes frozen, a host gone) leaves the client waiting on a socket for ever: the kernel
still accepts the connection and acknowledges what is sent, so TCP keepalives never fire. So every connection
opens within DB_CONNECT_TIMEOUT seconds, and every wait for an answer is watched (`GuardedConnection`): after
DB_STALL_SECONDS without an answer the client asks the server, on a new TCP connection, whether it still answers
at all (an SSLRequest, which the postmaster answers before any authentication); if it does not within
DB_PROBE_TIMEOUT seconds, or the wait passes the statement timeout by CLIENT_MARGIN_SECONDS, the connection is
closed and the call fails with an OperationalError, which the error pages answer with a 503 (market/errors.py).
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from contextvars import ContextVar

from flask import g, has_request_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)
#: the errors that mean "the database cannot be used now" (out of reach, frozen, a statement cancelled, no pooled
#: connection free in time): pages answer them with a 503 (market/errors.py, market/pagecache.py)
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)
_SQLITE_CHECK_EVERY = 10_000  # SQLite VM instructions between two looks at the clock
#: a call the server still answers probes for is abandoned this long after the statement timeout would have
#: cancelled it (the server's own cancel, with its clear message, normally comes first)
CLIENT_MARGIN_SECONDS = 5.0
#: TCP settings of every PostgreSQL connection unless the URL sets them: a peer that vanished (host down, network
#: cut) is noticed on an idle pooled connection within about a minute, and data left unacknowledged for 30 s
#: closes the connection
PG_TCP_DEFAULTS = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
                   "tcp_user_timeout": 30_000}


def engine_options(config) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS plus, on PostgreSQL, the statement timeout as a connection startup option, the
    connect timeout and TCP keepalives (DB_CONNECT_TIMEOUT), and the pool's checkout timeout (DB_POOL_TIMEOUT).

    Every statement of every connection is then cancelled by the server after DB_STATEMENT_TIMEOUT_MS
    (0 = no limit; e.g. `DB_STATEMENT_TIMEOUT_MS=0 flask db upgrade` for a long index build).
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    uri = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if not uri.startswith("postgresql"):
        return options
    connect_args = dict(options.get("connect_args") or {})
    timeout = int(config.get("DB_STATEMENT_TIMEOUT_MS") or 0)
    if timeout > 0:
        connect_args["options"] = f"{connect_args.get('options', '')} -c statement_timeout={timeout}".strip()
    if config.get("DB_CONNECT_TIMEOUT"):
        in_url = make_url(uri).query
        for name, value in {"connect_timeout": int(config["DB_CONNECT_TIMEOUT"]), **PG_TCP_DEFAULTS}.items():
            if name not in in_url:
                connect_args.setdefault(name, value)
    if connect_args:
        options["connect_args"] = connect_args
    if config.get("DB_POOL_TIMEOUT"):
        options.setdefault("pool_timeout", float(config["DB_POOL_TIMEOUT"]))
    return options


def configure_engine(engine: Engine, config) -> None:
    """The engine's connection hooks: SQLite's pragmas, write intent and statement timeout; PostgreSQL's guarded
    waits. `config` is the app's configuration."""
    if getattr(engine, "_market_configured", False):
        return
    engine._market_configured = True
    _watch_commits(engine)
    statement_timeout_ms = int(config.get("DB_STATEMENT_TIMEOUT_MS") or 0)
    if engine.dialect.name == "postgresql":
        _guard_postgres(engine, config, statement_timeout_ms)
        return
    if engine.dialect.name != "sqlite":
        return
    limit = statement_timeout_ms / 1000
    busy_ms = int(config.get("DB_BUSY_TIMEOUT_MS") or 10_000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # how long a write waits for another connection's write lock before "database is locked" (a 503)
        cur.execute(f"PRAGMA busy_timeout={busy_ms:d}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        if limit > 0:
            # SQLite has no statement timeout: a progress handler interrupts a statement running past the limit
            # ("interrupted", an OperationalError, as PostgreSQL's cancel is)
            info = record.info

            def _too_long() -> int:
                started = info.get("statement_started")
                return int(started is not None and time.monotonic() - started > limit)

            dbapi_conn.set_progress_handler(_too_long, _SQLITE_CHECK_EVERY)

    if statement_timeout_ms > 0:
        @event.listens_for(engine, "before_cursor_execute")
        def _started(conn, cursor, statement, parameters, context, executemany):
            conn.info["statement_started"] = time.monotonic()

        @event.listens_for(engine, "after_cursor_execute")
        def _done(conn, cursor, statement, parameters, context, executemany):
            conn.info.pop("statement_started", None)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def _watch_commits(engine: Engine) -> None:
    """What a failed request had written, for the error page (market/errors.py): a COMMIT that failed without an
    answer may have been applied (its error carries `market_commit_unknown`), and a request that committed before
    failing has saved its change (`committed_in_request()`); only otherwise may the page say that nothing was saved."""

    @event.listens_for(engine, "commit")
    def _committing(conn):
        if not conn.invalidated:
            conn.info["market_committing"] = True

    @event.listens_for(engine, "begin")
    @event.listens_for(engine, "rollback")
    def _not_committing(conn):
        if not conn.invalidated:  # an invalidated connection refuses even a look at its info
            conn.info.pop("market_committing", None)

    @event.listens_for(engine, "handle_error")
    def _mark_commit_unknown(context):
        conn = context.connection
        committing = conn is not None and not conn.invalidated and conn.info.pop("market_committing", False)
        if committing and context.statement is None and context.sqlalchemy_exception is not None:
            context.sqlalchemy_exception.market_commit_unknown = True

    global _session_watched
    if not _session_watched:
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_flush", _flushed)
        _session_watched = True


_session_watched = False


def _committed(session: Session) -> None:
    if not session.in_nested_transaction() and has_request_context():
        g.market_committed = True


def _flushed(session: Session, flush_context) -> None:
    if has_request_context():
        g.market_committed = False  # new writes, not committed yet


def committed_in_request() -> bool:
    """Whether the current request has committed and written nothing since: a failure now (a page reading what it
    saved) leaves its change stored."""
    return has_request_context() and bool(g.get("market_committed"))


# --- PostgreSQL: every wait for the server is watched --------------------------------------------------------------

def server_answers(host: str, port: int, timeout: float) -> bool:
    """Whether a PostgreSQL server (or a pooler in front of it) at host:port answers a new connection within
    `timeout` seconds. Sends an SSLRequest, which the server answers with one byte ('S' or 'N') before any
    authentication; the connection is then dropped, which the server does not log."""
    try:
        if host.startswith("/"):  # a Unix socket directory
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(f"{host}/.s.PGSQL.{port}")
        else:
            sock = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return False
    try:
        sock.settimeout(timeout)
        sock.sendall(struct.pack("!ii", 8, 80877103))
        return len(sock.recv(1)) == 1
    except OSError:
        return False
    finally:
        sock.close()


class _Prober:
    """One probe at a time per process, its answer shared for a moment by every waiting call. Remembers the server
    found silent, so that new connections to it fail after one short probe instead of a full connect timeout."""

    def __init__(self, timeout: float, remember: float = 0.25):
        self.timeout = timeout
        self.remember = remember
        self.silent: tuple[str, int] | None = None  # the server the last probe got no answer from
        self._lock = threading.Lock()
        self._last: dict[tuple[str, int], tuple[float, bool]] = {}

    def answers(self, host: str, port: int) -> bool:
        with self._lock:
            seen = self._last.get((host, port))
            if seen is not None and time.monotonic() - seen[0] < self.remember:
                return seen[1]
            alive = server_answers(host, port, self.timeout)
            self._last[(host, port)] = (time.monotonic(), alive)
            self.silent = None if alive else (host, port)
            return alive


def _guard_postgres(engine: Engine, config, statement_timeout_ms: int) -> None:
    stall = float(config.get("DB_STALL_SECONDS") or 0)
    if stall <= 0 or engine.dialect.driver != "psycopg":
        return
    prober = _Prober(float(config.get("DB_PROBE_TIMEOUT") or 1.0))
    limit = statement_timeout_ms / 1000 + CLIENT_MARGIN_SECONDS if statement_timeout_ms > 0 else None
    connection_class = guarded_connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, record, cargs, cparams):
        silent = prober.silent
        if silent is not None and not prober.answers(*silent):
            import psycopg

            raise psycopg.OperationalError(f"the database server at {silent[0]}:{silent[1]} does not answer: "
                                           "not connecting")
        conn = connection_class.connect(*cargs, **cparams)
        conn.market_guard = (stall, limit, prober, conn.info.host, conn.info.port)
        return conn


_GUARDED = None


def guarded_connection_class():
    """psycopg's Connection whose every wait for the server is bounded (see the module's docstring)."""
    global _GUARDED
    if _GUARDED is not None:
        return _GUARDED
    import psycopg
    from psycopg import errors as pg_errors

    wait_timeout = pg_errors._WaitTimeout  # psycopg's own "wait timeout expired", raised by its wait functions

    class GuardedConnection(psycopg.Connection):
        market_guard = None

        def wait(self, gen, interval=0.1, timeout=None):
            guard = self.market_guard
            if guard is None or timeout is not None:
                return super().wait(gen, interval=interval, timeout=timeout)
            stall, limit, prober, host, port = guard
            started = time.monotonic()
            while True:
                step = stall if limit is None else max(0.05, min(stall, started + limit - time.monotonic()))
                try:
                    # the generator may be resumed after a timeout: it yields the same wait again
                    return super().wait(gen, interval=interval, timeout=step)
                except wait_timeout:
                    waited = time.monotonic() - started
                    if limit is not None and waited >= limit:
                        reason = f"no answer from the database server within {waited:.1f}s"
                    elif not prober.answers(host, port):
                        reason = (f"no answer from the database server within {waited:.1f}s, and it does not "
                                  f"answer new connections at {host}:{port} either")
                    else:
                        continue
                    gen.close()
                    self.pgconn.finish()  # the connection is unusable now: the pool discards it
                    raise psycopg.OperationalError(f"{reason}: connection abandoned") from None

    _GUARDED = GuardedConnection
    return _GUARDED
