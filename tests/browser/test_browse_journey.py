"""An anonymous visitor browses the need library: filters, pagination, a draft's address, and screenshots."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from market.extensions import db
from market.models import Field, Region
from tests import factories

from .conftest import ARTIFACTS
from .helpers import nav

pytestmark = pytest.mark.browser

# (title, county, field, budget in 元 or None for 面议); PAGE_SIZE is 5 on the live server, so two pages
PUBLISHED = [
    ("铝合金压铸件气孔缺陷治理", "a", "materials", Decimal("50000")),
    ("高强钢激光焊接变形控制", "a", "materials", Decimal("200000")),
    ("光伏玻璃减反射镀膜技术", "a", "materials", Decimal("300000")),
    ("农产品溯源小程序开发", "a", "software", Decimal("150000")),
    ("不锈钢管材表面钝化工艺", "b", "materials", Decimal("400000")),
    ("石英砂提纯除铁技术", "b", "materials", Decimal("600000")),
    ("玻璃深加工余热回收", "b", "materials", None),
    ("智能仓储调度系统", "b", "software", Decimal("2000000")),
]


@pytest.fixture
def library(live_server, seeded):
    """Eight published needs from two counties, one draft and one pending need. Returns the draft's and pending's ids."""
    now = datetime.now(timezone.utc)
    with live_server.seed():
        regions = {k: db.session.get(Region, v) for k, v in seeded.region_ids.items()}
        fields = {k: db.session.get(Field, v) for k, v in seeded.field_ids.items()}
        owner_a = factories.user(role="enterprise", org=factories.org(region=regions["town_a"], name="怀远县甲制造有限公司"))
        owner_b = factories.user(role="enterprise", org=factories.org(region=regions["county_b"], name="五河县乙科技有限公司"))
        for i, (title, county, field, budget) in enumerate(PUBLISHED):
            factories.demand(owner=owner_a if county == "a" else owner_b, field=fields[field], title=title,
                             budget=budget, status="published", published_at=now - timedelta(hours=i))
        draft = factories.demand(owner=owner_a, field=fields["materials"], title="未提交的草稿需求", status="draft")
        pending = factories.demand(owner=owner_a, field=fields["materials"], title="待审核的需求", status="pending")
        ids = {"draft": draft.id, "pending": pending.id}
    return ids


def expect_titles(page: Page, titles: list[str]) -> None:
    """The result cards, in this order (newest first); waits for the new page like every expect()."""
    expect(page.locator("#results .card-listing h5 a")).to_have_text(titles)


def newest_first(predicate=lambda title, county, field, budget: True) -> list[str]:
    return [row[0] for row in PUBLISHED if predicate(*row)]


def apply_filters(page: Page, **choices: str) -> None:
    form = page.locator("#filters")
    for name, label in choices.items():
        form.locator(f"select[name={name}]").select_option(label=label)
    form.get_by_role("button", name="筛选").click()


def test_anonymous_browses_filters_and_pages(live_server, library, page, page_guard):
    base = live_server.base_url
    page.goto(base + "/")
    nav(page, "企业技术需求")
    expect(page.get_by_role("heading", name="企业技术需求库")).to_be_visible()
    results = page.locator("#results")
    expect(results).to_contain_text("共 8 条")

    # pagination: newest first, five a page, the second page holds the rest, the links go back and forth
    expect_titles(page, newest_first()[:5])
    results.get_by_role("link", name="下一页").click()
    expect(page).to_have_url(re.compile(r"[?&]page=2"))
    expect_titles(page, newest_first()[5:])
    expect(results.locator(".page-item.active")).to_have_text("2")
    results.get_by_role("link", name="1", exact=True).click()
    expect_titles(page, newest_first()[:5])
    for hidden in ("未提交的草稿需求", "待审核的需求"):
        expect(page.locator("body")).not_to_contain_text(hidden)

    # field: 电子信息 holds the two software needs
    apply_filters(page, field="电子信息")
    expect(page).to_have_url(re.compile(r"field=01"))
    expect_titles(page, ["农产品溯源小程序开发", "智能仓储调度系统"])
    expect(results).to_contain_text("共 2 条")

    # region: 怀远县 includes its town; then a budget band narrows it to 10-50万元
    apply_filters(page, field="全部", region="怀远县")
    expect_titles(page, newest_first(lambda title, county, field, budget: county == "a"))
    apply_filters(page, band="10-50万元")
    expect_titles(page, ["高强钢激光焊接变形控制", "光伏玻璃减反射镀膜技术", "农产品溯源小程序开发"])
    expect(page.locator("#filters select[name=region] option:checked")).to_contain_text("怀远县")
    expect(page.locator("#filters select[name=band] option:checked")).to_have_text("10-50万元")

    # 面议 is a band of its own
    apply_filters(page, region="全部", band="面议")
    expect_titles(page, ["玻璃深加工余热回收"])
    expect(results).to_contain_text("预算 面议")

    # the pager keeps the filters: 新材料 has six needs, the second page shows the sixth
    apply_filters(page, field="新材料", band="全部")
    expect(results).to_contain_text("共 6 条")
    results.get_by_role("link", name="下一页").click()
    expect(page).to_have_url(re.compile(r"field=04"))
    expect(page).to_have_url(re.compile(r"page=2"))
    expect_titles(page, ["玻璃深加工余热回收"])

    # a nothing-found filter says so in Chinese
    apply_filters(page, field="电子信息", band="50-100万元")
    expect(results).to_contain_text("暂无符合条件的需求。")

    # a draft's or a pending need's address answers the Chinese 404 page
    page_guard.expect_status(404)
    for key in ("draft", "pending"):
        response = page.goto(f"{base}/demands/{library[key]}")
        assert response.status == 404
        expect(page.locator("h1")).to_have_text("404 · 页面不存在")
        expect(page.locator("#error-message")).to_have_text("您访问的页面不存在或已被删除。")
        expect(page.locator("body")).not_to_contain_text("Not Found")
    page.get_by_role("link", name="返回首页").click()
    expect(page).to_have_url(base + "/")


def test_page_screenshots(live_server, library, page):
    """Full-page screenshots of the home page, the need list and a need detail, for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(live_server.url("/"))
    expect(page.locator("main")).to_contain_text("最新技术需求")
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)
    page.goto(live_server.url("/demands"))
    expect(page.locator("#results")).to_contain_text("共 8 条")
    page.screenshot(path=str(ARTIFACTS / "demand-list.png"), full_page=True)
    page.locator("#results").get_by_role("link", name="光伏玻璃减反射镀膜技术").click()
    expect(page.locator("#listing-amount")).to_have_text("30.00万元（300,000.00元）")
    page.screenshot(path=str(ARTIFACTS / "demand-detail.png"), full_page=True)
    # without a CJK font every character is drawn as the same empty box: two different characters
    # rendered in the page's own font must give different pixels
    assert not page.evaluate(SAME_GLYPH_JS, ["科", "技"]), "CJK renders as boxes: install fonts-noto-cjk (make browser)"


SAME_GLYPH_JS = """([a, b]) => {
  const font = getComputedStyle(document.body).fontFamily;
  const draw = (ch) => {
    const c = document.createElement("canvas");
    c.width = c.height = 40;
    const ctx = c.getContext("2d");
    ctx.font = "32px " + font;
    ctx.fillText(ch, 2, 32);
    return Array.from(ctx.getImageData(0, 0, 40, 40).data).join(",");
  };
  return draw(a) === draw(b);
}"""
