"""/search plans its query (issue 15, part B): English and mixed queries reach Chinese listings through the glossary,
terms that matched nothing are named, a lone number or a markup fragment is not a query, results stay highlighted."""
from __future__ import annotations

import os
import re

import pytest

from market.extensions import db
from tests import factories

pytestmark = pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                reason="the query plan reads the search index, not the database: run once, on SQLite")


@pytest.fixture(params=["whoosh", "tantivy"])
def engine(request, app):
    app.config["SEARCH_ENGINE"] = request.param
    return request.param


@pytest.fixture
def market(engine, world):
    u, f = world.users, world.fields
    factories.achievement(owner=u.institution, field=f["software"], status="published",
                          title="基于机器视觉的表面缺陷检测系统", keywords="机器视觉,缺陷检测",
                          summary="采用工业相机与深度学习算法，检测金属板材表面划痕，准确率99%。")
    factories.achievement(owner=u.institution, field=f["materials"], status="published",
                          title="高镍三元锂电池正极材料", keywords="锂电池,正极材料",
                          summary="高镍三元正极材料的包覆改性工艺，提高锂电池循环寿命。")
    factories.demand(owner=u.enterprise, field=f["materials"], status="published",
                     title="寻求石墨烯导电膜低温制备技术", keywords="石墨烯,导电膜",
                     description="现有导电膜方阻偏高，希望开发石墨烯低温制备工艺。")
    factories.demand(owner=u.enterprise_b, field=f["software"], status="published",
                     title="1号产线PLC控制系统改造", keywords="自动化,产线改造",
                     description="1号产线的可编程控制器老化，需要改造控制系统，2台设备联调。")
    db.session.commit()


def search(client, **args):
    resp = client.get("/search", query_string=args)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    titles = [re.sub(r"</?mark>", "", t) for t in re.findall(
        r'<div class="card card-listing mb-2 search-hit">.*?<a href="[^"]+">(.*?)</a>', html, re.S)]
    missing = re.search(r'id="query-missing">未找到：(.*?)</div>', html)
    return html, titles, (missing.group(1).split("、") if missing else [])


def test_glossary_missing_terms_and_highlights(client, market):
    """English and mixed queries find Chinese listings through the glossary; unmatched terms are named."""
    html, titles, missing = search(client, q="machine vision")
    assert titles == ["基于机器视觉的表面缺陷检测系统"] and missing == []
    assert "<mark>机器视觉</mark>" in html  # highlighted in the Chinese it was found by
    assert re.search(r'id="query-expanded"[^>]*>同时搜索了：[^<]*机器视觉', html)

    _, titles, missing = search(client, q="Machine Vision 缺陷检测")
    assert titles == ["基于机器视觉的表面缺陷检测系统"] and missing == []
    _, titles, _ = search(client, q="PLC改造")  # an abbreviation beside Chinese
    assert titles[0] == "1号产线PLC控制系统改造"

    # terms that matched nothing are named
    html, titles, missing = search(client, q="锂电池 隔膜")
    assert titles == ["高镍三元锂电池正极材料"] and missing == ["隔膜"]
    assert "<mark>锂电池</mark>" in html

    # a plain query is unchanged
    html, titles, missing = search(client, q="石墨烯")
    assert titles == ["寻求石墨烯导电膜低温制备技术"] and missing == [] and 'id="query-notes"' not in html
    _, titles, _ = search(client)  # no query: everything, newest first
    assert len(titles) == 4


def test_a_query_must_match_a_meaningful_share_of_its_terms(client, market):
    # a markup fragment: its words match nothing, its digit would match the 1号产线 need
    html, titles, missing = search(client, q="<script>alert(1)</script>")
    assert titles == [] and missing == ["script", "alert"] and "共 0 条" in html
    assert "<script>alert(1)" not in html  # the named terms are escaped like the rest
    # a lone number is not a query
    html, titles, missing = search(client, q="1")
    assert titles == [] and 'id="query-refused"' in html and "单独的数字或字母" in html
    # one known word of three is not enough; two of three is, and the third is named
    _, titles, missing = search(client, q="隔膜 电解液 石墨烯")
    assert titles == [] and missing == ["隔膜", "电解液"]
    _, titles, missing = search(client, q="导电膜 石墨烯 电解液")
    assert titles == ["寻求石墨烯导电膜低温制备技术"] and missing == ["电解液"]
    # a number beside a real word never brings in listings of its own
    _, titles, _ = search(client, q="石墨烯 1")
    assert titles == ["寻求石墨烯导电膜低温制备技术"]

