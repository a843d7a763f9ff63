"""A notification path in a real browser (issue 17): the county's 科技局 official approves ent01's need; ent01
sees the notice in the site (the 通知 badge) and receives the mail on a real SMTP server started here; the mail's
link opens the need, and its 退订 link turns that kind of mail off without signing in."""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from market.models import Field, Region
from tests import factories
from tests.browser.helpers import approve, sign_in
from tests.mailserver import links, unsubscribe_link

pytestmark = pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                reason="the notification path does not depend on the database kind: run once")

TITLE = "寻求高透光导电膜玻璃镀膜技术"


def test_an_approved_need_reaches_its_company_in_the_site_and_by_mail(live_server, seeded, smtp, new_page):
    with live_server.seed() as session:
        town = session.get(Region, seeded.region_ids["town_a"])
        org = factories.org(region=town, name="怀远县恒通玻璃有限公司")
        ent = factories.user(role="enterprise", org=org, username="ent01")
        ent.email = "ent01@example.com"
        factories.demand(owner=ent, field=session.get(Field, seeded.field_ids["materials"]), status="pending", title=TITLE)

    official = new_page()
    sign_in(official, live_server.base_url, seeded.official)
    approve(official, TITLE)

    company = new_page()
    sign_in(company, live_server.base_url, "ent01")
    expect(company.locator("#unread-count")).to_have_text("1")
    company.locator("#nav-notifications").click()
    notice = company.locator("#notifications .notification-text")
    expect(notice).to_have_text(f"您的技术需求《{TITLE}》已通过审核并公开发布")

    [message] = smtp.wait_for("ent01@example.com")
    assert TITLE in message["Subject"]
    detail = next(link for link in links(message) if "/demands/" in link)
    company.goto(detail)
    expect(company.locator("h1")).to_contain_text(TITLE)

    # the 退订 link, opened in a browser nobody signed in to
    stranger = new_page()
    stranger.goto(unsubscribe_link(message))
    expect(stranger.locator("#confirm-unsubscribe")).to_be_visible()
    stranger.locator("#confirm-unsubscribe").click()
    expect(stranger.locator("#unsubscribed")).to_contain_text("已退订")

    company.goto(live_server.url("/notifications/settings"))
    expect(company.locator("#mode_listing_off")).to_be_checked()
    expect(company.locator("#mode_deal_now")).to_be_checked()


def test_a_returned_need_s_reason_reaches_its_company_by_mail_and_the_link_opens_it(live_server, seeded, smtp,
                                                                                    new_page):
    """退回 with its reason: the notice in the site, the mail read back from the SMTP server, its link followed."""
    from tests.browser.helpers import open_review_item

    title = "寻求电池隔膜涂覆工艺改进"
    reason = "请补充现有涂覆工艺参数和期望达到的指标"
    with live_server.seed() as session:
        town = session.get(Region, seeded.region_ids["town_a"])
        org = factories.org(region=town, name="怀远县锂电材料有限公司")
        ent = factories.user(role="enterprise", org=org, username="lidian")
        ent.email = "lidian@example.com"
        factories.demand(owner=ent, field=session.get(Field, seeded.field_ids["materials"]), status="pending",
                         title=title)

    official = new_page()
    sign_in(official, live_server.base_url, seeded.official)
    open_review_item(official, title)
    official.locator("#review-actions textarea[name=reason]").fill(reason)
    official.locator("#return").click()
    expect(official.locator(".alert-success")).to_contain_text("已退回")

    [message] = smtp.wait_for("lidian@example.com")
    assert title in message["Subject"]
    from tests.mailserver import body

    assert reason in body(message)
    company = new_page()
    sign_in(company, live_server.base_url, "lidian")
    expect(company.locator("#unread-count")).to_have_text("1")
    company.goto(next(link for link in links(message) if "/demands/" in link))
    expect(company.locator("#listing-status")).to_have_text("已退回")
    expect(company.locator("main")).to_contain_text(f"退回理由：{reason}")


def test_an_invitation_mailed_to_a_colleague_is_followed_to_join(live_server, seeded, smtp, new_page):
    """单位成员: the administrator types the colleague's address; the mail leaves by the job, and its link opens the
    join page in the colleague's browser, where they register into the organisation."""
    with live_server.seed() as session:
        town = session.get(Region, seeded.region_ids["town_a"])
        org = factories.org(region=town, name="怀远甲企业有限公司")
        admin = factories.user(role="enterprise", org=org, username="ent_a")
        admin.org_admin = True

    page = new_page()
    sign_in(page, live_server.base_url, "ent_a")
    page.goto(live_server.url("/org/members"))
    expect(page.locator("#invite-mail-on")).to_be_visible()
    page.get_by_label("受邀人电子邮箱（可不填；填写后由系统把链接发到该邮箱）").fill("wang@example.com")
    page.locator("#invite").click()
    expect(page.locator(".alert-success")).to_contain_text("邀请邮件正在发送至 wang@example.com")

    [message] = smtp.wait_for("wang@example.com")
    assert "怀远甲企业有限公司" in message["Subject"]
    link = next(u for u in links(message) if "/join/" in u)
    guest = new_page()
    guest.goto(link)
    expect(guest.locator("h1")).to_contain_text("怀远甲企业有限公司")
    guest.get_by_label("用户名").fill("ent_a_wang")
    guest.get_by_label("姓名").fill("王工")
    guest.get_by_label("手机号码").fill("13912345678")
    guest.get_by_label("密码", exact=True).fill("Colleague-2026x")
    guest.get_by_label("确认密码").fill("Colleague-2026x")
    guest.locator("#consent input[type=checkbox]").check()
    guest.locator("#join-submit").click()
    expect(guest.locator(".alert-success")).to_contain_text("您已加入“怀远甲企业有限公司”")
