"""/search: both libraries, facets, highlighting, sorting, pages; drafts never shown; any input gives a page."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from market import create_app
from market.extensions import db
from market.models import Demand
from market.models.base import utcnow
from market.search.indexing import replica
from tests import factories
from tests.helpers import FreshContextClient, app_config, make_world, module_database

DRAFT_TITLE = "草稿机密：石墨烯散热膜 status draft"


@pytest.fixture(params=["whoosh", "tantivy"])
def engine(request, app):
    app.config["SEARCH_ENGINE"] = request.param
    return request.param


def publish_market(world) -> dict[str, int]:
    """Two published needs, two published results, and private listings that must never show (committed)."""
    now = utcnow()
    f = world.fields
    d1 = factories.demand(owner=world.users.enterprise, field=f["materials"], status="published",
                          title="寻求石墨烯导电膜低温制备技术", keywords="石墨烯,导电膜", budget=Decimal("300000"),
                          description="现有导电膜方阻偏高，希望与高校合作开发石墨烯低温制备工艺，提升良品率。",
                          published_at=now - timedelta(days=3))
    d2 = factories.demand(owner=world.users.enterprise_b, field=f["software"], status="published",
                          title="生产线MES系统二次开发", keywords="MES,软件", budget=None,
                          description="需要对现有MES系统做二次开发，对接设备数据采集。", published_at=now - timedelta(days=1))
    a1 = factories.achievement(owner=world.users.institution, field=f["materials"], status="published",
                               title="石墨烯改性聚乳酸复合材料", keywords="石墨烯,聚乳酸", maturity=7,
                               summary="本成果以石墨烯改性聚乳酸，制备可降解复合材料，拉伸强度提高30%。",
                               published_at=now - timedelta(days=2))
    a2 = factories.achievement(owner=world.users.institution, field=f["software"], status="published",
                               title="工业软件缺陷检测算法", keywords="机器视觉", maturity=4, price=None,
                               summary="基于深度学习的表面缺陷检测算法，已在两条产线试用。", published_at=now)
    draft = factories.demand(owner=world.users.enterprise, field=f["materials"], status="draft", title=DRAFT_TITLE,
                             description="草稿里的石墨烯散热膜需求，不应被任何人搜索到。", keywords="石墨烯,草稿")
    pending = factories.achievement(owner=world.users.institution, field=f["materials"], status="pending",
                                    title="待审核：石墨烯散热膜成果", summary="待审核的石墨烯散热膜成果，不应公开。")
    db.session.commit()
    return {"d1": d1.id, "d2": d2.id, "a1": a1.id, "a2": a2.id, "draft": draft.id, "pending": pending.id}


@pytest.fixture
def market(engine, world):
    """The listings of publish_market, in this test's own database and index."""
    return publish_market(world)


@pytest.fixture(scope="module", params=["whoosh", "tantivy"])
def shared(request, tmp_path_factory):
    """The same world and listings built once per engine, in a database and index of their own, for the tests
    below that only look: each sends GET /search (nothing it does writes a row or the index) with a fresh client.

    Built per test, this setup (users, six listings indexed, their suggestions) was repeated for ~150 tests.
    """
    folder = tmp_path_factory.mktemp("search-shared")
    with module_database("market_search", folder) as url:
        app = create_app(app_config(url, folder))
        app.test_client_class = FreshContextClient
        app.config["SEARCH_ENGINE"] = request.param
        with app.app_context():
            ids = publish_market(make_world())
            db.session.remove()
        try:
            yield SimpleNamespace(app=app, market=ids)
        finally:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def shared_client(shared):
    """A fresh client (cookies of its own) of the shared app, in an app context of this test's own."""
    with shared.app.app_context():
        yield shared.app.test_client()
        db.session.remove()


def page(client, **args):
    resp = client.get("/search", query_string=args)
    return resp, resp.get_data(as_text=True)


def hit_titles(html: str) -> list[str]:
    titles = re.findall(r'<div class="card card-listing mb-2 search-hit">.*?<a href="[^"]+">(.*?)</a>', html, re.S)
    return [re.sub(r"</?mark>", "", t) for t in titles]


