"""Every other notification path in a real browser (issue 17): an organisation verified or rejected, a broker
claiming and moving a deal, a contract and a payment recorded, a region's target set, a new strong suggestion, a
subscription hit by a newly published listing, a 登记 decision. Each event is caused the way a person would (the
acting role in the browser) or, where that is dear, through the product's own service function; the mail is read
back from a real SMTP server started here, and its link is followed in the recipient's signed-in browser to a
page that shows the object. Suggestions and subscriptions are "daily digest" topics by default: their mail is the
digest, queued as the sweep does at the digest hour (`digests_queue`)."""
from __future__ import annotations

import os
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from market.extensions import db
from market.models import Contract, Field, Organization, Region, RegPoint, User
from tests import factories
from tests.browser.helpers import TOWN_A, approve, nav, sign_in, verify_org
from tests.mailserver import body, links

pytestmark = pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                reason="the notification path does not depend on the database kind: run once")


def member(org: Organization, username: str, role: str = "enterprise", **kw) -> User:
    u = factories.user(role=role, org=org, username=username, **kw)
    u.email = f"{username}@example.com"
    return u


def link_to(message, part: str) -> str:
    return next(link for link in links(message) if part in link)


def with_subject(messages, text: str):
    return next(m for m in messages if text in m["Subject"])


def test_an_organisation_verified_or_rejected_is_told_to_its_users(live_server, seeded, smtp, new_page):
    with live_server.seed() as session:
        town = session.get(Region, seeded.region_ids["town_a"])
        good = factories.org(region=town, status="pending", name="怀远县恒通玻璃有限公司")
        member(good, "hengtong")
        bad = factories.org(region=town, status="pending", name="怀远县无照经营部")
        member(bad, "wuzhao")
        official_id, bad_id = session.scalar(db.select(User.id).where(User.username == seeded.official)), bad.id

    # verified by the county official in the browser
    official = new_page()
    sign_in(official, live_server.base_url, seeded.official)
    verify_org(official, "怀远县恒通玻璃有限公司")
    [message] = smtp.wait_for("hengtong@example.com")
    assert "怀远县恒通玻璃有限公司" in message["Subject"] and "已通过认证" in message["Subject"]
    company = new_page()
    sign_in(company, live_server.base_url, "hengtong")
    expect(company.locator("#unread-count")).to_have_text("1")
    company.goto(link_to(message, "/account/status"))
    expect(company.locator("main")).to_contain_text("怀远县恒通玻璃有限公司")
    expect(company.locator("#org-status")).to_have_text("已认证")

    # rejected with a reason (the service the 认证不通过 form calls)
    from market.orgs import org_verify

    with live_server.seed() as session:
        org_verify(org=session.get(Organization, bad_id), user=session.get(User, official_id), decision="reject",
                   note="营业执照照片不清晰")
    [message] = smtp.wait_for("wuzhao@example.com")
    assert "怀远县无照经营部" in message["Subject"] and "营业执照照片不清晰" in body(message)
    rejected = new_page()
    sign_in(rejected, live_server.base_url, "wuzhao")
    expect(rejected.locator("#unread-count")).to_have_text("1")
    rejected.goto(link_to(message, "/account/status"))
    expect(rejected.locator("#org-status")).to_have_text("认证未通过")


def test_a_broker_claiming_and_moving_a_deal_tells_the_parties(live_server, seeded, smtp, new_page):
    title = "寻求高透光导电膜玻璃镀膜技术"
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        ent = factories.org(region=regions["town_a"], name="怀远县恒通玻璃有限公司")
        uni = factories.org(region=regions["county_a"], org_type="university", name="怀远理工学院")
        buyer = member(ent, "hengtong")
        member(uni, "ligong", role="institution")
        agency = factories.org(region=regions["city"], org_type="agency", name="蚌埠技术转移中心")
        factories.user(role="broker", org=agency, region=regions["county_a"], username="jingjiren")
        need = factories.demand(owner=buyer, field=session.get(Field, seeded.field_ids["materials"]),
                                status="published", title=title)
        factories.deal(buyer=ent, seller=uni, demand=need, stage="contacted")

    broker = new_page()
    sign_in(broker, live_server.base_url, "jingjiren")
    nav(broker, "对接")
    card = broker.locator("#unassigned > div", has_text="怀远县恒通玻璃有限公司 ⇄ 怀远理工学院")
    card.locator(".claim-deal").click()
    expect(broker.locator(".alert-success")).to_contain_text("已认领该对接")
    [claimed] = smtp.wait_for("ligong@example.com")
    assert "已认领对接" in claimed["Subject"] and title in claimed["Subject"]
    broker.locator('.move-deal[data-to="negotiating"]').click()
    expect(broker.locator(".alert-success")).to_contain_text("对接已进入“洽谈”阶段")

    messages = smtp.wait_for("hengtong@example.com", count=2)
    moved = with_subject(messages, "推进到")
    assert title in moved["Subject"] and "“接洽”" in body(moved) and "“洽谈”" in body(moved)
    with_subject(messages, "已认领对接")
    company = new_page()
    sign_in(company, live_server.base_url, "hengtong")
    expect(company.locator("#unread-count")).to_have_text("2")
    company.goto(link_to(moved, "/deals/"))
    expect(company.locator("main")).to_contain_text(title)
    expect(company.locator("#deal-stage")).to_have_text("洽谈")


