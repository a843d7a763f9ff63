"""Helpers shared by the tests (conftest.py holds the fixtures): the test app's settings and database, signing in and
posting with a CSRF token, raw bodies, page messages, DB snapshots, valid listing forms, a published need and result,
who may open a record, and the one seed every generated input of a run is drawn from."""
from __future__ import annotations

import atexit
import html
import os
import re
import secrets
import tempfile
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, func, select, text
from werkzeug.test import run_wsgi_app
from werkzeug.wsgi import get_current_url

from market.extensions import db
from tests import factories

PG_ADMIN_URL = os.environ.get("MARKET_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# Every generated input of a run (Hypothesis tests, the form and query fuzzers, the moment the indexing test kills
# its worker) is drawn from one seed: MARKET_FUZZ_SEED when set, else a fresh one. It is printed at the start and
# the end of the run (conftest.py) and in the fuzzers' failure messages; `MARKET_FUZZ_SEED=<n> pytest ...` draws
# the same inputs again.
FUZZ_SEED = int(os.environ.get("MARKET_FUZZ_SEED") or secrets.randbits(32))
os.environ["MARKET_FUZZ_SEED"] = str(FUZZ_SEED)  # the same seed for subprocesses


def fuzz_seed_hint() -> str:
    return f"MARKET_FUZZ_SEED={FUZZ_SEED} (rerun with it to draw the same inputs)"


# The date the dashboard tests take as today (the app's TODAY setting, market.dashboard.queries.today): mid-year,
# so that periods before and after it fall in one year, and in the past, so that forms accept it as a signing date.
FROZEN_TODAY = date(2025, 6, 18)
FROZEN_NOW = datetime(2025, 6, 18, 2, 0, tzinfo=timezone.utc)  # 10:00 on FROZEN_TODAY in China, for timestamps

# the site address in the mail of the `smtp` fixture (tests/conftest.py): the links a test follows start with it
MAIL_SITE_URL = "http://market.test"


# --- the test app and its database ------------------------------------------------------------------------------

class _SharedTemplateCode(BytecodeCache):
    """Jinja's compiled templates, kept in memory for every app of the run (share_compiled_templates)."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # Jinja drops it if the template's source has changed since

    def dump_bytecode(self, bucket):
        self.code[bucket.key] = bucket.bytecode_to_string()


def share_compiled_templates() -> None:
    """Each test's app has its own Jinja environment, which compiled every template it rendered again (~11 ms a
    template, several a page). Every app of the run now shares one bytecode cache, Jinja's own mechanism for this:
    a template is compiled once per process and reloaded from its code by the next app, unless its source changed
    (the cache entry holds the source's checksum). The environments are otherwise the same in every app."""
    if isinstance(Flask.jinja_options.get("bytecode_cache"), _SharedTemplateCode):
        return
    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _SharedTemplateCode()}


def memoize_route_builders() -> None:
    """Every test builds its own app (create_app), and 90 % of that went to werkzeug compiling, for each of the
    app's ~220 URL rules, two URL-building functions from a generated AST (~0.1 s an app, minutes a run). The
    function depends only on the rule's text, its parsed parts, its defaults and whether unknown arguments are
    appended; it reaches the rule and its converters through its first argument, bound per rule by Rule.compile.
    So the suite compiles each once per process and binds it to every later app's rule. A running server builds
    its one app once and is left as werkzeug made it. tests/test_smoke.py checks that URLs still build."""
    from werkzeug.routing.rules import Rule

    if getattr(Rule._compile_builder, "memoized", False):
        return
    compile_builder = Rule._compile_builder
    builders: dict[tuple, object] = {}

    def _compile_builder(self, append_unknown: bool = True):
        defaults = tuple(sorted((str(k), type(self._converters.get(k)).__name__, repr(v))
                                for k, v in (self.defaults or {}).items()))
        key = (self.rule, self.host, self.subdomain, tuple(self._trace), defaults, append_unknown)
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = compile_builder(self, append_unknown)
        return builder

    _compile_builder.memoized = True
    _compile_builder.original = compile_builder
    Rule._compile_builder = _compile_builder


_SHARED_ENGINE_URLS: set[str] = set()