def test_search_finds_both_libraries_and_marks_the_terms(client, market):
    resp, html = page(client, q="石墨烯")
    assert resp.status_code == 200
    assert sorted(hit_titles(html)) == sorted(["寻求石墨烯导电膜低温制备技术", "石墨烯改性聚乳酸复合材料"])
    assert "<mark>石墨烯</mark>" in html
    assert "草稿" not in html and "待审核：" not in html
    assert "共 2 条" in html


def test_kind_switch_and_counts(client, market):
    _, html = page(client, q="石墨烯", kind="demand")
    assert hit_titles(html) == ["寻求石墨烯导电膜低温制备技术"]
    tabs = re.search(r'<ul class="nav nav-tabs mb-3" id="kind-switch">(.*?)</ul>', html, re.S).group(1)
    assert re.search(r"全部 <span[^>]*>2</span>", tabs)
    assert re.search(r"需求 <span[^>]*>1</span>", tabs)
    assert re.search(r"成果 <span[^>]*>1</span>", tabs)
    _, html = page(client, q="石墨烯", kind="achievement")
    assert hit_titles(html) == ["石墨烯改性聚乳酸复合材料"]


def test_facets_count_and_filter(client, market, world):
    _, html = page(client)
    facets = re.search(r'<aside class="col-md-3" id="facets">(.*?)</aside>', html, re.S).group(1)
    # field roots, regions at city and county level only, maturity, modes, bands: each with its count
    assert re.search(r"新材料</a> <span class=\"text-muted\">\(2\)</span>", facets)
    assert re.search(r"电子信息</a> <span class=\"text-muted\">\(2\)</span>", facets)
    assert "蚌埠市</a>" in facets and "怀远县</a>" in facets and "五河县</a>" in facets
    assert "榴城镇" not in facets  # towns are not a facet
    assert "7级</a>" in facets and "4级</a>" in facets
    assert "技术开发/合作研发</a>" in facets
    assert "面议</a>" in facets and "10-50万元</a>" in facets

    _, html = page(client, field="01")
    assert sorted(hit_titles(html)) == sorted(["生产线MES系统二次开发", "工业软件缺陷检测算法"])
    assert "取消筛选" in html
    _, html = page(client, region=str(world.regions["county_b"].id))
    assert hit_titles(html) == ["生产线MES系统二次开发"]
    _, html = page(client, maturity="7")
    assert hit_titles(html) == ["石墨烯改性聚乳酸复合材料"]
    _, html = page(client, band="negotiable")
    assert sorted(hit_titles(html)) == sorted(["生产线MES系统二次开发", "工业软件缺陷检测算法"])
    _, html = page(client, mode="development", q="石墨烯")
    assert hit_titles(html) == ["寻求石墨烯导电膜低温制备技术"]


def test_sort_by_date_and_pages(client, app, market):
    _, html = page(client, sort="date")
    assert hit_titles(html) == ["工业软件缺陷检测算法", "生产线MES系统二次开发", "石墨烯改性聚乳酸复合材料",
                                "寻求石墨烯导电膜低温制备技术"]
    app.config["PAGE_SIZE"] = 3
    _, first = page(client, sort="date")
    _, second = page(client, sort="date", page="2")
    assert len(hit_titles(first)) == 3 and hit_titles(second) == ["寻求石墨烯导电膜低温制备技术"]
    assert "下一页" in first
    _, minus = page(client, sort="date", page="-1")
    assert hit_titles(minus) == hit_titles(first)
    resp, far = page(client, page="99999999")
    assert resp.status_code == 200 and hit_titles(far) == []


@pytest.mark.parametrize("q", ["status:draft", "*", "title:*", "草稿机密", "status draft", "kind:demand AND status:draft",
                               "石墨烯 散热膜", "id:*", "doc_id:demand*", "", "草稿"])
@pytest.mark.parametrize("kind", ["all", "demand", "achievement"])
def test_drafts_and_pending_are_never_found(shared_client, shared, q, kind):
    resp, html = page(shared_client, q=q, kind=kind)
    assert resp.status_code == 200
    assert all(t not in (DRAFT_TITLE, "待审核：石墨烯散热膜成果") for t in hit_titles(html))
    # the links carry ?from=search (issue 19): matched with or without a query string, or these could never fail
    assert not re.search(rf'href="/demands/{shared.market["draft"]}[?"]', html)
    assert not re.search(rf'href="/achievements/{shared.market["pending"]}[?"]', html)
    assert "不应被任何人搜索到" not in html and "不应公开" not in html  # their text, never typed in a query


