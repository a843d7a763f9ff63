"""Security headers on every kind of response, cookies, request-size limit, trusted hosts, a shared SECRET_KEY
(SECURITY.md items 8, 14, 25).

test_auth.py checks the headers on the ordinary pages and the session cookie of a sign-in; this file covers the
other kinds of response (error pages, CSRF refusal, 405, 413, JSON, static files, file downloads, CSV exports,
redirects, HEAD), the HTTPS mode, the configuration bounds, TRUSTED_HOSTS and the SECRET_KEY of several workers.
"""
from __future__ import annotations

import multiprocessing
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from market import create_app
from market.extensions import db
from market.models import UserSession
from tests import factories
from tests.helpers import app_config, client_for, login, objects, post

BIG = 17 * 1024 * 1024  # above the 16 MB default of MAX_CONTENT_LENGTH


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_hardened(resp, what: str) -> None:
    h = resp.headers
    csp = h.get("Content-Security-Policy")
    assert csp, f"{what}: no Content-Security-Policy"
    d = _directives(csp)
    script = d.get("script-src", d.get("default-src"))
    style = d.get("style-src", d.get("default-src"))
    assert script is not None and style is not None, (what, csp)
    for name, sources in (("script-src", script), ("style-src", style)):
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, (what, name, csp)
        assert "*" not in sources and "data:" not in sources and "http:" not in sources and "https:" not in sources, (what, name, csp)
    assert d.get("default-src") == ["'self'"], (what, csp)
    assert d.get("object-src") == ["'none'"], (what, csp)
    assert d.get("frame-ancestors") == ["'none'"], (what, csp)
    assert d.get("base-uri") == ["'self'"], (what, csp)
    assert d.get("form-action") == ["'self'"], (what, csp)
    assert h.get("X-Frame-Options") == "DENY", what
    assert h.get("X-Content-Type-Options") == "nosniff", what
    assert h.get("Referrer-Policy") in ("strict-origin-when-cross-origin", "same-origin", "no-referrer"), what


def _cookies(resp) -> dict[str, str]:
    return {v.split("=", 1)[0]: v for k, v in resp.headers.items() if k.lower() == "set-cookie"}


@pytest.fixture
def objs(world):
    """The objects tests/test_fuzz_inputs.get_urls fills every GET route with (one builder for both files)."""
    from tests.test_fuzz_inputs import get_objects

    return get_objects(world)


# ------------------------------------------------------------------ every kind of response


def _responses(app, world, objs):
    """(name, response, expected status) for every kind of response the app gives."""
    anon = app.test_client()
    broker = client_for(app, world.users.broker)
    enterprise = client_for(app, world.users.enterprise)
    big = "a=" + "x" * BIG
    return [
        ("HTML page", anon.get("/"), 200),
        ("HTML page signed in", enterprise.get("/my/demands"), 200),
        ("HEAD", anon.head("/demands"), 200),
        ("redirect to sign-in", anon.get("/account/password"), 302),
        ("404 page", anon.get("/no-such-page"), 404),
        ("404 object", enterprise.get("/demands/999999"), 404),
        ("403 page", enterprise.get("/admin/"), 403),
        ("405 page", anon.post("/healthz"), 405),
        ("400 CSRF refusal", enterprise.post("/logout", data={}), 400),
        ("413 body too large", anon.post("/login", data=big, content_type="application/x-www-form-urlencoded"), 413),
        ("JSON healthz", anon.get("/healthz"), 200),
        ("static CSS", anon.get("/static/css/app.css"), 200),
        ("static JS", anon.get("/static/js/app.js"), 200),
        ("attachment: contract scan", broker.get(f"/contracts/{objs.contract.id}/scan"), 200),
        ("attachment: contracts CSV", broker.get("/contracts/export.csv"), 200),
        ("attachment: import template", broker.get("/contracts/import/template.xlsx"), 200),
    ]


def test_every_kind_of_response_carries_the_security_headers(app, world, objs):
    seen = []
    for name, resp, status in _responses(app, world, objs):
        assert resp.status_code == status, (name, resp.status_code, resp.get_data(as_text=True)[:300])
        assert_hardened(resp, name)
        seen.append(name)
    assert len(seen) == 16


