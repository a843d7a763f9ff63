"""Engine tuning: SQLite in WAL mode; write transactions start with BEGIN IMMEDIATE; a statement timeout.

pysqlite's own implicit BEGIN is deferred: a read-then-write transaction then fails at once
with "database is locked" while another connection writes, and ORM read-modify-write loses
updates. Requests that may write (POST and friends) and CLI commands take the write lock up
front and wait for it; GET requests read with a deferred BEGIN so readers never queue.
"""
from __future__ import annotations

import time
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Engine

write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)
_SQLITE_CHECK_EVERY = 10_000  # SQLite VM instructions between two looks at the clock


def engine_options(config) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS plus, on PostgreSQL, the statement timeout as a connection startup option.

    Every statement of every connection is then cancelled by the server after DB_STATEMENT_TIMEOUT_MS
    (0 = no limit; e.g. `DB_STATEMENT_TIMEOUT_MS=0 flask db upgrade` for a long index build).
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    timeout = int(config.get("DB_STATEMENT_TIMEOUT_MS") or 0)
    if str(config.get("SQLALCHEMY_DATABASE_URI") or "").startswith("postgresql") and timeout > 0:
        connect_args = dict(options.get("connect_args") or {})
        connect_args["options"] = f"{connect_args.get('options', '')} -c statement_timeout={timeout}".strip()
        options["connect_args"] = connect_args
    return options


def configure_engine(engine: Engine, *, statement_timeout_ms: int = 0) -> None:
    if engine.dialect.name != "sqlite" or getattr(engine, "_market_configured", False):
        return
    engine._market_configured = True
    limit = statement_timeout_ms / 1000

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
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
