"""A company posts a need; once it is published, the company sees the suggested results with their reasons."""
from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from market.extensions import db
from market.models import Field, Region, Suggestion
from tests import factories

from .helpers import approve, fill_demand, nav, sign_in

pytestmark = pytest.mark.browser

FILM = "磁控溅射低方阻透明导电膜制备技术"
SOFTWARE = "工业软件表面缺陷检测算法"


def test_a_company_posts_a_need_and_sees_suggested_results_with_reasons(live_server, seeded, new_page):
    base = live_server.base_url
    title = "寻求高透光导电膜玻璃镀膜技术"
    with live_server.seed():
        regions = {k: db.session.get(Region, v) for k, v in seeded.region_ids.items()}
        materials = db.session.get(Field, seeded.field_ids["materials"])
        software = db.session.get(Field, seeded.field_ids["software"])
        # in another county of the city (a party left on the city node itself has no known place: issue 16)
        uni = factories.org(region=regions["county_b"], org_type="university", name="蚌埠光电学院")
        teacher = factories.user(role="institution", org=uni, username="guangdian")
        factories.achievement(owner=teacher, field=materials, status="published", title=FILM, maturity=6,
                              price=Decimal("400000"), keywords="导电膜,磁控溅射,镀膜玻璃",
                              summary="采用磁控溅射工艺在玻璃基板上制备低方阻透明导电膜，方阻低于6Ω/□，透光率大于90%。")
        factories.achievement(owner=teacher, field=software, status="published", title=SOFTWARE,
                              keywords="机器视觉,深度学习", summary="基于深度学习的产线表面缺陷检测算法与软件。")
        company = factories.org(region=regions["town_a"], name="怀远县新材玻璃有限公司")
        factories.user(role="enterprise", org=company, username="xincai")

    # the company posts a need and submits it for review: suggestions come after publication
    ent = new_page()
    sign_in(ent, base, "xincai")
    nav(ent, "我的需求")
    ent.locator("#new-listing").click()
    fill_demand(ent, title=title, budget_wan="50", contact_phone="0552-7654321",
                description="我公司导电膜玻璃方阻偏高、透光率不足，希望引进磁控溅射镀膜技术降低导电膜方阻。")
    ent.locator("#save-submit").click()
    expect(ent.locator("#listing-status")).to_have_text("待审核")
    expect(ent.locator("#suggestions")).to_contain_text("发布后，系统将为该需求推荐相关的科技成果")

    # the county official publishes it
    official = new_page()
    sign_in(official, base, seeded.official)
    approve(official, title)

    # the company opens its need: the film result is suggested, with a score and reasons it can check
    ent.reload()
    expect(ent.locator("#listing-status")).to_have_text("已发布")
    panel = ent.locator("#suggestions")
    expect(panel.get_by_role("heading")).to_contain_text("推荐成果")
    suggestion = panel.locator(".suggestion", has_text=FILM)
    expect(suggestion).to_have_count(1)
    expect(suggestion.locator(".suggestion-degree")).to_contain_text("匹配度")  # 0-100 and 强/中/弱, no raw points
    reasons = suggestion.locator(".reason-list")
    expect(reasons).to_contain_text("共同关键词：")
    expect(reasons).to_contain_text("磁控溅射")
    expect(reasons).to_contain_text("同属技术领域：新材料 / 金属材料")
    expect(reasons).to_contain_text("同在蚌埠市")
    expect(reasons).to_contain_text("技术成熟度6级")
    expect(reasons).to_contain_text("成果报价40.00万元，在需求预算50.00万元以内")
    expect(panel).not_to_contain_text(SOFTWARE)

    # the same pair is on the company's 推荐匹配 page, and the suggested result opens
    nav(ent, "推荐匹配")
    table = ent.locator("#matching")
    expect(table).to_contain_text(title)
    expect(table).to_contain_text(FILM)
    table.get_by_role("link", name=FILM).click()
    expect(ent.locator("h1")).to_contain_text(FILM)

    # an anonymous visitor of the need sees no suggestion panel
    visitor = new_page()
    visitor.goto(base + "/demands")
    visitor.locator("#results").get_by_role("link", name=title).click()
    expect(visitor.locator("h1")).to_contain_text(title)
    expect(visitor.locator("#suggestions")).to_have_count(0)

    # and finds both sides with the search box, the terms marked
    nav(visitor, "搜索")
    visitor.get_by_label("搜索关键词").fill("导电膜 磁控溅射")
    visitor.locator("#search-submit").click()
    results = visitor.locator("#results")
    expect(results).to_contain_text(title)
    expect(results).to_contain_text(FILM)
    expect(results.locator("mark").first).to_be_visible()
    visitor.locator("#kind-switch").get_by_role("link", name="成果").click()
    expect(results).not_to_contain_text(title)
    expect(results).to_contain_text(FILM)

    with live_server.app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Suggestion)) == 1
