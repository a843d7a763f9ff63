"""The signed-in page cache (market/usercache.py): a page is served again only to the user who got it, and never
after a committed write or a change of that user's permissions (issue 18)."""
from __future__ import annotations

import time

import pytest

from market.extensions import db
from market.models import Organization, User
from market.orgs import org_verify
from tests import factories
from tests.helpers import login, post


@pytest.fixture
def cached(app):
    app.config["USER_PAGE_CACHE_SECONDS"] = 60
    return app.extensions["market.user_page_cache"]


def warm(client, cache, url: str) -> str:
    """Ask until the page comes from the cache: the first request of a session makes its CSRF token (not kept),
    the next one renders and keeps the page, the third is served from the cache. The version is this database's
    own (SQLite's data_version, PostgreSQL's write_counter): other databases' writes on the same server move
    nothing, so no more asking than that is needed."""
    for _ in range(3):
        page, hit = get(client, cache, url)
        if hit:
            return page
    raise AssertionError(f"{url} never came from the signed-in cache")


def get(client, cache, url: str) -> tuple[str, bool]:
    """The page's text and whether it came from the signed-in cache."""
    hits = cache.hits
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True), cache.hits > hits


def test_a_page_is_served_again_only_to_its_user(app, world, cached):
    a, b = app.test_client(), app.test_client()
    login(a, "ent_a")
    login(b, "ent_b")
    # the first request of a session makes its CSRF token (the session changes: not kept), the next is kept
    page_a, page_b = warm(a, cached, "/my/demands"), warm(b, cached, "/my/demands")
    assert world.users.enterprise.name in page_a and world.orgs.ent_a.name in page_a
    assert world.orgs.ent_b.name not in page_a
    assert world.orgs.ent_b.name in page_b and world.orgs.ent_a.name not in page_b
    # signed out: the same cookie replayed gets no kept page, only the sign-in page
    cookie = a.get_cookie("session").value
    post(a, "/logout")
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    hits = cached.hits
    resp = replay.get("/my/demands")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"] and cached.hits == hits


def test_a_role_change_drops_the_users_pages(app, world, cached):
    client = app.test_client()
    login(client, "ent_a")
    page = warm(client, cached, "/")
    assert "企业用户" in page
    user = db.session.get(User, world.users.enterprise.id)
    user.role = "institution"  # an administrator's change, committed by another connection
    db.session.commit()
    page, hit = get(client, cached, "/")
    assert not hit and "高校院所用户" in page and "企业用户" not in page


def test_an_organisation_verified_drops_its_users_pages(app, world, cached):
    client = app.test_client()
    login(client, "unverified")
    page = warm(client, cached, "/")
    assert 'id="verification-banner"' in page
    org_verify(org=db.session.get(Organization, world.orgs.unverified.id), user=world.users.admin, decision="verify")
    db.session.commit()
    page, hit = get(client, cached, "/")
    assert not hit and 'id="verification-banner"' not in page


def test_a_new_contract_drops_the_officials_list(app, world, cached):
    client = app.test_client()
    login(client, "official_city")
    page = warm(client, cached, "/contracts/")
    assert "20993403" not in page
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, registration_no="2099340300000001")
    db.session.commit()
    page, hit = get(client, cached, "/contracts/")
    assert not hit and "2099340300000001" in page
    assert "2099340300000001" in warm(client, cached, "/contracts/")  # kept again for the new state