def test_the_engine_never_holds_drafts(market):
    replica().catch_up()
    versions = replica().backend().versions()
    assert f"demand:{market['draft']}" not in versions and f"achievement:{market['pending']}" not in versions


def test_a_stale_hit_no_longer_public_is_dropped(client, market):
    """The index still holds a listing that the database no longer publishes: the page does not show it."""
    # bypass the ORM so no change is logged: the index keeps the old document
    db.session.execute(update(Demand).where(Demand.id == market["d1"]).values(status="draft"))
    db.session.commit()
    assert f"demand:{market['d1']}" in replica().backend().versions()
    _, html = page(client, q="导电膜")
    assert "寻求石墨烯导电膜低温制备技术" not in html


def test_html_in_listings_and_queries_is_escaped(client, world, engine):
    factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                     title="<script>alert(1)</script>石墨烯需求", description="<img src=x onerror=alert(2)> 石墨烯 & 导电膜")
    db.session.commit()
    _, html = page(client, q="石墨烯 <b>")
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<mark>石墨烯</mark>" in html
    assert "<b>" not in html
    assert 'value="石墨烯 &lt;b&gt;"' in html


ODD = [
    {}, {"q": ""}, {"q": "status:draft"}, {"q": "*"}, {"q": '"石墨烯'}, {"q": "石墨烯\""}, {"q": "(石墨烯"},
    {"q": "石" * 5000}, {"q": "🚀🔥石墨烯🧪"}, {"q": "石墨烯\x00导电膜"}, {"q": "\x00"}, {"q": "title:石墨烯^100"},
    {"q": "a" * 300}, {"q": "ｓｔａｔｕｓ：ｄｒａｆｔ"}, {"q": "AND OR NOT"}, {"q": "%", "page": "%"},
    {"page": "-1"}, {"page": "0"}, {"page": "abc"}, {"page": "1e9"}, {"page": "99999999999999999999"},
    {"kind": "xyz"}, {"kind": "draft"}, {"sort": "xyz"}, {"sort": "date", "q": "*"},
    {"field": "zz"}, {"field": "04.01"}, {"region": "abc"}, {"region": "-5"}, {"region": "999999"},
    {"region": "1" * 40}, {"maturity": "99"}, {"maturity": "x"}, {"mode": "<script>"}, {"band": "500+"},
    {"band": "x"}, {"status": "draft"}, {"q": ["a", "b"]},
]


@pytest.mark.parametrize("args", ODD, ids=[str(i) for i in range(len(ODD))])
def test_any_input_gives_a_page(shared_client, args):
    resp = shared_client.get("/search", query_string=args)
    assert resp.status_code == 200
    assert "搜索" in resp.get_data(as_text=True)


@pytest.mark.parametrize("raw", ["q=%ED%A0%80", "q=%ff%fe", "q=%C0%80", "page=%ED%A0%80", "region=%00", "q=%E7%9F%B3%ED%A0%80"])
def test_broken_encodings_and_lone_surrogates_give_a_page(shared_client, raw):
    resp = shared_client.get("/search?" + raw)
    assert resp.status_code == 200


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=200), page_arg=st.text(max_size=8), kind=st.sampled_from(["all", "demand", "achievement", "x"]))
def test_generated_queries_never_fail(shared_client, q, page_arg, kind):
    resp = shared_client.get("/search", query_string={"q": q, "page": page_arg, "kind": kind})
    assert resp.status_code == 200
    assert "不应被任何人搜索到" not in resp.get_data(as_text=True)


def test_an_engine_failure_answers_a_chinese_message_not_a_500(client, app, market):
    app.config["SEARCH_ENGINE"] = "broken-engine"  # get_backend raises for it
    resp, html = page(client, q="石墨烯")
    assert resp.status_code == 503
    assert "搜索服务暂时不可用" in html


def test_search_is_linked_from_the_navigation(client, market):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/search"' in html
