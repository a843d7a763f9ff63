"""The anonymous page cache: public pages served from memory, never stale on listing changes, never personal."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from market.extensions import db
from market.models import Demand
from market.models.base import utcnow
from market.pagecache import CACHEABLE_ENDPOINTS
from tests import factories
from tests.helpers import app_config, login, post

PUBLIC_PAGES = ["/", "/demands", "/achievements", "/search?q=%E7%9F%B3%E5%A2%A8%E7%83%AF"]


@pytest.fixture
def cache(app):
    app.config["PAGE_CACHE_SECONDS"] = 60
    return app.extensions["market.page_cache"]


@pytest.fixture
def published(world):
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                         title="寻求石墨烯导电膜低温制备技术", published_at=utcnow())
    db.session.commit()
    return d


def test_every_cacheable_endpoint_exists(app):
    assert CACHEABLE_ENDPOINTS <= set(app.view_functions)


def test_anonymous_pages_are_rendered_once_and_served_identically(client, cache, published):
    for path in PUBLIC_PAGES + [f"/demands/{published.id}"]:
        first = client.get(path)
        assert first.status_code == 200, path
        hits = cache.hits
        second = client.get(path)
        assert second.status_code == 200
        assert cache.hits == hits + 1, f"{path} was not served from the cache"
        assert second.get_data() == first.get_data()
        # nothing personal: no session cookie, no CSRF token, and the answer varies by cookie
        assert "Set-Cookie" not in second.headers
        assert "Cookie" in second.headers.get("Vary", "")
        assert "csrf" not in second.get_data(as_text=True)
        # the security headers are added to a cached page too
        assert second.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in second.headers["Content-Security-Policy"]


def test_a_listing_published_in_this_process_shows_at_once(client, cache, world, published):
    assert "石墨烯导电膜低温" in client.get("/demands").get_data(as_text=True)
    fresh = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                             title="寻求钙钛矿电池封装工艺", published_at=utcnow())
    db.session.commit()
    assert "钙钛矿电池封装" in client.get("/demands").get_data(as_text=True)
    # and withdrawing it takes it off the cached list and its cached detail page at once
    assert client.get(f"/demands/{fresh.id}").status_code == 200
    fresh.status = "draft"
    db.session.commit()
    assert "钙钛矿电池封装" not in client.get("/demands").get_data(as_text=True)
    assert client.get(f"/demands/{fresh.id}").status_code == 404


def test_a_change_committed_by_another_process_shows_within_the_version_check(app, client, cache, world, published):
    app.config["PAGE_CACHE_VERSION_CHECK"] = 0.3
    app.extensions["market.page_cache_clock"].interval = 0.3
    assert "石墨烯导电膜低温" in client.get("/demands").get_data(as_text=True)
    db.session.commit()
    # another worker or node: a plain connection of its own, no ORM session of this process
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE demands SET title = :t WHERE id = :i"), {"t": "寻求氢燃料电池双极板", "i": published.id})
        conn.execute(text("INSERT INTO index_changes (kind, obj_id, op, created_at) VALUES ('demand', :i, 'upsert', :n)"),
                     {"i": published.id, "n": utcnow()})
    deadline = time.monotonic() + 2
    while "氢燃料电池双极板" not in client.get("/demands").get_data(as_text=True):
        assert time.monotonic() < deadline, "the other process's change never showed"
        time.sleep(0.05)


def test_other_data_is_refreshed_after_the_time_to_live(app, client, cache, world, published):
    app.config["PAGE_CACHE_SECONDS"] = 0.3
    assert "怀远甲企业有限公司" in client.get("/demands").get_data(as_text=True)
    db.session.commit()
    with db.engine.begin() as conn:  # a rename by another process: nothing here forgets the page
        conn.execute(text("UPDATE organizations SET name = :n WHERE id = :i"),
                     {"n": "怀远甲新材料股份有限公司", "i": world.orgs.ent_a.id})
    db.session.rollback()
    time.sleep(0.35)
    assert "怀远甲新材料股份有限公司" in client.get("/demands").get_data(as_text=True)


def test_signed_in_users_never_get_or_fill_the_anonymous_cache(client, cache, world, published):
    anonymous = client.get("/demands").get_data(as_text=True)
    assert "登录" in anonymous
    size = len(cache)
    login(client, "ent_a")
    page = client.get("/demands").get_data(as_text=True)
    assert world.users.enterprise.name in page
    assert 'name="csrf-token"' in page
    assert len(cache) == size
    # the owner's own draft is personal: its page is never stored, and stays 404 for everybody else
    draft = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="draft",
                             title="草稿：不公开的需求")
    db.session.commit()
    assert client.get(f"/demands/{draft.id}").status_code == 200
    assert len(cache) == size
    client.post("/logout", data={"csrf_token": _token(page)})
    assert client.get(f"/demands/{draft.id}").status_code == 404


def test_a_pending_flash_message_is_shown_not_a_cached_page(client, cache, world):
    client.get("/")
    hits = cache.hits
    login(client, "ent_a")
    page = client.get("/").get_data(as_text=True)
    resp = client.post("/logout", data={"csrf_token": _token(page)}, follow_redirects=True)
    assert resp.status_code == 200
    assert "退出" in resp.get_data(as_text=True)
    assert cache.hits == hits
    # after the flash is shown, the same visitor is anonymous again and served from the cache
    client.get("/")
    assert cache.hits == hits + 1


def test_error_pages_and_forms_are_not_stored(client, cache, world):
    assert client.get("/demands/999999").status_code == 404
    assert client.get("/demands/999999").status_code == 404
    assert cache.hits == 0
    assert 'name="csrf-token"' in client.get("/login").get_data(as_text=True)
    assert len(cache) == 0


def test_turned_off_with_zero_seconds(app, client, world, published):
    app.config["PAGE_CACHE_SECONDS"] = 0
    cache = app.extensions["market.page_cache"]
    client.get("/demands")
    client.get("/demands")
    assert (cache.hits, len(cache)) == (0, 0)


def test_a_posted_form_still_works_after_cached_pages(client, cache, world):
    """Public pages carry no CSRF token now; forms take theirs from their own pages."""
    client.get("/")
    resp = post(client, "/login", {"username": "ent_a", "password": factories.PASSWORD})
    assert resp.status_code == 302


def _token(page: str) -> str:
    import re

    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_demand_count_matches_after_many_changes(client, cache, world):
    """Every publish and withdraw shows on the cached list; the list always equals the database."""
    ids = []
    for i in range(5):
        d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                             title=f"缓存一致性需求{i}", published_at=utcnow())
        db.session.commit()
        ids.append(d.id)
        client.get("/demands")
    for i, demand_id in enumerate(ids[:2]):
        db.session.get(Demand, demand_id).status = "closed"
        db.session.commit()
    page = client.get("/demands").get_data(as_text=True)
    shown = {i for i in range(5) if f"缓存一致性需求{i}" in page}
    public = {i for i, demand_id in enumerate(ids) if db.session.get(Demand, demand_id).status == "published"}
    assert shown == public == {2, 3, 4}


def _flask_requests(app) -> list:
    """Requests that reached Flask (request_started is sent once Flask builds the request)."""
    from flask import request_started

    seen: list = []
    request_started.connect(lambda sender, **kw: seen.append(1), app, weak=False)
    return seen


def test_a_cookieless_hit_never_enters_flask_and_is_sent_as_rendered(app, client, cache, published):
    seen = _flask_requests(app)
    for path in PUBLIC_PAGES + [f"/demands/{published.id}"]:
        first = client.get(path)
        entered = len(seen)
        second = client.get(path)
        assert len(seen) == entered, f"{path}: the hit went through Flask"
        assert second.status_code == 200 and second.get_data() == first.get_data()
        assert sorted(second.headers.items()) == sorted(first.headers.items())  # security headers, Vary, type


def test_a_visitor_with_a_cookie_goes_through_flask_and_still_gets_the_anonymous_page(app, client, cache, published):
    seen = _flask_requests(app)
    client.get("/demands")
    client.set_cookie("session", "not-a-signed-session")  # any session cookie: Flask decides what it means
    hits, entered = cache.hits, len(seen)
    page = client.get("/demands")
    assert len(seen) == entered + 1
    assert cache.hits == hits + 1 and "石墨烯导电膜低温" in page.get_data(as_text=True)


def test_the_key_is_the_address_the_proxy_saw(app, cache, published):
    """Behind PROXY_FIX the cache sits inside ProxyFix: a page rendered for https://a is not sent for http://a
    or https://b."""
    from market import create_app
    proxied = create_app({**app_config(app.config["SQLALCHEMY_DATABASE_URI"], _tmp(app)), "PROXY_FIX": 1,
                          "PAGE_CACHE_SECONDS": 60})
    pages = proxied.extensions["market.page_cache"]
    seen = _flask_requests(proxied)
    c = proxied.test_client()
    https_a = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "a.example.cn"}
    body = c.get("/demands", headers=https_a).get_data()
    assert c.get("/demands", headers=https_a).get_data() == body and pages.hits == 1
    assert len(seen) == 1  # the hit was answered before Flask, under the address the proxy saw
    c.get("/demands", headers={"X-Forwarded-Proto": "http", "X-Forwarded-Host": "a.example.cn"})
    c.get("/demands", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "b.example.cn"})
    assert pages.hits == 1 and len(pages) == 3


def _tmp(app):
    from pathlib import Path

    return Path(app.config["SEARCH_INDEX_DIR"]).parent
