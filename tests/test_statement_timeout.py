"""Expensive queries finish in bounded time or are refused (SECURITY.md item 25).

DB_STATEMENT_TIMEOUT_MS cancels any statement that runs longer (PostgreSQL's statement_timeout, set as a connection
startup option; on SQLite a progress handler); the page then answers a Chinese 503, never a 500 traceback, and the
connection serves the next request. Search text is bounded before it reaches an engine.
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from market import create_app
from market.config import Config
from market.errors import QUERY_CANCELLED
from market.extensions import db
from market.search.backend import MAX_QUERY_TERMS
from market.search.query import MAX_QUERY_CHARS
from tests.helpers import CJK, FreshContextClient, app_config, client_for, messages

TIMEOUT_MS = 300


def _slow_sql(dialect: str) -> str:
    """A statement that runs for seconds on either database."""
    if dialect == "postgresql":
        return "SELECT pg_sleep(5)"
    return ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500000000) "
            "SELECT count(*) FROM n")


@pytest.fixture
def timed_app(database_url, _schema, tmp_path):
    """The app with a 300 ms statement timeout and one extra route that runs a slow statement (the real error
    handler and engine settings are what is under test)."""
    app = create_app({**app_config(database_url, tmp_path), "DB_STATEMENT_TIMEOUT_MS": TIMEOUT_MS})
    app.test_client_class = FreshContextClient

    @app.route("/_test/slow")
    def slow():
        db.session.execute(text(_slow_sql(db.engine.dialect.name))).all()
        return "finished"

    @app.route("/_test/quick")
    def quick():
        return str(db.session.execute(text("SELECT 1")).scalar())

    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_the_default_timeout_is_ten_seconds():
    assert Config().DB_STATEMENT_TIMEOUT_MS == 10_000


def test_a_statement_over_the_timeout_is_cancelled(timed_app):
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == f"{TIMEOUT_MS}ms"
        db.session.rollback()
    started = time.monotonic()
    with pytest.raises(OperationalError) as caught:
        db.session.execute(text(_slow_sql(dialect))).all()
    elapsed = time.monotonic() - started
    db.session.rollback()
    assert elapsed < 3, elapsed
    reason = str(caught.value.orig)
    assert ("canceling statement due to statement timeout" in reason) if dialect == "postgresql" else ("interrupted" in reason)
    assert db.session.execute(text("SELECT 1")).scalar() == 1  # the connection is usable again


def test_the_page_answers_a_chinese_503_and_the_next_request_works(timed_app):
    client = timed_app.test_client()
    started = time.monotonic()
    resp = client.get("/_test/slow")
    assert time.monotonic() - started < 3
    assert resp.status_code == 503
    assert resp.headers.get("Retry-After") == "30"
    page = resp.get_data(as_text=True)
    assert "Traceback" not in page and "OperationalError" not in page and "pg_sleep" not in page
    assert messages(resp) == [QUERY_CANCELLED] and CJK.search(QUERY_CANCELLED)
    assert client.get("/_test/quick").get_data(as_text=True) == "1"


def test_the_timeout_spares_ordinary_pages(timed_app):
    """300 ms is far above what the ordinary pages need: they answer 200."""
    client = timed_app.test_client()
    for url in ("/", "/demands", "/achievements", "/search?q=导电膜"):
        assert client.get(url).status_code == 200, url


def test_a_postgres_url_gets_the_timeout_as_a_startup_option():
    from market.database import engine_options

    opts = engine_options({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@h/db", "DB_STATEMENT_TIMEOUT_MS": 1234,
                           "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}})
    assert opts == {"pool_pre_ping": True, "connect_args": {"options": "-c statement_timeout=1234"}}
    assert "connect_args" not in engine_options({"SQLALCHEMY_DATABASE_URI": "postgresql://u@h/db",
                                                  "DB_STATEMENT_TIMEOUT_MS": 0})
    assert "connect_args" not in engine_options({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db",
                                                  "DB_STATEMENT_TIMEOUT_MS": 1234})


def test_search_text_is_bounded_before_the_engine(app, world):
    """A query of 20,000 characters and thousands of distinct terms answers quickly: cut to MAX_QUERY_CHARS and
    MAX_QUERY_TERMS terms."""
    from market.search import analyzer

    words = "".join(f"词{i}导电膜石墨烯" for i in range(3000))
    assert len(analyzer.query_terms(words, MAX_QUERY_TERMS)) <= MAX_QUERY_TERMS
    client = client_for(app, world.users.enterprise)
    started = time.monotonic()
    for url in (f"/search?q={words}", f"/demands?q={words}", f"/search?q={'技' * 20000}"):
        assert client.get(url).status_code == 200
    assert time.monotonic() - started < 15
    assert MAX_QUERY_CHARS <= 1000
