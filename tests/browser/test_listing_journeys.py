"""From registration to a public listing, in a real browser: enterprise need, institution result, return path."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from market.extensions import db
from market.models import Achievement, Demand, Field, Organization, Region, User
from tests import factories

from .helpers import (
    approve,
    fill_demand,
    fill_registration,
    make_uscc,
    nav,
    open_review_item,
    sign_in,
    sign_out,
    verify_org,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                 reason="the journeys once; tests/test_listings.py (every transition over HTTP), "
                                        "tests/test_auth.py and tests/test_review.py run on both")]

PRIVATE_PHONE = "0552-7654321"


def test_enterprise_registers_gets_verified_and_publishes_a_need(live_server, seeded, new_page):
    base = live_server.base_url
    org_name = "怀远县新材科技有限公司"
    title = "寻求光伏玻璃减反射镀膜技术"

    # register as 企业 and land signed in, told the organisation awaits verification
    ent = new_page()
    ent.goto(base + "/")
    nav(ent, "注册")
    fill_registration(ent, role="企业", username="xincai", name="周经理", org_name=org_name, org_type="企业",
                      uscc=make_uscc("MA2U8P3K1"))
    ent.locator("#register-submit").click()
    expect(ent.locator(".alert-success")).to_contain_text("待认证")
    expect(ent.locator("#nav-user")).to_have_text("周经理（企业用户）")

    # a draft is allowed, submitting it is not: the page says the organisation must be verified first
    nav(ent, "我的需求")
    expect(ent.locator(".alert-warning")).to_contain_text(f"您的单位“{org_name}”待认证")
    ent.locator("#new-listing").click()
    expect(ent.locator("#save-submit")).to_have_count(0)  # no 保存并提交审核 before verification
    fill_demand(ent, title="草稿：镀膜线节能改造", description="镀膜线能耗偏高，希望降低单位能耗两成以上。",
                budget_wan="30", contact_phone=PRIVATE_PHONE)
    ent.locator("#save").click()
    expect(ent.locator(".alert-success")).to_contain_text("草稿已保存")
    expect(ent.locator("#listing-status")).to_have_text("草稿")
    expect(ent.locator("#owner-actions")).to_contain_text("单位认证通过后可提交审核")
    expect(ent.locator("#submit-review")).to_have_count(0)
    sign_out(ent)

    # the county official verifies the organisation
    official = new_page()
    sign_in(official, base, seeded.official)
    verify_org(official, org_name)

    # the enterprise signs in again and posts a need straight into review
    sign_in(ent, base, "xincai")
    nav(ent, "我的需求")
    expect(ent.locator(".alert-warning")).to_have_count(0)
    ent.locator("#new-listing").click()
    fill_demand(ent, title=title, description="我公司光伏玻璃透光率偏低，现有减反射膜耐候性差，两年后衰减明显。",
                budget_wan="12.5", contact_phone=PRIVATE_PHONE)
    ent.locator("#save-submit").click()
    expect(ent.locator(".alert-success")).to_contain_text("已提交审核")
    expect(ent.locator("#listing-status")).to_have_text("待审核")

    # the official approves it from the review queue
    approve(official, title)

    # an anonymous visitor finds it in the list and sees the budget in 万元, not the private contact
    visitor = new_page()
    visitor.goto(base + "/")
    nav(visitor, "企业技术需求")
    results = visitor.locator("#results")
    expect(results).to_contain_text(title)
    expect(results).not_to_contain_text("草稿：镀膜线节能改造")
    results.get_by_role("link", name=title).click()
    expect(visitor.locator("h1")).to_contain_text(title)
    expect(visitor.locator("#listing-status")).to_have_text("已发布")
    expect(visitor.locator("#listing-amount")).to_have_text("12.50万元（125,000.00元）")
    expect(visitor.locator("#contact")).to_contain_text("联系方式在发布方接受您的意向后显示")
    expect(visitor.locator("body")).not_to_contain_text(PRIVATE_PHONE)
    expect(visitor.locator("body")).not_to_contain_text("李经理")
    expect(visitor.locator("#owner-actions")).to_have_count(0)
    expect(visitor.locator("#review-actions")).to_have_count(0)

    with live_server.app.app_context():
        demand = db.session.scalar(db.select(Demand).where(Demand.title == title))
        assert demand.status == "published"
        assert demand.budget == Decimal("125000.00")
        assert demand.contact_phone == PRIVATE_PHONE
        assert db.session.scalar(db.select(Organization.status).where(Organization.name == org_name)) == "verified"


def test_institution_registers_gets_verified_and_publishes_a_result(live_server, seeded, new_page):
    base = live_server.base_url
    org_name = "蚌埠光电材料研究院"
    title = "磁控溅射低方阻透明导电膜制备技术"

    inst = new_page()
    inst.goto(base + "/register")
    fill_registration(inst, role="高校 / 科研院所", username="guangdian", name="王教授", org_name=org_name,
                      org_type="科研院所", uscc=make_uscc("MA2W1B7C5"), region="蚌埠市 / 怀远县")
    inst.locator("#register-submit").click()
    expect(inst.locator(".alert-success")).to_contain_text("待认证")
    expect(inst.locator("#nav-user")).to_have_text("王教授（高校院所用户）")
    nav(inst, "我的成果")
    expect(inst.locator(".alert-warning")).to_contain_text("待认证")
    inst.locator("#new-listing").click()
    expect(inst.locator("#save-submit")).to_have_count(0)
    sign_out(inst)

    official = new_page()
    sign_in(official, base, seeded.official)
    verify_org(official, org_name)

    sign_in(inst, base, "guangdian")
    nav(inst, "我的成果")
    inst.locator("#new-listing").click()
    inst.get_by_label("标题").fill(title)
    inst.get_by_label("技术领域").select_option(label="新材料 / 金属材料")
    inst.get_by_label("成果简介").fill("采用磁控溅射工艺制备低方阻透明导电膜，方阻低于6Ω/□，透光率大于90%。")
    inst.get_by_label("技术成熟度").select_option(label="6级 相关环境中系统样机演示")
    inst.get_by_label("知识产权类型").select_option(label="发明专利")
    inst.get_by_label("专利号 / 登记号").fill("ZL202110123456.7")
    inst.get_by_label("法律状态").select_option(label="已授权")
    inst.get_by_label("转让", exact=True).check()
    inst.get_by_label("许可", exact=True).check()
    inst.get_by_label("面议").check()
    inst.get_by_label("团队负责人").fill("王教授")
    inst.get_by_label("联系人").fill("王老师")
    inst.get_by_label("联系电话").fill(PRIVATE_PHONE)
    inst.locator("#save-submit").click()
    expect(inst.locator(".alert-success")).to_contain_text("已提交审核")
    expect(inst.locator("#listing-status")).to_have_text("待审核")

    approve(official, title, tab="科技成果")

    visitor = new_page()
    visitor.goto(base + "/")
    nav(visitor, "高校院所成果")
    visitor.locator("#results").get_by_role("link", name=title).click()
    expect(visitor.locator("#listing-status")).to_have_text("已发布")
    expect(visitor.locator("#listing-amount")).to_have_text("面议")
    expect(visitor.locator("main")).to_contain_text("6级 相关环境中系统样机演示")
    expect(visitor.locator("main")).to_contain_text("发明专利 · ZL202110123456.7 · 已授权")
    expect(visitor.locator("main")).to_contain_text("转让、许可")
    expect(visitor.locator("body")).not_to_contain_text(PRIVATE_PHONE)

    with live_server.app.app_context():
        result = db.session.scalar(db.select(Achievement).where(Achievement.title == title))
        assert (result.status, result.price, result.maturity, result.ip_type) == ("published", None, 6, "invention")


def test_returned_need_is_edited_resubmitted_and_published(live_server, seeded, new_page):
    base = live_server.base_url
    title = "寻求电池隔膜涂覆工艺改进"
    with live_server.seed():
        regions = {k: db.session.get(Region, v) for k, v in seeded.region_ids.items()}
        org = factories.org(region=regions["town_a"], name="怀远县锂电材料有限公司")
        owner = factories.user(role="enterprise", org=org, username="lidian")
        field = db.session.get(Field, seeded.field_ids["materials"])
        demand = factories.demand(owner=owner, field=field, title=title, status="pending", budget=Decimal("80000"),
                                  description="隔膜涂覆不均匀。")
        demand_id = demand.id

    # the official returns it with a reason
    official = new_page()
    sign_in(official, base, seeded.official)
    open_review_item(official, title)
    official.locator("#review-actions textarea[name=reason]").fill("请补充现有涂覆工艺参数和期望达到的指标")
    official.locator("#return").click()
    expect(official.locator(".alert-success")).to_contain_text("已退回")
    expect(official.locator("#review-queue")).not_to_contain_text(title)

    # the owner sees 已退回 and the reason, edits and resubmits
    ent = new_page()
    sign_in(ent, base, "lidian")
    nav(ent, "我的需求")
    ent.locator(".nav-tabs").get_by_role("link", name="已退回").click()
    card = ent.locator(".card-listing", has_text=title)
    expect(card.locator(".status-badge")).to_have_text("已退回")
    card.get_by_role("link", name=title).click()
    expect(ent.locator("#listing-status")).to_have_text("已退回")
    expect(ent.locator("main")).to_contain_text("退回理由：请补充现有涂覆工艺参数和期望达到的指标")
    ent.locator("#owner-actions").get_by_role("link", name="修改").click()
    expect(ent.locator(".alert-warning")).to_contain_text("退回理由：请补充现有涂覆工艺参数")
    ent.get_by_label("拟解决的技术难题").fill("现有凹版涂覆速度40米/分，涂层厚度偏差±1.5微米，希望偏差控制在±0.5微米以内。")
    ent.get_by_label("预算（万元）").fill("15")
    ent.locator("#save").click()
    expect(ent.locator(".alert-success")).to_contain_text("修改已保存")
    expect(ent.locator("#listing-status")).to_have_text("已退回")
    ent.locator("#submit-review").click()
    expect(ent.locator(".alert-success")).to_contain_text("已提交审核")
    expect(ent.locator("#listing-status")).to_have_text("待审核")
    expect(ent.locator("#events")).to_contain_text("已退回 → 待审核")

    # the official publishes the corrected need
    approve(official, title)

    visitor = new_page()
    visitor.goto(f"{base}/demands/{demand_id}")
    expect(visitor.locator("#listing-status")).to_have_text("已发布")
    expect(visitor.locator("#listing-amount")).to_have_text("15.00万元（150,000.00元）")
    expect(visitor.locator("main")).to_contain_text("偏差控制在±0.5微米以内")
    expect(visitor.locator("main")).not_to_contain_text("退回理由")

    with live_server.app.app_context():
        demand = db.session.get(Demand, demand_id)
        assert (demand.status, demand.budget, demand.return_reason) == ("published", Decimal("150000.00"), "")
        assert demand.published_at is not None and demand.published_at <= datetime.now(timezone.utc)
        assert db.session.scalar(db.select(User.username).where(User.id == demand.owner_id)) == "lidian"