def test_a_contract_and_a_payment_recorded_are_told_to_both_parties(live_server, seeded, smtp, new_page):
    title = "高透光导电膜镀膜工艺技术开发"
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        member(factories.org(region=regions["town_a"], name="怀远县榴城新材料有限公司"), "liucheng")
        member(factories.org(region=regions["city"], org_type="university", name="蚌埠理工学院"), "ligong",
               role="institution")
        agency = factories.org(region=regions["city"], org_type="agency", name="蚌埠技术转移中心")
        factories.user(role="broker", org=agency, region=regions["county_a"], username="jingjiren")

    broker = new_page()
    sign_in(broker, live_server.base_url, "jingjiren")
    broker.goto(live_server.url("/contracts/new"))
    broker.get_by_label("买方单位（委托方/受让方/被许可方）").fill("怀远县榴城新材料有限公司")
    broker.get_by_label("卖方单位（受托方/让与方/许可方）").fill("蚌埠理工学院")
    broker.get_by_label("登记编号").fill("2026340321000777")
    broker.get_by_label("合同名称").fill(title)
    broker.get_by_label("合同类型").select_option(label="技术开发")
    broker.get_by_label("合同成交额（元）").fill("1234567.89")
    broker.get_by_label("技术交易额（元）").fill("1000000.00")
    broker.get_by_label("签订日期").fill(date.today().isoformat())
    broker.get_by_label("买方所在区域").select_option(label=TOWN_A)
    broker.get_by_label("卖方所在区域").select_option(label="蚌埠市")
    broker.locator("#save-contract").click()
    expect(broker.locator(".alert-success")).to_contain_text("已登记")

    for address in ("liucheng@example.com", "ligong@example.com"):
        [recorded] = smtp.wait_for(address)
        assert title in recorded["Subject"] and "2026340321000777" in body(recorded)
        assert "123.46万元" in body(recorded)

    # 到账, on the contract's page the broker landed on
    broker.get_by_label("到账日期").fill(date.today().isoformat())
    broker.get_by_label("到账金额（元）").fill("250000.00")
    broker.locator("#add-payment").click()
    expect(broker.locator("#paid-total")).to_contain_text("250,000.00")

    messages = smtp.wait_for("ligong@example.com", count=2)
    paid = with_subject(messages, "付款")
    assert title in paid["Subject"] and "25.00万元" in body(paid)
    seller = new_page()
    sign_in(seller, live_server.base_url, "ligong")
    expect(seller.locator("#unread-count")).to_have_text("2")
    seller.goto(link_to(paid, "/contracts/"))
    expect(seller.locator("main")).to_contain_text(title)
    expect(seller.locator("#paid-total")).to_contain_text("250,000.00")
    assert len(smtp.wait_for("liucheng@example.com", count=2)) == 2


def test_a_target_set_for_a_region_is_told_to_its_official(live_server, seeded, smtp, new_page):
    town_id = seeded.region_ids["town_a"]
    with live_server.seed() as session:
        town_official = factories.user(role="official", region=session.get(Region, town_id), username="liucheng_kj")
        town_official.email = "liucheng_kj@example.com"

    county = new_page()
    sign_in(county, live_server.base_url, seeded.official)
    nav(county, "数据看板")
    county.locator("#dash-tabs").get_by_role("link", name="目标任务与排名").click()
    county.locator(f"#set-target-{town_id}").click()
    county.get_by_label("合同成交额目标（万元）").fill("8000")
    county.locator("#target-save").click()
    expect(county.locator(".alert-success")).to_contain_text("已保存榴城镇")

    [message] = smtp.wait_for("liucheng_kj@example.com")
    year = date.today().year
    assert "榴城镇" in message["Subject"] and f"{year} 年度目标任务" in message["Subject"]
    town = new_page()
    sign_in(town, live_server.base_url, "liucheng_kj")
    expect(town.locator("#unread-count")).to_have_text("1")
    town.goto(link_to(message, "/dashboard/targets"))
    expect(town.locator("#dash-title")).to_contain_text("榴城镇")
    expect(town.locator("main")).to_contain_text("8,000.00万元")