def share_engine_of(url: str) -> str:
    """`url` (the run's own database) gets shared engines (share_engines)."""
    _SHARED_ENGINE_URLS.add(str(url))
    return url


def share_engines() -> None:
    """Every test builds its own app, and Flask-SQLAlchemy made each a new engine. SQLAlchemy caches a statement's
    compiled SQL per engine (its dialect is part of the key), so every test compiled again each statement it ran:
    15 % of a profiled run of tests/test_listings.py and tests/test_deals.py, more than building the apps. The
    suite now makes one engine per database URL and engine settings and gives it to every app that asks for the
    same, as a server gives one engine to all its requests. Any setting that shapes an engine or its hooks
    (market/database.py: every DB_* and SQLALCHEMY_* key of the app's configuration, and the options Flask-SQLAlchemy
    passes) is part of the key, so a test that changes one gets an engine of its own. Only the run's own database
    (the `database_url` fixture's, named by `share_engine_of`) is shared: a test's private database or server (the
    fault tests freeze theirs and want each app's engine not to have met the frozen server) gets a new engine per
    app, as before. The `app` fixture still disposes the engine's pooled connections after each test.
    tests/test_smoke.py checks the sharing."""
    from flask_sqlalchemy.extension import SQLAlchemy

    if getattr(SQLAlchemy._make_engine, "shared", False):
        return
    make_engine = SQLAlchemy._make_engine
    engines: dict[tuple, object] = {}

    def _make_engine(self, bind_key, options, app):
        if str(options.get("url")) not in _SHARED_ENGINE_URLS:
            return make_engine(self, bind_key, options, app)
        shaping = tuple(sorted((k, repr(v)) for k, v in app.config.items() if k.startswith(("DB_", "SQLALCHEMY_"))))
        key = (bind_key, repr(sorted(options.items())), shaping)
        engine = engines.get(key)
        if engine is None:
            engine = engines[key] = make_engine(self, bind_key, options, app)
        return engine

    _make_engine.shared = True
    _make_engine.original = make_engine
    _make_engine.engines = engines
    SQLAlchemy._make_engine = _make_engine


def app_config(database_url: str, folder) -> dict:
    """The settings of the `app` fixture: `folder` holds the index and uploads."""
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
        "USER_PAGE_CACHE_SECONDS": 0,  # the signed-in page cache likewise (tests/test_user_page_cache.py)
        # jobs run in-process right after the commit that queued them; tests/test_jobs.py runs real consumers
        "JOBS_BACKEND": "immediate",
    }


_PG_SEQUENCES: dict[str, list[str]] = {}


def empty_tables() -> None:
    """Every table emptied, its ids starting again at 1 (as a fresh database would have them).

    The statements go through the session's connection, not the session: a DELETE on regions through the session
    marks the dashboard summary stale and rebuilds it at the commit (market/outbox.py), ~0.4 s per test spent on
    empty tables.
    """
    tables = list(reversed(db.metadata.sorted_tables))
    connection = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        # Rows deleted rather than TRUNCATE: a TRUNCATE of the 39 tables gives each a new file (fsynced at the
        # commit), 0.5-2 s per test here, where deleting the few rows a test wrote takes ~0.05 s. The replica role
        # skips the foreign keys (organizations.verified_by_id -> users closes a cycle) and the triggers, as a
        # TRUNCATE does; then the tables' own sequences restart, as RESTART IDENTITY does.
        # All in one round trip (68 tables: 137 statements one by one took 75-110 ms a test, this 14 ms), and the
        # sequences set back by setval, which is not DDL: ALTER SEQUENCE RESTART gave each sequence a new file.
        sequences = _pg_sequences(connection, [t.name for t in tables])
        connection.exec_driver_sql(
            "SET LOCAL session_replication_role = replica;"
            + "".join(f'DELETE FROM "{t.name}";' for t in tables)
            + ("SELECT " + ", ".join(f"setval('{s}', 1, false)" for s in sequences) if sequences else ""))
    else:
        # organizations.verified_by_id -> users closes a cycle that no delete order satisfies
        connection.execute(text("PRAGMA defer_foreign_keys = ON"))
        # On the DBAPI cursor, inside the same transaction: the product's statement limit (market/database.py, a
        # progress handler timing each statement SQLAlchemy runs) is not for a test's clean-up. The contracts'
        # triggers keep the summary and the checks' columns row by row, and a test that imported thousands of
        # contracts made the DELETE outlast the 10 s limit on a loaded machine ("interrupted" in the next setup).
        cursor = connection.connection.driver_connection.cursor()
        try:
            for t in tables:
                cursor.execute(f'DELETE FROM "{t.name}"')
        finally:
            cursor.close()
    db.session.commit()


