"""竞价 from a session's opening to the winning contract, in a real browser (issue 20): county A's official opens a
session, adds a university's result as a lot (starting price, hidden reserve, increment, deposit) and publishes it,
then records two companies' deposits; the bidding starts; one company sets a proxy ceiling, the other bids and sees
the price move on its open page without reloading (the page polls the server) as the proxy answers; the reserve
is never on a bidder's page before the end; the end passes; the lot is sold to the highest bid at or above the
reserve, the loser's deposit is marked for return, the official sees the session's results; the county's broker
claims the winner's deal and records the technology contract at the winning price, with no 公示 (the price was set
in public)."""
from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from market.extensions import db
from market.models import AuctionLot, Contract, Deal, Field, Region
from market.models.base import utcnow
from tests import factories

from .helpers import nav, sign_in

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                 reason="the journey once; tests/test_auctions.py and the race tests run on both")]

UNIVERSITY = "蚌埠理工学院"
RESULT = "高透光率光伏玻璃减反射镀膜技术"
FIRST = "怀远县榴城新材料有限公司"
SECOND = "五河县沱湖光电科技有限公司"
SESSION = "怀远县科技成果竞价专场（第一期）"
REG_NO = f"{date.today().year}340321000789"


@pytest.fixture
def cast(live_server, seeded):
    """The seller (a university with a published result), two verified companies and county A's broker."""
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        materials = session.get(Field, seeded.field_ids["materials"])
        uni = factories.user(role="institution", org=factories.org(region=regions["town_a"], org_type="university",
                                                                   name=UNIVERSITY), username="gaoxiao")
        factories.achievement(owner=uni, field=materials, status="published", title=RESULT)
        factories.user(role="enterprise", org=factories.org(region=regions["town_a"], name=FIRST), username="qiye1")
        factories.user(role="enterprise", org=factories.org(region=regions["county_b"], name=SECOND), username="qiye2")
        agency = factories.org(region=regions["city"], org_type="agency", name="蚌埠技术转移中心")
        factories.user(role="broker", org=agency, region=regions["county_a"], username="jingjiren")