def run_suggestion_scan(app) -> str:
    """The "notifications.suggestions" job, as the consumer runs it after the matching engine stored pairs."""
    from market.notifications.handlers import suggestions_notify

    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        return suggestions_notify(session, {})


def send_digests(app) -> int:
    """What the sweep does at the digest hour (`flask mail digests`): queue each waiting user's digest."""
    from market.notifications import mail

    with app.app_context():
        return mail.digests_queue(any_hour=True)


def test_a_new_strong_suggestion_is_told_to_the_owner_in_the_digest(live_server, seeded, smtp, new_page):
    """The county official publishes a company's need; the matching engine (run by its job after the commit)
    pairs it with a result at 匹配度 ≥ 50 (强); the scan job tells the owner, in the daily digest."""
    need_title, result_title = "寻求磁控溅射透明导电膜镀膜玻璃制备技术", "磁控溅射透明导电膜镀膜玻璃制备技术"
    text = "采用磁控溅射工艺在玻璃基板上制备低方阻透明导电膜，方阻低于6Ω/□，透光率大于90%，镀膜玻璃良品率提高。"
    words = "导电膜,磁控溅射,镀膜玻璃,透明导电膜,方阻"
    assert "起点" in run_suggestion_scan(live_server.app)  # a running install: its first scan was long ago
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        materials = session.get(Field, seeded.field_ids["materials"])
        software = session.get(Field, seeded.field_ids["software"])
        scholar = factories.user(role="institution", username="ligong",
                                 org=factories.org(region=regions["town_a"], org_type="university", name="怀远理工学院"))
        # other results, so that the shared words are rare ones (the engine weighs words by their rarity)
        for title, keywords, summary in (
                ("工业软件表面缺陷检测算法", "机器视觉,深度学习", "基于深度学习的产线表面缺陷检测算法与软件。"),
                ("农机作业调度管理平台", "农机,调度,物联网", "面向农机合作社的作业调度与计量管理软件平台。"),
                ("中药饮片智能分拣系统", "中药,分拣,图像识别", "利用图像识别对中药饮片进行自动分拣和质量分级。"),
                ("污水处理曝气节能控制", "污水处理,曝气,节能", "根据溶解氧在线调节曝气量，降低污水厂能耗。")):
            factories.achievement(owner=scholar, field=software, status="published", title=title, keywords=keywords,
                                  summary=summary)
        factories.achievement(owner=scholar, field=materials, status="published", title=result_title, maturity=8,
                              price=Decimal("300000"), keywords=words, summary=text)
        owner = member(factories.org(region=regions["town_a"], name="怀远县恒通玻璃有限公司"), "hengtong")
        factories.demand(owner=owner, field=materials, status="pending", title=need_title, keywords=words,
                         budget=Decimal("500000"), description=text)

    official = new_page()
    sign_in(official, live_server.base_url, seeded.official)
    approve(official, need_title)
    messages = smtp.wait_for("hengtong@example.com")  # the 审核通过 notice, at once
    assert all("强匹配" not in body(m) for m in messages)  # a digest topic: nothing at once
    assert send_digests(live_server.app) == 1

    [digest] = [m for m in smtp.wait_for("hengtong@example.com", count=2) if "通知汇总" in m["Subject"]]
    assert "通知汇总（1 条）" in digest["Subject"]
    mail_text = body(digest)
    assert "新的强匹配推荐" in mail_text and f"《{need_title}》" in mail_text and f"《{result_title}》" in mail_text
    company = new_page()
    sign_in(company, live_server.base_url, "hengtong")
    expect(company.locator("#unread-count")).to_have_text("2")
    link = link_to(digest, "/demands/")
    assert link.endswith("#suggestions")  # the link ends at the end of its line, nothing glued to it
    company.goto(link)
    expect(company.locator("h1")).to_contain_text(need_title)
    expect(company.locator("#suggestions")).to_contain_text(result_title)


