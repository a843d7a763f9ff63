"""From interest to a paid contract, in a real browser: an enterprise expresses interest in a result (linking its
own need), the institution accepts (contacts revealed, a deal opens), the county's broker claims the deal, moves it
to 洽谈, signs it by recording the technology contract and records a first instalment; the need shows 已解决, the
result 已转化, the contract paid vs agreed. Then the region's official voids the contract: the deal goes back to
洽谈 and both listings back to 已发布."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from market.extensions import db
from market.models import Achievement, Contract, Deal, Demand, Field, Interest, Payment, Region, User
from tests import factories

from .helpers import nav, sign_in

pytestmark = pytest.mark.browser

NEED = "寻求低方阻透明导电膜镀膜工艺"
OTHER_NEED = "寻求光伏玻璃减反射镀膜技术"
RESULT = "磁控溅射低方阻透明导电膜制备技术"
ENTERPRISE = "怀远县榴城新材料有限公司"
INSTITUTION = "蚌埠理工学院"
RESULT_PHONE = "0551-1234567"  # the result's contact, hidden until the institution accepts
REG_NO = "2026340321000123"


def test_interest_accept_claim_sign_pay_then_void(live_server, seeded, new_page, page_guard):
    base = live_server.base_url
    with live_server.seed():
        regions = {k: db.session.get(Region, v) for k, v in seeded.region_ids.items()}
        materials = db.session.get(Field, seeded.field_ids["materials"])
        ent_org = factories.org(region=regions["town_a"], name=ENTERPRISE)
        ent = factories.user(role="enterprise", org=ent_org, username="qiye")
        uni = factories.org(region=regions["city"], org_type="university", name=INSTITUTION)
        inst = factories.user(role="institution", org=uni, username="gaoxiao")
        agency = factories.org(region=regions["city"], org_type="agency", name="蚌埠技术转移中心")
        factories.user(role="broker", org=agency, region=regions["county_a"], username="jingjiren")
        factories.user(role="broker", org=agency, region=regions["county_b"], username="wuhe_jjr")
        factories.user(role="official", region=regions["city"], username="official_city")
        need = factories.demand(owner=ent, field=materials, status="published", title=NEED)
        other = factories.demand(owner=ent, field=materials, status="published", title=OTHER_NEED)
        result = factories.achievement(owner=inst, field=materials, status="published", title=RESULT)
        # the university's 技术转让 at 500000 元 had its 协议定价 公示 (issue 20; the rule: tests/test_transfers.py)
        factories.cleared_disclosure(seller=uni, buyer_name=ENTERPRISE, price=Decimal("500000.00"), achievement=result)
        ids = {"need": need.id, "other": other.id, "result": result.id}

    # 1. the enterprise finds the result, sees no contact yet, and expresses interest linking its need
    buyer = new_page()
    sign_in(buyer, base, "qiye")
    nav(buyer, "高校院所成果")
    buyer.locator("#results").get_by_role("link", name=RESULT).click()
    expect(buyer.locator("h1")).to_contain_text(RESULT)
    expect(buyer.locator("#contact")).to_contain_text("联系方式在发布方接受您的意向后显示")
    expect(buyer.locator("body")).not_to_contain_text(RESULT_PHONE)
    link = buyer.locator("#link_id")
    expect(link.locator("option")).to_have_text(["不关联", OTHER_NEED, NEED])
    buyer.locator("#message").fill("我公司导电膜产线方阻偏高，希望引进该工艺，可先做小批量验证。")
    link.select_option(label=NEED)
    buyer.locator("#send-interest").click()
    expect(buyer.locator(".alert-success")).to_contain_text("已提交意向，请等待对方处理")
    expect(buyer.locator("#my-interest-status")).to_contain_text("待处理")
    with live_server.app.app_context():
        interest = db.session.scalar(db.select(Interest))
        assert (interest.kind, interest.demand_id, interest.achievement_id) == ("interest", ids["need"], ids["result"])

    # 2. the institution is notified, sees the linked need, and accepts
    seller = new_page()
    sign_in(seller, base, "gaoxiao")
    expect(seller.locator("#unread-count")).to_have_text("1")
    seller.locator("#nav-notifications").click()
    item = seller.locator("#notifications .list-group-item", has_text="表达了合作意向")
    expect(item).to_contain_text(f"{ENTERPRISE} 对《{RESULT}》表达了合作意向")
    item.get_by_role("button", name="查看").click()
    expect(seller.locator("h1")).to_contain_text(RESULT)
    incoming = seller.locator(".incoming-interest", has_text=ENTERPRISE)
    expect(incoming).to_contain_text("希望引进该工艺")
    expect(incoming).to_contain_text(f"关联对方技术需求：{NEED}")
    incoming.locator(".accept-interest").click()
    expect(seller.locator(".alert-success")).to_contain_text("已接受，对方现在可以看到联系方式，对接已开启")
    expect(seller.locator(".incoming-interest", has_text=ENTERPRISE)).to_contain_text("已接受")

    # 3. the enterprise now sees the result's contact and the deal, at 接洽, waiting for a broker
    buyer.reload()
    expect(buyer.locator("#contact")).to_contain_text(RESULT_PHONE)
    expect(buyer.locator("#my-interest-status")).to_contain_text("已接受")
    buyer.get_by_role("link", name="查看对接").click()
    expect(buyer.locator("#deal-stage")).to_have_text("接洽")
    expect(buyer.locator("#deal-broker")).to_have_text("待认领")
    expect(buyer.locator("body")).to_contain_text(f"{NEED}（已发布）")
    expect(buyer.locator("body")).to_contain_text(f"{RESULT}（已发布）")
    deal_url = buyer.url

    # a broker of another county neither sees it to claim nor can open it
    other_broker = new_page()
    sign_in(other_broker, base, "wuhe_jjr")
    nav(other_broker, "对接")
    expect(other_broker.locator("#unassigned")).to_contain_text("没有待认领的对接")
    page_guard.expect_status(404)
    assert other_broker.goto(deal_url).status == 404

    # 4. the county's broker claims the deal from the board and moves it to 洽谈
    broker = new_page()
    sign_in(broker, base, "jingjiren")
    expect(broker.locator("#unread-count")).to_have_text("1")  # 新的对接待认领
    nav(broker, "对接")
    card = broker.locator("#unassigned > div", has_text=f"{ENTERPRISE} ⇄ {INSTITUTION}")
    expect(card).to_have_count(1)
    card.locator(".claim-deal").click()
    expect(broker.locator(".alert-success")).to_contain_text("已认领该对接")
    expect(broker.locator("#deal-broker")).to_contain_text(broker_name := _name_of(live_server, "jingjiren"))
    expect(broker.locator("#sign-deal")).to_have_count(0)  # not before 洽谈
    broker.locator('.move-deal[data-to="negotiating"]').click()
    expect(broker.locator(".alert-success")).to_contain_text("对接已进入“洽谈”阶段")
    expect(broker.locator("#deal-stage")).to_have_text("洽谈")
    expect(broker.locator("#events")).to_contain_text("接洽 → 洽谈")

    # 5. 签约: the contract is recorded from the deal
    broker.locator("#sign-deal").click()
    expect(broker.locator("h1")).to_have_text("签约并登记技术合同")
    expect(broker.locator(".alert-info")).to_contain_text(f"买方：{ENTERPRISE} · 卖方：{INSTITUTION}")
    broker.get_by_label("登记编号").fill(REG_NO)
    broker.get_by_label("合同类型").select_option(label="技术转让")
    broker.get_by_label("合同子类").select_option(label="技术转让 - 专利权转让")
    broker.get_by_label("合同成交额（元）").fill("500000.00")
    broker.get_by_label("技术交易额（元）").fill("450000.00")
    broker.get_by_label("签订日期").fill(date.today().isoformat())
    broker.locator("#save-contract").click()
    expect(broker.locator(".alert-success")).to_contain_text(f"已签约，技术合同 {REG_NO} 已登记")
    expect(broker.locator("#registration-no")).to_have_text(REG_NO)
    expect(broker.locator("#paid-total")).to_have_text("0.00元")

    # 6. a first instalment: paid vs agreed
    broker.get_by_label("到账日期").fill(date.today().isoformat())
    broker.get_by_label("到账金额（元）").fill("200000.00")
    broker.get_by_label("备注").fill("第一期")
    broker.locator("#add-payment").click()
    expect(broker.locator(".alert-success")).to_contain_text("到账已登记")
    payments = broker.locator("#payments")
    expect(payments.locator("h2")).to_contain_text("已到账 200,000.00元 / 合同成交额 500,000.00元")
    expect(payments.locator("h2")).to_contain_text("40.0%")
    expect(payments.locator("#payment-rows")).to_contain_text("第一期")

    # 7. the parties see the outcome: deal 签约, need 已解决, result 已转化, the contract paid vs agreed
    buyer.goto(deal_url)
    expect(buyer.locator("#deal-stage")).to_have_text("签约")
    expect(buyer.locator("#deal-broker")).to_contain_text(broker_name)
    expect(buyer.locator("body")).to_contain_text(f"{NEED}（已解决）")
    expect(buyer.locator("body")).to_contain_text(f"{RESULT}（已转化）")
    buyer.locator("#deal-contracts").get_by_role("link", name=REG_NO).click()
    expect(buyer.locator("#paid-total")).to_have_text("200,000.00元")
    expect(buyer.locator("#payment-form")).to_have_count(0)  # parties read, brokers and officials record
    buyer.goto(base + f"/demands/{ids['need']}")
    expect(buyer.locator("#listing-status")).to_have_text("已解决")
    buyer.goto(base + f"/demands/{ids['other']}")
    expect(buyer.locator("#listing-status")).to_have_text("已发布")  # the need not linked stays open
    seller.goto(base + f"/achievements/{ids['result']}")
    expect(seller.locator("#listing-status")).to_have_text("已转化")

    with live_server.app.app_context():
        deal = db.session.scalar(db.select(Deal))
        contract = db.session.scalar(db.select(Contract))
        assert (deal.stage, deal.demand_id, deal.achievement_id) == ("signed", ids["need"], ids["result"])
        assert deal.broker.username == "jingjiren"
        assert (contract.deal_id, contract.demand_id, contract.achievement_id) == (deal.id, ids["need"], ids["result"])
        assert (contract.contract_type, contract.subtype) == ("transfer", "patent")
        assert (contract.amount, contract.tech_amount) == (Decimal("500000.00"), Decimal("450000.00"))
        assert [p.amount for p in db.session.scalars(db.select(Payment))] == [Decimal("200000.00")]
        assert db.session.get(Demand, ids["need"]).status == "done"
        assert db.session.get(Demand, ids["other"]).status == "published"
        assert db.session.get(Achievement, ids["result"]).status == "done"
        contract_id = contract.id

    # 8. the city official voids it (the form says what voiding reopens): deal back to 洽谈, listings 已发布. The
    # seller is a university of 市本级, so voiding changes the city's own figures: county A's official may not
    official = new_page()
    sign_in(official, base, "official_city")
    official.goto(base + f"/contracts/{contract_id}")
    void_form = official.locator("#void-form")
    effects = void_form.locator("#void-effects")
    expect(effects).to_contain_text("对接将退回“洽谈”阶段")
    expect(effects).to_contain_text(f"技术需求《{NEED}》将由“已解决”恢复为“已发布”")
    expect(effects).to_contain_text(f"科技成果《{RESULT}》将由“已转化”恢复为“已发布”")
    void_form.locator("textarea").fill("登记信息有误，合同已解除")
    void_form.locator("#void-contract").click()
    expect(official.locator(".alert-success")).to_contain_text("合同已作废")
    expect(official.locator("#voided")).to_contain_text("登记信息有误，合同已解除")
    assert any("确定作废该合同吗" in text for text in page_guard.dialogs)
    buyer.goto(deal_url)
    expect(buyer.locator("#deal-stage")).to_have_text("洽谈")
    expect(buyer.locator("#deal-contracts")).to_contain_text("已作废")
    expect(buyer.locator("body")).to_contain_text(f"{NEED}（已发布）")
    expect(buyer.locator("body")).to_contain_text(f"{RESULT}（已发布）")
    broker.goto(deal_url)
    expect(broker.locator("#sign-deal")).to_be_visible()  # it can be signed again
    with live_server.app.app_context():
        assert db.session.scalar(db.select(Deal.stage)) == "negotiating"
        assert db.session.get(Demand, ids["need"]).status == "published"
        assert db.session.get(Achievement, ids["result"]).status == "published"


def _name_of(live_server, username: str) -> str:
    with live_server.app.app_context():
        return db.session.scalar(db.select(User.name).where(User.username == username))