def test_auction_from_the_session_to_the_winning_contract(live_server, seeded, cast, new_page):
    base = live_server.base_url
    beijing = utcnow() + timedelta(hours=8)
    starts = (beijing + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    ends = (beijing + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")

    # 1. the official opens a session, adds the lot and publishes
    official = new_page()
    sign_in(official, base, seeded.official)
    nav(official, "竞价")
    official.locator("#new-session").click()
    official.get_by_label("专场名称").fill(SESSION)
    official.get_by_label("专场说明").fill("路演后公开竞价，价高者得。")
    official.locator("#save-session").click()
    expect(official.locator(".alert-success")).to_contain_text("专场已创建，请添加拍品")
    official.get_by_label("拍品（已公开发布的科技成果）").select_option(label=f"{RESULT}（{UNIVERSITY}）")
    official.get_by_label("起拍价（元）").fill("1000000.00")
    official.get_by_label("保留价（元，不公开，可不填）").fill("1100000.00")
    official.get_by_label("加价幅度（元）").fill("50000.00")
    official.get_by_label("竞买保证金（元）").fill("100000.00")
    official.get_by_label("竞价开始时间").fill(starts)
    official.get_by_label("竞价结束时间").fill(ends)
    official.locator("#save-lot").click()
    expect(official.locator(".alert-success")).to_contain_text("拍品已添加")
    expect(official.locator("h1")).to_have_text(RESULT)
    lot_url = official.url

    # 2. the deposits of both companies are recorded as received, and the session is published
    for company in (FIRST, SECOND):
        form = official.locator("#deposit-form")
        form.get_by_label("竞买单位").select_option(label=company)
        form.get_by_label("到账金额（元）").fill("100000.00")
        official.locator("#record-deposit").click()
        expect(official.locator(".alert-success")).to_contain_text("保证金已登记，该单位可以出价")
    expect(official.locator("#deposits .deposit-status")).to_have_count(2)
    official.get_by_role("link", name=SESSION).click()
    session_url = official.url
    official.locator("#publish-session").click()
    expect(official.locator(".alert-success")).to_be_visible()
    expect(official.locator("#publish-session")).to_have_count(0)

    # 3. the bidding starts. Time travel is a fixture here, not a mock: the lot's start is moved into the past in
    # the database, and every page and service reads the server's real clock as usual
    with live_server.seed():
        lot = db.session.scalar(select(AuctionLot))
        lot.starts_at = utcnow() - timedelta(seconds=5)

    # the second company sets a proxy ceiling: it bids the starting price at once and answers higher bids
    second = new_page()
    sign_in(second, base, "qiye2")
    second.goto(lot_url)
    expect(second.locator("#lot-phase")).to_have_text("竞价中")
    expect(second.locator("#reserve")).to_have_text("竞价结束后公布")
    assert "1,100,000" not in second.content() and "1100000" not in second.content()
    second.get_by_label("代理出价上限（元，不公开）").fill("1150000.00")
    second.locator("#set-proxy").click()
    expect(second.locator(".alert-success")).to_contain_text("代理出价已设置")
    expect(second.locator("#current-price")).to_have_text("1,000,000.00元")

    # the first company opens the lot, and bids; the proxy answers at once
    first = new_page()
    sign_in(first, base, "qiye1")
    first.goto(lot_url)
    expect(first.locator("#current-price")).to_have_text("1,000,000.00元")
    first.get_by_label("出价（元）").fill("1050000.00")
    first.locator("#place-bid").click()
    expect(first.locator(".alert-success")).to_contain_text("出价成功")
    expect(first.locator("#current-price")).to_have_text("1,100,000.00元")  # the proxy answered one increment up
    # the second company's page, left open, follows without a reload
    expect(second.locator("#current-price")).to_have_text("1,100,000.00元", timeout=10_000)
    expect(second.locator("#leader")).to_contain_text("贵单位")
    # the first bids over the ceiling and leads; the second's open page shows it
    first.get_by_label("出价（元）").fill("1200000.00")
    first.locator("#place-bid").click()
    expect(first.locator(".alert-success")).to_contain_text("出价成功")
    expect(first.locator("#leader")).to_contain_text("贵单位")
    expect(second.locator("#current-price")).to_have_text("1,200,000.00元", timeout=10_000)
    expect(second.locator("#leader")).not_to_contain_text("贵单位")
    assert "1,100,000.00元（" not in second.content()  # the reserve still not shown

    # 4. the end passes: the lot is sold to the first company at its bid; the loser's deposit is to be returned
    with live_server.seed():
        lot = db.session.scalar(select(AuctionLot))
        lot.ends_at = utcnow() - timedelta(seconds=1)
    # the bidder's open page notices the end by itself and reloads to the result (a goto here would race that
    # reload: net::ERR_ABORTED)
    expect(first.locator("#lot-phase")).to_have_text("已成交", timeout=15_000)
    expect(first.locator("#lot-result")).to_contain_text("贵单位以 1,200,000.00元 竞得")
    expect(first.locator("#reserve")).to_contain_text("1,100,000.00元（已达到）")
    expect(first.locator("#bidding")).to_have_count(0)
    official.goto(lot_url)
    statuses = official.locator("#deposits tbody tr")
    expect(statuses.filter(has_text=SECOND).locator(".deposit-status")).to_have_text("待退还")
    official.goto(session_url)
    expect(official.locator("body")).to_contain_text("专场结果")

    # 5. the county's broker claims the winner's deal and records the contract at the winning price
    broker = new_page()
    sign_in(broker, base, "jingjiren")
    nav(broker, "对接")
    claim = broker.locator("#unassigned > div", has_text=f"{FIRST} ⇄ {UNIVERSITY}")
    expect(claim).to_have_count(1)
    claim.locator(".claim-deal").click()
    expect(broker.locator(".alert-success")).to_contain_text("已认领该对接")
    expect(broker.locator("#deal-stage")).to_have_text("洽谈")
    expect(broker.locator("#deal-source")).to_have_text("竞价拍卖")
    expect(broker.locator("#deal-price")).to_have_text("1,200,000.00元")
    broker.locator("#sign-deal").click()
    expect(broker.locator("h1")).to_have_text("签约并登记技术合同")
    expect(broker.get_by_label("合同成交额（元）")).to_have_value("1200000.00")
    broker.get_by_label("登记编号").fill(REG_NO)
    broker.get_by_label("合同类型").select_option(label="技术转让")
    broker.get_by_label("合同子类").select_option(label="技术转让 - 专利权转让")
    broker.get_by_label("技术交易额（元）").fill("1200000.00")
    broker.get_by_label("签订日期").fill(date.today().isoformat())
    broker.locator("#save-contract").click()
    expect(broker.locator(".alert-success")).to_contain_text(f"已签约，技术合同 {REG_NO} 已登记")
    with live_server.seed():
        contract = db.session.scalar(select(Contract))
        deal = db.session.get(Deal, contract.deal_id)
        assert (contract.amount, contract.contract_type, deal.source) == (deal.price, "transfer", "auction")
        assert str(contract.amount) == "1200000.00"
