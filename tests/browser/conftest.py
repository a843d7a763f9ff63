"""Real-browser fixtures: the app served on 127.0.0.1, Debian's headless chromium, and a guard that fails a
test on any console error, uncaught page error or 5xx response.

Playwright's own browser download does not work here, so the browser is `/usr/bin/chromium`
(override with MARKET_CHROMIUM). No pytest-playwright: the fixtures below use `playwright.sync_api`.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from market import create_app
from market.config import PROJECT_ROOT
from market.extensions import db
from market.models import User
from tests import factories
from tests.helpers import pg_database
from tests.mailserver import mail_sink_for

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = os.environ.get("MARKET_CHROMIUM", "/usr/bin/chromium")
# without the background-networking flags chromium keeps calling out to a network that is closed here
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_REPORTS = pytest.StashKey[dict]()
_GUARD = pytest.StashKey["PageGuard"]()


# --- the live server ----------------------------------------------------------------------------------------

class LiveServer:
    """The real app on a free port; `url(path)` builds addresses, `seed()` opens a committing app context."""

    def __init__(self, app, base_url: str):
        self.app = app
        self.base_url = base_url

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @contextmanager
    def seed(self):
        with self.app.app_context(), _hash_once():
            yield db.session
            db.session.commit()


_hashes: dict[str, str] = {}


@contextmanager
def _hash_once():
    """While seeding, each distinct password is hashed once per run and the hash reused.

    The stored hash is a real scrypt hash of the password (sign-in checks it for real); only the
    ~0.1-0.4 s per seeded user is saved.
    """
    real = User.set_password

    def set_password(user, password):
        if password not in _hashes:
            real(user, password)
            _hashes[password] = user.password_hash
        user.password_hash = _hashes[password]

    User.set_password = set_password
    try:
        yield
    finally:
        User.set_password = real


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (a failing test's output stays readable); errors are still logged."""

    def log_request(self, code="-", size="-"):
        pass


@pytest.fixture
def live_database(tmp_path):
    """The journey's own database: a SQLite file, or with MARKET_TEST_DB=postgres a PostgreSQL database
    copied for this test from the run's schema template and dropped after it."""
    if os.environ.get("MARKET_TEST_DB", "sqlite") != "postgres":
        yield f"sqlite:///{tmp_path / 'live.db'}"
        return
    with pg_database("market_live", schema=True) as url:
        yield url


@pytest.fixture
def live_server(tmp_path, monkeypatch, live_database):
    # the instance folder (secret key file, default paths) also goes to tmp_path, not the checkout
    monkeypatch.setenv("MARKET_INSTANCE_DIR", str(tmp_path / "instance"))
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": live_database,
        "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "SECRET_KEY": "browser-test-secret",
        "WTF_CSRF_ENABLED": True,
        "PAGE_SIZE": 5,  # small pages, so a few rows are enough to exercise pagination
        "SEND_FILE_MAX_AGE_DEFAULT": 3600,  # no revalidation of bootstrap & co. on every page: faster journeys
        # jobs (the suggestion refresh) run in the server right after the commit that queued them, so a journey
        # sees its suggestions without a consumer process; tests/test_jobs.py runs the real consumers
        "JOBS_BACKEND": "immediate",
    })
    if live_database.startswith("sqlite"):  # a PostgreSQL one is a copy of the schema template
        with app.app_context():
            db.create_all()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def smtp(live_server):
    """A real SMTP server (tests/mailserver.py) the served app mails to, its links on the live server."""
    with mail_sink_for(live_server.app, site_url=live_server.base_url) as sink:
        yield sink


@pytest.fixture
def seeded(live_server):
    """Regions, fields, an official of county A, an admin. Returns plain values (no detached ORM rows)."""
    with live_server.seed():
        regions = factories.region_tree()
        fields = factories.fields()
        factories.user(role="official", region=regions["county_a"], username="official_a")
        factories.user(role="admin", username="admin")
        data = SimpleNamespace(
            region_ids={k: r.id for k, r in regions.items()},
            field_ids={k: f.id for k, f in fields.items()},
            official="official_a",
            admin="admin",
        )
    return data


# --- the browser ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("MARKET_REQUIRE_BROWSER"):
            pytest.fail(f"chromium not found at {CHROMIUM} (run `make browser`)")
        pytest.skip(f"chromium not found at {CHROMIUM} (run `make browser`)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageGuard:
    """Collects console errors, uncaught exceptions and 5xx answers from every page of one test.

    A CSP violation (inline script, inline style, event handler attribute) shows up as a console error.
    A test that provokes an error status on purpose says so with `expect_status(400)`.
    """

    def __init__(self):
        self.pages: list[Page] = []
        self.problems: list[str] = []
        self.expected_statuses: set[int] = set()
        self.dialogs: list[str] = []

    def expect_status(self, *codes: int) -> None:
        self.expected_statuses.update(codes)

    def watch(self, page: Page) -> None:
        self.pages.append(page)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error on {page.url}: {exc}"))
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def flush(self) -> None:
        """One round trip per page, so events still in flight are delivered before the verdict."""
        for p in self.pages:
            try:
                if not p.is_closed():
                    p.evaluate("0")
            except Exception:  # a page mid-navigation or crashed: its events are already in
                pass

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if "favicon.ico" in where or "favicon.ico" in msg.text:
            return
        status = re.search(r"status of (\d{3})", msg.text)
        if status and int(status.group(1)) in self.expected_statuses:
            return
        self.problems.append(f"console error ({where}): {msg.text}")

    def _response(self, response) -> None:
        if response.status >= 500 and response.status not in self.expected_statuses:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")

    def _dialog(self, dialog) -> None:
        # data-confirm forms ask window.confirm(): record the question and answer yes
        self.dialogs.append(dialog.message)
        dialog.accept()


@pytest.fixture
def page_guard(request) -> PageGuard:
    guard = PageGuard()
    request.node.stash[_GUARD] = guard
    return guard


@pytest.fixture
def new_page(browser: Browser, page_guard: PageGuard, request):
    """new_page() -> a Page in a fresh context (its own cookies): one per person in a journey."""
    contexts = []

    def _new() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(10_000)
        contexts.append(context)
        p = context.new_page()
        page_guard.watch(p)
        return p

    yield _new
    report = request.node.stash.get(_REPORTS, {}).get("call")
    if report is not None and report.failed:
        _save_artifacts(request.node.name, [p for c in contexts for p in c.pages])
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


def _save_artifacts(test_name: str, pages: list[Page]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    for i, p in enumerate(pages):
        try:
            p.screenshot(path=str(ARTIFACTS / f"{stem}-{i}.png"), full_page=True)
            (ARTIFACTS / f"{stem}-{i}.html").write_text(p.content(), encoding="utf-8")
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"could not save artifacts of page {i}: {exc}")


# --- hooks ----------------------------------------------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a passing browser test, fail it if any page logged an error; after a failing one, show them."""
    guard = item.stash.get(_GUARD, None)
    try:
        result = yield
    except BaseException:
        if guard is not None:
            guard.flush()
            if guard.problems:
                print("the browser also reported:\n  " + "\n  ".join(_distinct(guard.problems)))
        raise
    if guard is not None:
        guard.flush()
        if guard.problems:
            pytest.fail("the browser reported errors:\n  " + "\n  ".join(_distinct(guard.problems)), pytrace=False)
    return result


def _distinct(problems: list[str]) -> list[str]:
    return [f"{p} (x{problems.count(p)})" if problems.count(p) > 1 else p for p in dict.fromkeys(problems)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report
