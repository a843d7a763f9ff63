"""Fixtures: a real database (SQLite file, or PostgreSQL with MARKET_TEST_DB=postgres) and a real index folder.

The schema is created once per run; every test starts from empty tables.
"""
from __future__ import annotations

import os
import re
import secrets
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from market import create_app
from market.extensions import db
from tests import factories

PG_ADMIN_URL = os.environ.get("MARKET_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# Every generated input of a run (Hypothesis tests, the form and query fuzzers) is drawn from one seed:
# MARKET_FUZZ_SEED when set, else a fresh one. It is printed at the start and the end of the run and in the
# fuzzers' failure messages; `MARKET_FUZZ_SEED=<n> pytest ...` draws the same inputs again.
FUZZ_SEED = int(os.environ.get("MARKET_FUZZ_SEED") or secrets.randbits(32))
os.environ["MARKET_FUZZ_SEED"] = str(FUZZ_SEED)  # the same seed for subprocesses


def fuzz_seed_hint() -> str:
    return f"MARKET_FUZZ_SEED={FUZZ_SEED} (rerun with it to draw the same inputs)"


@pytest.hookimpl(tryfirst=True)  # before Hypothesis' own plugin reads --hypothesis-seed
def pytest_configure(config):
    from hypothesis import settings

    # a failing Hypothesis test prints its falsifying example and the @reproduce_failure blob that replays it
    settings.register_profile("market", print_blob=True)
    settings.load_profile("market")
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = str(FUZZ_SEED)


def pytest_report_header(config):
    return f"generated inputs: {fuzz_seed_hint()}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if exitstatus:
        terminalreporter.write_line(f"generated inputs of this run: {fuzz_seed_hint()}")



def _pg_database(name: str) -> str:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _pg_drop(name: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextmanager
def pg_database(prefix: str):
    """A PostgreSQL database of our own (`<prefix>_<random>`), dropped afterwards; the test is skipped when
    PostgreSQL cannot be reached, unless MARKET_REQUIRE_PG is set (CI), where that fails it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        url = _pg_database(name)
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("MARKET_REQUIRE_PG"):
            raise
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield url
    finally:
        _pg_drop(name)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if os.environ.get("MARKET_TEST_DB", "sqlite") == "postgres":
        with pg_database("market_test") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    app = create_app(_test_config(database_url, tmp_path_factory.mktemp("inst")))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return True


def _test_config(database_url: str, folder) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SEARCH_INDEX_DIR": str(folder / "index"),
        "UPLOAD_DIR": str(folder / "uploads"),
        "SECRET_KEY": "test-secret",
        "SERVER_NAME": None,
        # tests change settings (page size, engine) between requests, which no running server does; the
        # page cache has its own tests (test_page_cache.py) and is on in the browser journeys
        "PAGE_CACHE_SECONDS": 0,
    }


def _empty_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        # organizations.verified_by_id -> users closes a cycle that no delete order satisfies
        db.session.execute(text("PRAGMA defer_foreign_keys = ON"))
        for t in tables:
            db.session.execute(t.delete())
    db.session.commit()


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context, as in production: its own `g` and DB session.

    The test's own session (outer context) is committed before the request, so the request
    sees what the test set up and no lock is held, and expired after, so the test then reads
    what the request wrote.
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        try:
            with self.application.app_context():
                return super().open(*args, **kwargs)
        finally:
            db.session.expire_all()


@pytest.fixture
def app(database_url, _schema, tmp_path):
    app = create_app(_test_config(database_url, tmp_path))
    app.test_client_class = FreshContextClient
    with app.app_context():
        _empty_tables()
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    match = CSRF_RE.search(page)
    if not match:
        page = client.get("/").get_data(as_text=True)
        match = CSRF_RE.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post(client, url: str, data: dict | None = None, **kw):
    """POST with a valid CSRF token, as a browser would."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=data, **kw)


def login(client, username: str, password: str = factories.PASSWORD):
    resp = post(client, "/login", {"username": username, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp


@pytest.fixture
def world(app):
    """Regions, fields, and one user of every role (plus a second enterprise in another county)."""
    regions = factories.region_tree()
    fields = factories.fields()
    ent_a = factories.org(region=regions["town_a"], name="怀远甲企业有限公司")
    ent_b = factories.org(region=regions["county_b"], name="五河乙企业有限公司")
    uni = factories.org(region=regions["city"], org_type="university", name="蚌埠测试大学")
    agency = factories.org(region=regions["city"], org_type="agency", name="蚌埠技术转移中心")
    unverified = factories.org(region=regions["county_a"], status="pending", name="怀远待认证企业")
    users = SimpleNamespace(
        enterprise=factories.user(role="enterprise", org=ent_a, username="ent_a"),
        enterprise_b=factories.user(role="enterprise", org=ent_b, username="ent_b"),
        institution=factories.user(role="institution", org=uni, username="uni"),
        broker=factories.user(role="broker", org=agency, region=regions["county_a"], username="broker"),
        official=factories.user(role="official", region=regions["county_a"], username="official_a"),
        official_b=factories.user(role="official", region=regions["county_b"], username="official_b"),
        city_official=factories.user(role="official", region=regions["city"], username="official_city"),
        admin=factories.user(role="admin", username="admin"),
        unverified=factories.user(role="enterprise", org=unverified, username="unverified"),
    )
    db.session.commit()
    return SimpleNamespace(regions=regions, fields=fields, users=users,
                           orgs=SimpleNamespace(ent_a=ent_a, ent_b=ent_b, uni=uni, agency=agency, unverified=unverified))


@pytest.fixture
def login_as(app, world):
    """login_as('enterprise') -> a signed-in test client for that world user."""

    def _login(name: str):
        c = app.test_client()
        login(c, getattr(world.users, name).username)
        return c

    return _login