def _pg_sequences(connection, table_names: list[str]) -> list[str]:
    """The sequences owned by these tables' columns (serial or identity), looked up once per database."""
    key = str(connection.engine.url)
    if key not in _PG_SEQUENCES:
        _PG_SEQUENCES[key] = list(connection.execute(text(
            "SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(s.relname) FROM pg_class s"
            " JOIN pg_namespace n ON n.oid = s.relnamespace"
            " JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
            " JOIN pg_class t ON t.oid = d.refobjid"
            " WHERE s.relkind = 'S' AND t.relkind IN ('r', 'p') AND t.relname = ANY(:names)"
        ), {"names": table_names}).scalars())
    return _PG_SEQUENCES[key]


def make_world() -> SimpleNamespace:
    """Regions, fields, and one user of every role (plus a second enterprise in another county), committed: the
    `world` fixture, also built once per module by fixtures that share one database between read-only tests."""
    regions = factories.region_tree()
    fields = factories.fields()
    from market.contracts.regcodes import ensure_reg_codes

    ensure_reg_codes()  # the 登记表 codes a new install gets (the migration seeds the same)
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


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context, as in production: its own `g` and DB session.

    The test's own session (outer context) is committed before the request, so the request
    sees what the test set up and no lock is held, and expired after, so the test then reads
    what the request wrote.
    """

    # werkzeug's client finds the cookies of a request, and files those of its answer, by host and path, but
    # computes the whole current URL for that, query string included, turned back into an IRI: with a fuzzer's
    # 100 KB query strings, over half of the query fuzz's time went there. The URL without the query string
    # gives the same host and path (werkzeug.test.Client._add_cookies_to_wsgi and run_wsgi_app, 3.1, otherwise
    # unchanged).
    def _add_cookies_to_wsgi(self, environ) -> None:
        if self._cookies is None:
            return
        url = urlsplit(get_current_url(environ, strip_querystring=True))
        server_name = url.hostname or "localhost"
        value = "; ".join(c._to_request_header() for c in self._cookies.values()
                          if c._matches_request(server_name, url.path))
        if value:
            environ["HTTP_COOKIE"] = value
        else:
            environ.pop("HTTP_COOKIE", None)

    def run_wsgi_app(self, environ, buffered: bool = False):
        self._add_cookies_to_wsgi(environ)
        rv = run_wsgi_app(self.application, environ, buffered=buffered)
        url = urlsplit(get_current_url(environ, strip_querystring=True))
        self._update_cookies_from_response(url.hostname or "localhost", url.path, rv[2].getlist("Set-Cookie"))
        return rv

    def open(self, *args, **kwargs):
        db.session.commit()
        try:
            with self.application.app_context():
                return super().open(*args, **kwargs)
        finally:
            db.session.expire_all()


def _pg_database(name: str, template: str | None = None) -> str:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        # A test database need not survive a crash of the server: its commits do not wait for the WAL flush
        # (2.5 -> 0.3-1 ms a commit here; a test commits at every request). What a commit makes visible, and when,
        # is unchanged; the product's durability is not what these databases test (bench/faults.py does that).
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _pg_drop(name: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


_PG_SCHEMA: list[str] = []  # the run's schema template database, made on first use


def _pg_schema_template() -> str:
    """A database holding the schema (db.create_all: tables, indexes, triggers), made once per run and dropped at
    its end: a database copied from it is ready in ~0.4 s, where creating the schema again took ~2.3 s (the
    browser journeys and the shared read-only fixtures each have a database of their own)."""
    if not _PG_SCHEMA:
        from market import create_app

        name = f"market_schema_{uuid.uuid4().hex[:10]}"
        url = _pg_database(name)
        atexit.register(_pg_drop, name)
        with tempfile.TemporaryDirectory() as folder:
            app = create_app(app_config(url, Path(folder)))
            with app.app_context():
                db.create_all()
                db.engine.dispose()
        _PG_SCHEMA.append(name)
    return _PG_SCHEMA[0]


@contextmanager
def pg_database(prefix: str, *, schema: bool = False):
    """A PostgreSQL database of our own (`<prefix>_<random>`), dropped afterwards, with the schema already in it
    when `schema`; the test is skipped when PostgreSQL cannot be reached, unless MARKET_REQUIRE_PG is set (CI),
    where that fails it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        url = _pg_database(name, template=_pg_schema_template() if schema else None)
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("MARKET_REQUIRE_PG"):
            raise
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield url
    finally:
        _pg_drop(name)