def test_json_and_downloads_have_the_right_types(app, world, objs):
    anon = app.test_client()
    assert anon.get("/healthz").mimetype == "application/json"
    broker = client_for(app, world.users.broker)
    scan = broker.get(f"/contracts/{objs.contract.id}/scan")
    assert scan.mimetype == "application/pdf"
    assert scan.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in scan.headers.get("Cache-Control", "")
    export = broker.get("/contracts/export.csv")
    assert export.headers["Content-Disposition"].startswith("attachment")
    # a party that is not on the contract gets no file, with the same headers
    other = client_for(app, world.users.enterprise_b)
    refused = other.get(f"/contracts/{objs.contract.id}/scan")
    assert refused.status_code == 404  # another party's contract is not found (helpers.OUTSIDER_REFUSALS)
    assert refused.mimetype == "text/html" and b"%PDF" not in refused.data
    assert_hardened(refused, "refused download")


def test_signed_in_pages_are_not_cached(app, world):
    c = client_for(app, world.users.enterprise)
    assert c.get("/my/demands").headers.get("Cache-Control") == "no-store"


EXPORTS = [("broker", "/contracts/export.csv"), ("broker", "/contracts/import/template.xlsx"),
           ("official", "/dashboard/export?table=summary&format=csv"),
           ("official", "/dashboard/export?table=summary&format=xlsx"), ("city_official", "/dashboard/export?table=targets&format=xlsx")]


def test_every_export_and_download_says_no_store(app, world, objs):
    """Issue 12 item 7: exports said "no-cache, max-age=0" (send_file's max_age=0), which lets a browser or a proxy
    keep the file; a download of official figures or a contract scan is never stored."""
    downloads = EXPORTS + [("broker", f"/contracts/{objs.contract.id}/scan")]
    for role, url in downloads:
        resp = client_for(app, getattr(world.users, role)).get(url)
        assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment"), (url, resp.status_code)
        assert "no-store" in resp.headers.get("Cache-Control", ""), (url, resp.headers.get("Cache-Control"))
        assert "max-age" not in resp.headers["Cache-Control"] or "no-store" in resp.headers["Cache-Control"], url


def test_every_signed_in_page_says_no_store_and_public_pages_stay_cacheable(app, world, objs):
    """Every GET route (tests/test_fuzz_inputs.get_urls fills their ids), as each signed-in role: whatever the
    answer (200, 302, 403, 404), Cache-Control is no-store. The same pages to an anonymous visitor keep today's
    "no-cache" (revalidated, as the page cache in market/pagecache.py serves them)."""
    from tests.test_fuzz_inputs import BASE_ARGS, ROLES, get_urls

    clients = {role: client_for(app, getattr(world.users, role)) for role in ROLES[1:]}
    anon = app.test_client()
    urls = get_urls(app, objs, world)
    opened, public, wrong = set(), 0, []
    for endpoint, path in urls:
        query = "&".join(f"{k}={v}" for k, v in BASE_ARGS.get(endpoint, []))
        url = path + ("?" + query if query else "")
        for role, c in clients.items():
            resp = c.get(url)
            if resp.status_code == 200:
                opened.add(url)
            if "no-store" not in resp.headers.get("Cache-Control", ""):
                wrong.append(f"{role} GET {url} -> {resp.status_code} {resp.headers.get('Cache-Control')!r}")
        resp = anon.get(url)
        if resp.status_code == 200:
            public += 1
            # a health answer is never kept anywhere (a balancer must see the database go); pages are revalidated
            want = "no-store" if endpoint == "main.healthz" else "no-cache"
            if resp.headers.get("Cache-Control") != want:
                wrong.append(f"anonymous GET {url} -> {resp.headers.get('Cache-Control')!r} (want {want})")
    assert not wrong, "\n".join(wrong[:40])
    assert len(urls) >= 40 and len(opened) >= len(urls) - 5 and public >= 8, (len(urls), len(opened), public)


# ------------------------------------------------------------------ TRUSTED_HOSTS unset: a warning at start


def _served_app(database_url, folder, monkeypatch, **config):
    monkeypatch.delenv("TRUSTED_HOSTS", raising=False)
    return create_app(app_config(database_url, folder) | {"TESTING": False} | config)