def test_a_kept_page_ends_with_its_session(app, world, cached):
    """A hit loads no session from the database: the entry itself must not outlive the session's lifetime."""
    from datetime import timedelta

    client = app.test_client()
    login(client, "ent_a")
    app.permanent_session_lifetime = timedelta(seconds=3)
    warm(client, cached, "/my/demands")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = client.get("/my/demands")
        if resp.status_code == 302:
            break
        time.sleep(0.2)  # polling for the session's end; the assertion is the answer below
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_core_write_drops_the_pages(app, world, cached):
    """A write that bypasses the ORM (a bulk UPDATE, as imports and jobs make) moves the version too."""
    from sqlalchemy import update

    client = app.test_client()
    login(client, "ent_a")
    page = warm(client, cached, "/my/demands")
    assert "改名后的企业" not in page
    db.session.execute(update(Organization).where(Organization.id == world.orgs.ent_a.id).values(name="改名后的企业"))
    db.session.commit()
    page, hit = get(client, cached, "/my/demands")
    assert not hit and "改名后的企业" in page


def test_reads_and_other_databases_keep_the_pages(app, world, cached):
    """Committing a transaction that only read moves nothing, and on PostgreSQL neither does a write to another
    database of the same server (the server-wide snapshot, used before, moved with every one of those)."""
    from sqlalchemy import create_engine, select, text

    client = app.test_client()
    login(client, "ent_a")
    warm(client, cached, "/my/demands")
    db.session.execute(select(User.id).limit(1))
    db.session.commit()
    assert get(client, cached, "/my/demands")[1]
    if db.engine.dialect.name != "postgresql":
        return
    from tests.helpers import PG_ADMIN_URL

    other = create_engine(PG_ADMIN_URL)  # the server's `postgres` database
    try:
        with other.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE issue18_other (n int)"))
            conn.execute(text("INSERT INTO issue18_other VALUES (1)"))
            assert conn.execute(text("SELECT pg_current_xact_id_if_assigned()")).scalar() is not None
    finally:
        other.dispose()
    assert get(client, cached, "/my/demands")[1], "a write to another database dropped the page"
    # and this database's counter moved by exactly one for one writing transaction
    before = db.session.execute(text("SELECT n FROM write_counter WHERE id = 1")).scalar()
    db.session.rollback()
    org = db.session.get(Organization, world.orgs.ent_b.id)
    org.name = "五河乙企业（改）"
    db.session.commit()
    assert db.session.execute(text("SELECT n FROM write_counter WHERE id = 1")).scalar() == before + 1
    db.session.rollback()


def test_the_counters_own_connection_closed_by_the_server_is_replaced(app, world, cached):
    """PostgreSQL: a kept page reads the counter on a connection the worker keeps for it (AUTOCOMMIT, one round
    trip). When the server closes that connection (a restart, an administrator's pg_terminate_backend), the next
    request connects again and is answered as before; a write then still drops the page."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reads PRAGMA data_version on a file connection of its own")
    from sqlalchemy import text, update

    client = app.test_client()
    login(client, "ent_a")
    warm(client, cached, "/my/demands")
    held = app.extensions["market.write_version"]._pg[2]
    pid = held.execute(text("SELECT pg_backend_pid()")).scalar()
    assert db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
    db.session.rollback()
    for _ in range(50):  # the backend is gone once the server says so
        if db.session.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar() == 0:
            break
        db.session.rollback()
        time.sleep(0.05)
    db.session.rollback()
    page, hit = get(client, cached, "/my/demands")
    assert hit and world.orgs.ent_a.name in page
    assert app.extensions["market.write_version"]._pg[2] is not held
    db.session.execute(update(Organization).where(Organization.id == world.orgs.ent_a.id).values(name="重连后改名的企业"))
    db.session.commit()
    page, hit = get(client, cached, "/my/demands")
    assert not hit and "重连后改名的企业" in page
    # the engine disposed (as at a test's end): the counter's connection is closed with the pool's
    pid = app.extensions["market.write_version"]._pg[2].execute(text("SELECT pg_backend_pid()")).scalar()
    db.session.rollback()
    db.engine.dispose()
    assert app.extensions["market.write_version"]._pg is None
    for _ in range(50):
        if db.session.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar() == 0:
            break
        db.session.rollback()
        time.sleep(0.05)
    else:
        raise AssertionError("the counter's connection outlived its engine")
    db.session.rollback()