@contextmanager
def module_database(prefix: str, folder):
    """A database apart from the `app` fixture's, for a module's shared read-only fixture: a SQLite file in
    `folder`, or with MARKET_TEST_DB=postgres a PostgreSQL database of its own (dropped afterwards), its schema
    created."""
    from market import create_app

    if os.environ.get("MARKET_TEST_DB", "sqlite") == "postgres":
        with pg_database(prefix, schema=True) as url:
            yield url
        return
    url = f"sqlite:///{folder / f'{prefix}.db'}"
    app = create_app(app_config(url, folder / "schema"))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    yield url


# --- signing in and posting ---------------------------------------------------------------------------------------

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


_FORM_TOKENS: dict[tuple[str, str], str] = {}
FORM_TOKEN_RE = re.compile(r'name="form_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="form_token"')


def form_token(seed: str | None = None) -> str:
    """A one-time submission token as a creating form's page carries it (market/formtokens.py, signed with the
    app's secret). Without `seed` a fresh one; with a seed the same token for the whole run (one form posted
    twice: the second post is a resubmission)."""
    from flask import current_app

    from market.formtokens import new_form_token

    if seed is None:
        return new_form_token()
    return _FORM_TOKENS.setdefault((str(current_app.config["SECRET_KEY"]), seed), new_form_token())


def token_in(page: str) -> str:
    """The form_token of the (first) form in a page's HTML."""
    match = FORM_TOKEN_RE.search(page)
    assert match, "no form_token on the page"
    return html.unescape(match.group(1) or match.group(2))


def page_token(client, url: str) -> str:
    """The form_token of the (first) form on the page at `url`, as a browser posts it."""
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return token_in(resp.get_data(as_text=True))