def test_a_subscription_hit_by_a_newly_published_listing_is_told_to_the_subscriber(live_server, seeded, smtp,
                                                                                    new_page):
    title = "寻求高透光导电膜玻璃镀膜技术"
    from market.notifications.services import subscription_create

    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        owner = factories.user(role="enterprise", username="hengtong",
                               org=factories.org(region=regions["town_a"], name="怀远县恒通玻璃有限公司"))
        factories.demand(owner=owner, field=session.get(Field, seeded.field_ids["materials"]), status="pending",
                         title=title)
        scholar = member(factories.org(region=regions["city"], org_type="university", name="蚌埠理工学院"),
                         "ligong", role="institution")
        # 新材料 needs in 怀远县 (what the search page's 订阅 button saves)
        subscription_create(user=scholar, kind="demand", q="", field_code="04", region_id=regions["county_a"].id)

    official = new_page()
    sign_in(official, live_server.base_url, seeded.official)
    approve(official, title)
    assert send_digests(live_server.app) == 1

    [digest] = smtp.wait_for("ligong@example.com")
    text = body(digest)
    assert "您订阅的" in text and "新材料" in text and f"《{title}》" in text
    scholar_page = new_page()
    sign_in(scholar_page, live_server.base_url, "ligong")
    expect(scholar_page.locator("#unread-count")).to_have_text("1")
    scholar_page.goto(link_to(digest, "/demands/"))
    expect(scholar_page.locator("h1")).to_contain_text(title)


def test_a_registration_decision_is_told_to_the_submitter(live_server, seeded, smtp, new_page):
    """The 登记员 decides two submissions in the browser: 核定登记 and 退回修改 (with its reason); the submitter and
    the selling organisation's members are mailed each, and the links open the contract's 登记 page."""
    title, returned_title = "锂电池隔膜涂覆工艺技术转让合同", "锂电池正极材料烧结工艺技术服务合同"
    reason = "扫描件缺少双方签字页，请补充后重新提交"
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        point = RegPoint(name="怀远县技术合同登记点", kind="bureau", region_id=regions["county_a"].id,
                         division="340321", serial=1)
        session.add(point)
        session.flush()
        registrar = User(username="dengjiyuan", name="登记员甲", role="registrar", reg_point_id=point.id,
                         phone="13800000000")
        registrar.set_password(factories.PASSWORD)
        session.add(registrar)
        seller_org = factories.org(region=regions["town_a"], name="怀远县锂电材料有限公司")
        submitter = member(seller_org, "lidian")
        colleague = member(seller_org, "lidian_b")
        buyer_org = factories.org(region=regions["city"], name="蚌埠新能源科技有限公司")
        contract = factories.contract(buyer=buyer_org, seller=seller_org, title=title)
        returned = factories.contract(buyer=buyer_org, seller=seller_org, title=returned_title)
        session.flush()
        # both submitted to the county's 登记点 by lidian (as the 申请登记 form does)
        session.execute(db.update(Contract).where(Contract.id.in_((contract.id, returned.id))).values(
            reg_status="submitted", reg_request="new", reg_point_id=point.id, submitted_by_id=submitter.id,
            submitted_at=datetime.now(timezone.utc)))
        contract_id, returned_id = contract.id, returned.id
        assert colleague.id

    registrar_page = new_page()
    sign_in(registrar_page, live_server.base_url, "dengjiyuan")
    registrar_page.goto(live_server.url(f"/registration/{contract_id}"))
    registrar_page.get_by_label("办理结果").select_option(label="核定登记")
    registrar_page.get_by_label("核定技术交易额（元）").fill("80000.00")
    registrar_page.locator("#decide").click()
    expect(registrar_page.locator(".alert-success")).to_contain_text("已登记，登记编号")

    for address in ("lidian@example.com", "lidian_b@example.com"):
        [message] = smtp.wait_for(address)
        assert title in message["Subject"] and "已登记" in message["Subject"]
        assert "8.00万元" in body(message)
    submitter_page = new_page()
    sign_in(submitter_page, live_server.base_url, "lidian")
    expect(submitter_page.locator("#unread-count")).to_have_text("1")
    submitter_page.goto(link_to(smtp.to("lidian@example.com")[0], "/registration/"))
    expect(submitter_page.locator("h1")).to_contain_text(title)
    expect(submitter_page.locator("#reg-status")).to_contain_text("已登记")
    expect(submitter_page.locator("#download-certificate")).to_be_visible()

    registrar_page.goto(live_server.url(f"/registration/{returned_id}"))
    registrar_page.get_by_label("办理结果").select_option(label="退回修改")
    registrar_page.get_by_label("理由（退回、不予登记时必填）").fill(reason)
    registrar_page.locator("#decide").click()
    expect(registrar_page.locator(".alert-success")).to_contain_text("已退回提交人修改")
    back = with_subject(smtp.wait_for("lidian@example.com", count=2), "退回")
    assert returned_title in back["Subject"] and reason in body(back)
    assert len(smtp.wait_for("lidian_b@example.com", count=2)) == 2
    submitter_page.goto(link_to(back, "/registration/"))
    expect(submitter_page.locator("h1")).to_contain_text(returned_title)
    expect(submitter_page.locator("#reg-status")).to_contain_text("已退回")
    expect(submitter_page.locator("#unread-count")).to_have_text("2")
