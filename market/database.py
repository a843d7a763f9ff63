"""Engine tuning: SQLite in WAL mode; write transactions start with BEGIN IMMEDIATE.

pysqlite's own implicit BEGIN is deferred: a read-then-write transaction then fails at once
with "database is locked" while another connection writes, and ORM read-modify-write loses
updates. Requests that may write (POST and friends) and CLI commands take the write lock up
front and wait for it; GET requests read with a deferred BEGIN so readers never queue.
"""
from __future__ import annotations

from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Engine

write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite" or getattr(engine, "_market_configured", False):
        return
    engine._market_configured = True

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