def login(client, username: str, password: str = factories.PASSWORD):
    resp = post(client, "/login", {"username": username, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp


# --- pages, bodies and rows ---------------------------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")
_MESSAGE_PATTERNS = (
    re.compile(r'<div class="invalid-feedback[^"]*"[^>]*>(.*?)</div>', re.S),
    re.compile(r'id="form-errors">((?:<div>.*?</div>)+|[^<]*)</div>', re.S),
    re.compile(r'<p class="lead" id="error-message">(.*?)</p>', re.S),
    re.compile(r'<div class="alert alert-(?:danger|warning)[^"]*" role="alert">\s*(.*?)<button', re.S),
)
_TAG = re.compile(r"<[^>]+>")


class Poster:
    """A client with its CSRF token fetched once (posting through `post` costs a GET each time)."""

    def __init__(self, client):
        self.client = client
        self.token = csrf_token(client)

    def post(self, url: str, data: dict | None = None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kw)

    def raw(self, url: str, pairs, *, multipart: bool = False):
        """POST a body built by hand: lone surrogates go out as their UTF-8 bytes, as a broken client would send."""
        return raw_post(self.client, url, pairs, token=self.token, multipart=multipart)

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)


def raw_post(client, url: str, pairs, *, token: str | None, multipart: bool = False):
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    expanded: list[tuple[str, str]] = []
    for key, value in items:
        for v in value if isinstance(value, (list, tuple)) else [value]:
            expanded.append((key, str(v)))
    if token is not None:
        expanded.append(("csrf_token", token))
    if not multipart:
        body = urlencode(expanded, encoding="utf-8", errors="surrogatepass")
        return client.post(url, data=body, content_type="application/x-www-form-urlencoded")
    boundary = "----market-test-boundary"
    parts = []
    for key, value in expanded:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
            + value.encode("utf-8", "surrogatepass")
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def messages(resp) -> list[str]:
    """The user-facing error messages on a page: field errors, the form banner, the error page, alerts."""
    page = resp.get_data(as_text=True)
    found = []
    for pattern in _MESSAGE_PATTERNS:
        for match in pattern.findall(page):
            text = html.unescape(_TAG.sub(" ", match)).strip()
            if text:
                found.append(" ".join(text.split()))
    return found


def assert_refused(resp, *expected: str, codes=range(400, 500)) -> list[str]:
    """A 4xx whose every message is Chinese, containing each expected fragment."""
    assert resp.status_code in codes, (resp.status_code, messages(resp) or resp.get_data(as_text=True)[:800])
    found = messages(resp)
    assert found, f"no message on the {resp.status_code} page"
    for text in found:
        assert CJK.search(text), f"a message that is not Chinese: {text!r}"
    joined = " | ".join(found)
    for fragment in expected:
        assert fragment in joined, f"{fragment!r} not among {found}"
    return found


def is_login_redirect(resp) -> bool:
    return resp.status_code == 302 and urlsplit(resp.headers.get("Location", "")).path == "/login"


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot() -> dict[str, list]:
    """Every row of every table, in a comparable form (but write_counter: the signed-in page cache's count of
    transactions that wrote rows, market/usercache.py, moves even when they left every row as it was)."""
    db.session.expire_all()
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name == "write_counter":
            continue
        rows = db.session.execute(select(table)).all()
        out[table.name] = sorted((tuple(repr(v) for v in row) for row in rows))
    db.session.commit()
    return out


def diff(before: dict, after: dict) -> dict[str, tuple[int, int]]:
    return {name: (len(before[name]), len(after.get(name, []))) for name in before if before[name] != after.get(name)}


def objects(world) -> SimpleNamespace:
    """Real objects to fill URL parameters: listings of each library in useful states, an org to verify."""
    u, f = world.users, world.fields
    objs = SimpleNamespace(
        demand=factories.demand(owner=u.enterprise, field=f["materials"], status="published", title="公开的镀膜技术需求"),
        pending_demand=factories.demand(owner=u.enterprise, field=f["materials"], status="pending", title="待审核的镀膜技术需求"),
        draft_demand=factories.demand(owner=u.enterprise, field=f["materials"], status="draft", title="草稿状态的镀膜技术需求"),
        achievement=factories.achievement(owner=u.institution, field=f["materials"], status="published", title="公开的导电膜成果"),
        pending_achievement=factories.achievement(owner=u.institution, field=f["materials"], status="pending", title="待审核的导电膜成果"),
        draft_achievement=factories.achievement(owner=u.institution, field=f["materials"], status="draft", title="草稿状态的导电膜成果"),
        org=world.orgs.unverified,
        region=world.regions["county_a"],
        field=world.fields["materials"],
        user=world.users.enterprise,
    )
    db.session.commit()
    return objs


def client_for(app, user):
    """A client signed in as `user` through a real server-side session, without paying for a scrypt check.

    Sign-in itself is tested in test_auth.py; elsewhere this keeps the suite fast on a small machine.
    """
    import secrets

    from market.models import UserSession

    client = app.test_client()
    sid = secrets.token_urlsafe(32)
    db.session.add(UserSession(id=sid, user_id=user.id, ip="127.0.0.1"))
    db.session.commit()
    with client.session_transaction() as sess:
        sess["sid"] = sid
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
        sess.permanent = True
    return client


def published_pair(world) -> SimpleNamespace:
    """A published need of 怀远甲企业 and a published result of 蚌埠测试大学, both in 金属材料; not committed."""
    u, f = world.users, world.fields
    return SimpleNamespace(
        demand=factories.demand(owner=u.enterprise, field=f["materials"], status="published"),
        achievement=factories.achievement(owner=u.institution, field=f["materials"], status="published"),
    )


def demand_form(world, **over) -> dict:
    """A valid 技术需求 form, every field filled (its one-time token too); `over` replaces fields."""
    return {
        "title": "寻求光伏玻璃减反射镀膜技术",
        "field_id": str(world.fields["materials"].id),
        "description": "我公司光伏玻璃透光率偏低，现有减反射膜耐候性差，两年后衰减明显。",
        "indicators": "透光率≥94%",
        "budget": "12.5",
        "modes": ["development", "service"],
        "keywords": "光伏玻璃、减反射",
        "contact_name": "李四",
        "contact_phone": "0552-1234567",
        "contact_email": "li@example.cn",
        "deadline": (date.today() + timedelta(days=60)).isoformat(),
        "form_token": form_token(),  # a fresh one per form, as each page view carries
        **over,
    }


def achievement_form(world, **over) -> dict:
    """A valid 科技成果 form, every field filled (its one-time token too); `over` replaces fields."""
    return {
        "title": "低方阻透明导电膜制备技术",
        "field_id": str(world.fields["materials"].id),
        "summary": "采用磁控溅射工艺制备低方阻透明导电膜，方阻低于6Ω/□，透光率大于90%。",
        "maturity": "6",
        "ip_type": "invention",
        "ip_numbers": "ZL202110123456.7",
        "ip_status": "granted",
        "price": "80",
        "modes": ["transfer", "license"],
        "team_lead": "王教授",
        "team_members": "赵一、钱二",
        "keywords": "导电膜",
        "contact_name": "王五",
        "contact_phone": "0551-1234567",
        "form_token": form_token(),  # a fresh one per form, as each page view carries
        **over,
    }


#: who opens a deal or contract between 怀远甲企业 and 蚌埠测试大学: the parties, the broker, the officials over
#: them, the admin; and who gets a 404: the other county's enterprise and official, an unverified organisation
INSIDERS = ("enterprise", "institution", "broker", "official", "city_official", "admin")
OUTSIDERS = ("enterprise_b", "official_b", "unverified")
# how each outsider is refused: another party's object is not found (404); an account nobody verified is stopped
# by the actor gate before any object is loaded (403, the same for every id: it learns nothing)
OUTSIDER_REFUSALS = {"enterprise_b": 404, "official_b": 404, "unverified": 403}


def statuses(login_as, url: str, names) -> dict[str, int]:
    """The status code of GET url for each signed-in role name."""
    return {name: login_as(name).get(url).status_code for name in names}


def post_together(app, posters, url: str, data: dict, answers: list | None = None) -> list[int]:
    """Each poster posts `data` to `url` at the same moment (a barrier), each in a thread with its own app context
    and session; the sorted statuses (and each answer's (status, text) appended to `answers` when given). The
    test's own transaction ends first, so that it holds no snapshot or lock while the posts run; an exception in a
    thread fails the test instead of vanishing with it."""
    import threading

    db.session.commit()
    barrier = threading.Barrier(len(posters))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def send(poster):
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                resp = poster.post(url, data)
                statuses.append(resp.status_code)
                if answers is not None:
                    answers.append((resp.status_code, resp.get_data(as_text=True)))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=send, args=(p,)) for p in posters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return sorted(statuses)


def same_day_start(ahead, span):
    """A start `ahead` of now (UTC, whole minutes) whose Beijing-time day also holds start + `span`: an event's
    session lines ("YYYY-MM-DD HH:MM-HH:MM") cannot cross midnight, so a start late in the Beijing evening moves to
    09:00 the next Beijing day (still within a day: check-in opens 24 hours before). Before, tests built from the
    clock failed when run between about 20:00 and 24:00 Beijing time."""
    from datetime import datetime, time, timedelta

    from market.models.base import utcnow

    china = timedelta(hours=8)
    start = utcnow().replace(second=0, microsecond=0) + ahead
    local = start + china
    if (local + span).date() != local.date():
        next_day = datetime.combine(local.date() + timedelta(days=1), time(9, 0), tzinfo=local.tzinfo)
        start = next_day - china
    return start