def test_a_server_started_without_trusted_hosts_warns(database_url, _schema, tmp_path, monkeypatch, caplog):
    from market.security import UNTRUSTED_HOSTS_WARNING

    with caplog.at_level("WARNING"):
        _served_app(database_url, tmp_path / "a", monkeypatch)
    assert [r for r in caplog.records if r.getMessage() == UNTRUSTED_HOSTS_WARNING and r.levelname == "WARNING"]
    caplog.clear()
    with caplog.at_level("WARNING"):
        _served_app(database_url, tmp_path / "b", monkeypatch, TRUSTED_HOSTS=["kjdsc.example.gov.cn"])
        _served_app(database_url, tmp_path / "c", monkeypatch, TESTING=True)
        _served_app(database_url, tmp_path / "d", monkeypatch, DEBUG=True)
    assert not [r for r in caplog.records if "TRUSTED_HOSTS" in r.getMessage()]


def test_a_command_line_task_does_not_warn_but_flask_run_does(database_url, _schema, tmp_path, monkeypatch, caplog):
    import click

    from market.security import UNTRUSTED_HOSTS_WARNING

    for command, warned in (("upgrade", False), ("import", False), ("run", True)):
        caplog.clear()
        with click.Context(click.Command(command), info_name=command), caplog.at_level("WARNING"):
            _served_app(database_url, tmp_path / command, monkeypatch)
        assert any(r.getMessage() == UNTRUSTED_HOSTS_WARNING for r in caplog.records) is warned, command


def test_gunicorn_logs_the_warning_on_stderr(tmp_path):
    """As `make serve` starts it: gunicorn app:app with no TRUSTED_HOSTS writes the warning line to its log."""
    import time

    from tests.live import Node

    node = Node("warn", tmp_path / "node", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'node.db'}"}, workers=1)
    node.launch()
    try:
        deadline = time.monotonic() + 40
        while "TRUSTED_HOSTS" not in node.log() and time.monotonic() < deadline and node.proc.poll() is None:
            time.sleep(0.2)
    finally:
        node.stop()
    log = node.log()
    assert "WARNING" in log and "未设置 TRUSTED_HOSTS" in log, log[-2000:]


# ------------------------------------------------------------------ request size (item 25)


def test_max_content_length_is_set_and_bounded(app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert isinstance(limit, int) and 0 < limit <= 64 * 1024 * 1024


@pytest.mark.parametrize("kind", ["form", "multipart", "json"])
def test_a_huge_body_gets_a_chinese_413_and_stores_nothing(app, world, objs, kind):
    c = client_for(app, world.users.broker)
    before = db.session.scalar(db.select(db.func.count()).select_from(UserSession))
    if kind == "form":
        resp = c.post("/contracts/new", data="title=" + "合" * (BIG // 3), content_type="application/x-www-form-urlencoded")
    elif kind == "multipart":
        body = (b'--b\r\nContent-Disposition: form-data; name="scan"; filename="big.pdf"\r\n'
                b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n" + b"0" * BIG + b"\r\n--b--\r\n")
        resp = c.post(f"/contracts/{objs.contract.id}/scan", data=body, content_type="multipart/form-data; boundary=b")
    else:
        resp = c.post("/login", data=b"[" + b"1," * (BIG // 2) + b"1]", content_type="application/json")
    assert resp.status_code == 413, resp.status_code
    page = resp.get_data(as_text=True)
    assert re.search(r'id="error-message">[^<]*[\u4e00-\u9fff]', page), page[:500]
    assert "超过了允许的大小" in page
    assert_hardened(resp, "413")
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(UserSession)) == before
    assert db.session.get(type(objs.contract), objs.contract.id).scan_path == objs.contract.scan_path


# ------------------------------------------------------------------ cookies and lifetimes (item 14)


def test_session_lifetime_is_bounded(app):
    assert app.config["PERMANENT_SESSION_LIFETIME"] <= timedelta(hours=12)
    # Flask-Login's remember cookie would outlive the session by a year by default: never longer than a month,
    # and sign-in does not set it at all (next test)
    assert app.config["REMEMBER_COOKIE_DURATION"] <= timedelta(days=30)
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["WTF_CSRF_TIME_LIMIT"] and app.config["WTF_CSRF_TIME_LIMIT"] <= 12 * 3600


def test_sign_in_sets_no_remember_cookie_even_when_asked(app, world):
    c = app.test_client()
    resp = post(c, "/login", {"username": "ent_a", "password": factories.PASSWORD, "remember": "1", "remember_me": "y"})
    assert resp.status_code == 302
    cookies = _cookies(resp)
    assert "session" in cookies and "remember_token" not in cookies, cookies


def test_a_session_older_than_its_lifetime_is_anonymous_on_the_server(app, world):
    """The cookie's Expires is only advice to the browser: the server-side row is checked too."""
    c = client_for(app, world.users.enterprise)
    assert c.get("/account/password").status_code == 200
    row = db.session.scalars(db.select(UserSession).where(UserSession.user_id == world.users.enterprise.id)).one()
    row.created_at = row.created_at - app.config["PERMANENT_SESSION_LIFETIME"] - timedelta(minutes=1)
    db.session.commit()
    resp = c.get("/account/password")
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"


@pytest.fixture
def https_app(database_url, _schema, tmp_path, monkeypatch, app):
    """The app as configured for HTTPS (HTTPS=1 in the environment), on the same test database."""
    monkeypatch.setenv("HTTPS", "1")
    return create_app(app_config(database_url, tmp_path / "https"))


def test_https_mode_sends_hsts_and_secure_cookies(https_app, world):
    assert https_app.config["SESSION_COOKIE_SECURE"] is True
    assert https_app.config["REMEMBER_COOKIE_SECURE"] is True
    c = https_app.test_client()
    page = c.get("/login", base_url="https://localhost")
    assert page.status_code == 200
    hsts = page.headers.get("Strict-Transport-Security", "")
    max_age = re.search(r"max-age=(\d+)", hsts)
    assert max_age and int(max_age.group(1)) >= 180 * 24 * 3600, hsts
    assert_hardened(page, "HTTPS page")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)
    resp = c.post("/login", data={"username": "ent_a", "password": factories.PASSWORD, "csrf_token": token},
                  base_url="https://localhost", headers={"Referer": "https://localhost/login"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    cookie = _cookies(resp)["session"]
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Expires="):
        assert flag in cookie, cookie
    for what, r in (("404", c.get("/nope", base_url="https://localhost")), ("static", c.get("/static/css/app.css", base_url="https://localhost"))):
        assert "max-age" in r.headers.get("Strict-Transport-Security", ""), what


def test_plain_http_mode_sends_no_hsts(app, world):
    """HSTS over plain HTTP would lock a test install out of its own address: only with HTTPS=1."""
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers


# ------------------------------------------------------------------ trusted hosts


@pytest.fixture
def hosts_app(database_url, _schema, tmp_path, monkeypatch, app):
    monkeypatch.setenv("TRUSTED_HOSTS", "market.example.cn,localhost")
    return create_app(app_config(database_url, tmp_path / "hosts"))


@pytest.mark.parametrize("method, url", [("GET", "/"), ("GET", "/login"), ("HEAD", "/demands"), ("GET", "/no-such-page"),
                                         ("GET", "/static/css/app.css"), ("GET", "/healthz"), ("POST", "/login"),
                                         ("POST", "/logout")])
def test_a_foreign_host_header_is_refused_with_400(hosts_app, world, method, url):
    assert hosts_app.config["TRUSTED_HOSTS"] == ["market.example.cn", "localhost"]
    c = hosts_app.test_client()
    resp = c.open(url, method=method, headers={"Host": "evil.example.com"}, data={"username": "ent_a"} if method == "POST" else None)
    assert resp.status_code == 400, (url, resp.status_code)
    assert_hardened(resp, "untrusted host")
    if method != "HEAD":
        page = resp.get_data(as_text=True)
        assert re.search(r'id="error-message">[^<]*[\u4e00-\u9fff]', page), page[:300]
        assert "evil.example.com" not in page
    assert "Location" not in resp.headers


def test_listed_hosts_are_served(hosts_app, world):
    c = hosts_app.test_client()
    for host in ("market.example.cn", "localhost", "market.example.cn:8443"):
        assert c.get("/login", headers={"Host": host}).status_code == 200, host
    # the untrusted-host page names the reason
    page = c.get("/", headers={"Host": "market.example.cn.evil.com"}).get_data(as_text=True)
    assert "域名" in page


def test_no_trusted_hosts_by_default(app):
    """Unset, every Host is served (the reverse proxy in front chooses); set TRUSTED_HOSTS in production."""
    assert app.config["TRUSTED_HOSTS"] is None


# ------------------------------------------------------------------ one SECRET_KEY for every worker


def _shared_config(database_url, folder) -> dict:
    cfg = app_config(database_url, folder)
    cfg.pop("SECRET_KEY")
    return cfg


def test_workers_on_one_instance_folder_share_the_secret_key(database_url, _schema, tmp_path, monkeypatch, app, world):
    """Two create_app() on the same instance folder, no SECRET_KEY in the environment: one key, so a cookie signed
    by one worker is accepted by the other; a node with another folder (another key) does not accept it."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MARKET_INSTANCE_DIR", str(tmp_path / "instance"))
    worker1 = create_app(_shared_config(database_url, tmp_path / "w1"))
    worker2 = create_app(_shared_config(database_url, tmp_path / "w2"))
    assert worker1.config["SECRET_KEY"] == worker2.config["SECRET_KEY"]
    assert len(worker1.config["SECRET_KEY"]) >= 32
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0, "the key file must be private"

    c1 = worker1.test_client()
    login(c1, "ent_a")
    cookie = c1.get_cookie("session").value
    assert c1.get("/account/password").status_code == 200
    c2 = worker2.test_client()
    c2.set_cookie("session", cookie)
    assert c2.get("/account/password").status_code == 200, "worker 2 refused worker 1's session"

    monkeypatch.setenv("MARKET_INSTANCE_DIR", str(tmp_path / "other-node"))
    stranger = create_app(_shared_config(database_url, tmp_path / "w3"))
    assert stranger.config["SECRET_KEY"] != worker1.config["SECRET_KEY"]
    c3 = stranger.test_client()
    c3.set_cookie("session", cookie)
    resp = c3.get("/account/password")
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch):
    from market.config import _secret_key

    monkeypatch.setenv("SECRET_KEY", "from-the-environment-0123456789abcdef")
    assert _secret_key(tmp_path) == "from-the-environment-0123456789abcdef"
    assert not (tmp_path / "secret_key").exists()


def _read_key(folder: str, start, out) -> None:
    from pathlib import Path

    from market.config import _secret_key

    start.wait()
    out.put(_secret_key(Path(folder)))


def test_workers_starting_together_get_one_non_empty_key(tmp_path, monkeypatch):
    """gunicorn starts its workers at once, each running create_app(): the first to create the file must not
    let another read it half-written (an empty key)."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    ctx = multiprocessing.get_context("fork")
    for attempt in range(30):  # the old open-then-write code gave an empty key in about 1 start of 5
        folder = tmp_path / f"race{attempt}"
        start, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_read_key, args=(str(folder), start, out)) for _ in range(6)]
        for p in procs:
            p.start()
        start.set()
        keys = [out.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        assert len(set(keys)) == 1 and len(keys[0]) >= 32, (attempt, keys)


# ------------------------------------------------------------------ uploads outside the web root (item 10 gap)


def test_stored_scans_are_outside_the_web_root_and_not_served_by_url(app, world, objs):
    from pathlib import Path

    upload_dir = Path(app.config["UPLOAD_DIR"]).resolve()
    static_dir = Path(app.static_folder).resolve()
    assert static_dir not in upload_dir.parents and upload_dir != static_dir
    stored = upload_dir / objs.contract.scan_path
    assert stored.is_file()
    c = client_for(app, world.users.broker)
    for url in (f"/static/{objs.contract.scan_path}", f"/static/../{stored.name}", f"/uploads/{objs.contract.scan_path}",
                f"/static/%2e%2e/instance/uploads/{objs.contract.scan_path}"):
        resp = c.get(url)
        assert resp.status_code == 404 and b"%PDF" not in resp.data, url


@pytest.mark.parametrize("multipart", [False, True])
def test_a_one_megabyte_form_field_is_refused_and_stores_nothing(app, world, multipart):
    """Item 7's 1 MB value: 400 (field too long) as a form, 413 (MAX_FORM_MEMORY_SIZE) as multipart; never a 500."""
    from market.models import Demand
    from tests.helpers import Poster

    c = Poster(client_for(app, world.users.enterprise))
    resp = c.raw("/demands/new", {"title": "寻求高透光导电膜玻璃镀膜技术", "description": "技" * (1024 * 1024 // 3 + 10),
                                  "field_id": world.fields["materials"].id, "modes": "development"}, multipart=multipart)
    assert resp.status_code == (413 if multipart else 400), resp.status_code
    assert re.search(r'[\u4e00-\u9fff]', resp.get_data(as_text=True))
    assert db.session.scalar(db.select(db.func.count()).select_from(Demand)) == 0
