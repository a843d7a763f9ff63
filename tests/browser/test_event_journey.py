"""An event from start to outcome (issue 19 section 2): county A's official publishes a 路演 presenting a
university's result, an enterprise signs up and gets its check-in code (QR), the organiser's phone page checks the
code in, an 意向 is recorded on the spot, and it appears on the event's outcome page."""
from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from market.models import Field, Region
from market.models.base import utcnow
from tests import factories

from tests.helpers import same_day_start

from .helpers import sign_in

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                 reason="the journey once; tests/test_happenings.py runs on both")]

RESULT = "磁控溅射低方阻透明导电膜制备技术"


@pytest.fixture
def parties(live_server, seeded):
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        fields = {k: session.get(Field, v) for k, v in seeded.field_ids.items()}
        ent = factories.org(region=regions["town_a"], name="怀远甲企业有限公司")
        factories.user(role="enterprise", org=ent, username="ent_a")
        uni = factories.org(region=regions["city"], org_type="university", name="蚌埠测试大学")
        owner = factories.user(role="institution", org=uni, username="uni")
        factories.achievement(owner=owner, field=fields["materials"], status="published", title=RESULT)


def test_event_from_publication_to_outcome(live_server, seeded, parties, new_page, page_guard):
    page_guard.expect_status(409)  # the second use of a code is refused with 409
    start = same_day_start(timedelta(hours=3), timedelta(hours=3)) + timedelta(hours=8)  # Beijing time
    official = new_page()
    sign_in(official, live_server.base_url, seeded.official)
    official.set_viewport_size({"width": 390, "height": 844})  # the organiser works from a phone
    official.goto(live_server.url("/events"))
    official.locator("#new-event").click()
    official.get_by_label("活动类型").select_option("roadshow")
    official.get_by_label("活动名称").fill("怀远县新材料成果路演")
    official.get_by_label("地点").fill("怀远县科技局三楼会议室")
    official.get_by_label("开始时间").fill(start.strftime("%Y-%m-%dT%H:%M"))
    official.get_by_label("结束时间").fill((start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    official.get_by_label("报名截止时间").fill((start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    official.get_by_label("名额（人）").fill("30")
    official.get_by_label("议程（每行一个：日期 开始-结束 名称）").fill(
        f"{start:%Y-%m-%d %H:%M}-{start + timedelta(hours=1):%H:%M} 成果路演\n"
        f"{start + timedelta(hours=1):%Y-%m-%d %H:%M}-{start + timedelta(hours=2):%H:%M} 一对一洽谈")
    official.get_by_label("展示的需求和成果（已公开发布）").select_option(label=f"【成果】{RESULT}")
    official.locator("#publish-event").click()
    expect(official.locator(".alert-success")).to_contain_text("活动已发布")
    expect(official.locator("#sessions li")).to_have_count(2)
    expect(official.locator("#presented")).to_contain_text(RESULT)
    event_url = official.url

    # the enterprise signs up and gets its code
    company = new_page()
    sign_in(company, live_server.base_url, "ent_a")
    company.set_viewport_size({"width": 390, "height": 844})
    company.goto(live_server.url("/events"))
    company.get_by_role("link", name="怀远县新材料成果路演").click()
    company.locator("#signup").click()
    expect(company.locator(".alert-success")).to_contain_text("报名成功")
    expect(company.locator("#qr svg")).to_be_visible()
    code = company.locator("#checkin-code").inner_text().strip()

    # the organiser's phone page checks it in, once
    official.goto(event_url)
    official.locator("#checkin-desk").click()
    official.get_by_label("签到码").fill(code)
    official.locator("#verify-code").click()
    expect(official.locator("#checkin-ok")).to_contain_text("怀远甲企业有限公司")
    expect(official.locator("#attendance")).to_contain_text("已签到 1")
    official.get_by_label("签到码").fill(code)
    official.locator("#verify-code").click()
    expect(official.locator("#checkin-form .invalid-feedback")).to_contain_text("已使用")

    # an 意向 on the spot, recorded by the organiser for the enterprise
    official.goto(event_url)
    official.locator("#record-interest").click()
    official.get_by_label("到场单位").select_option(index=1)  # the one attendee checked in
    official.get_by_label("展示的需求或成果").select_option(label=f"【成果】{RESULT}")
    official.get_by_label("意向内容").fill("现场洽谈，希望获得该导电膜技术的许可")
    official.locator("#save-interest").click()
    expect(official.locator(".alert-success")).to_contain_text("已记录意向")
    expect(official.locator("#fig-attended")).to_have_text("1")
    expect(official.locator("#fig-interests")).to_have_text("1")
    expect(official.locator("#event-interests")).to_contain_text("怀远甲企业有限公司")
    expect(official.locator("#event-interests")).to_contain_text(RESULT)

    # the enterprise's code page now says it was checked in
    company.reload()
    expect(company.locator("#checked-in")).to_be_visible()


CALLED_OFF = "怀远县新材料技术对接会"
REASON = "台风预警，会场关闭，活动取消"


@pytest.fixture
def called_off_event(live_server, seeded):
    """County A's 对接会 starting in three hours (the check-in desk open, sign-up open for two more hours), and two
    verified enterprises of the county (ent_a signs up, ent_b only looks). Returns the event's path."""
    from market.models import Happening, HappeningSession, User

    start = utcnow().replace(second=0, microsecond=0) + timedelta(hours=3)
    with live_server.seed() as session:
        town = session.get(Region, seeded.region_ids["town_a"])
        factories.user(role="enterprise", org=factories.org(region=town, name="怀远甲企业有限公司"), username="ent_a")
        factories.user(role="enterprise", org=factories.org(region=town, name="怀远乙企业有限公司"), username="ent_b")
        official = session.scalar(select(User).where(User.username == seeded.official))
        h = Happening(kind="matchmaking", title=CALLED_OFF, place="怀远县科技局三楼会议室", description="",
                      region_id=official.region_id, organiser_id=official.id, starts_at=start,
                      ends_at=start + timedelta(hours=3), signup_deadline=start - timedelta(hours=1), capacity=30,
                      confirmed_count=0)
        session.add(h)
        session.flush()
        session.add(HappeningSession(happening_id=h.id, title="供需对接", starts_at=start,
                                     ends_at=start + timedelta(hours=1)))
        path = f"/events/{h.id}"
    return path


def test_the_organiser_calls_off_an_event(live_server, seeded, called_off_event, new_page, page_guard):
    """The organiser calls the event off (the box ticked, a reason given) while the phone at the door still shows
    the check-in desk: the attendee is told and sees it cancelled, another company's sign-up from a page opened
    before is refused, and the desk refuses the attendee's code."""
    page_guard.expect_status(400, 409)  # the unticked confirmation; the refused sign-up and check-in
    event_url = live_server.url(called_off_event)

    company = new_page()
    sign_in(company, live_server.base_url, "ent_a")
    company.goto(live_server.url("/events"))
    company.get_by_role("link", name=CALLED_OFF).click()
    company.locator("#signup").click()
    expect(company.locator(".alert-success")).to_contain_text("报名成功")
    code = company.locator("#checkin-code").inner_text().strip()

    other = new_page()  # opened the event before it was called off
    sign_in(other, live_server.base_url, "ent_b")
    other.goto(event_url)
    expect(other.locator("#signup")).to_be_visible()

    desk = new_page()  # the organiser's phone at the door
    sign_in(desk, live_server.base_url, seeded.official)
    desk.set_viewport_size({"width": 390, "height": 844})
    desk.goto(event_url)
    desk.locator("#checkin-desk").click()
    expect(desk.locator("#verify-code")).to_be_visible()

    office = desk.context.new_page()  # the same organiser at the office
    page_guard.watch(office)
    office.goto(event_url)
    office.locator("#call-off-event").click()
    expect(office.locator("#notify-confirmed")).to_have_text("1")
    expect(office.locator("#notify-waiting")).to_have_text("0")
    office.get_by_label("取消原因").fill(REASON)
    office.locator("#call-off-submit").click()  # the box not ticked: refused, nothing cancelled
    expect(office.locator("#call-off-form")).to_contain_text("请勾选确认取消活动")
    expect(office.get_by_label("取消原因")).to_have_value(REASON)
    office.locator("#confirm").check()
    office.locator("#call-off-submit").click()
    expect(office.locator(".alert-success")).to_contain_text("活动已取消，已通知1位")
    expect(office.locator("#event-cancelled")).to_have_text("已取消")
    expect(office.locator("#cancel-notice")).to_contain_text(REASON)
    expect(office.locator("#call-off-event")).to_have_count(0)
    expect(office.locator("#checkin-desk")).to_have_count(0)

    # the desk's page, loaded before: the code is refused and the desk says why
    desk.get_by_label("签到码").fill(code)
    desk.locator("#verify-code").click()
    expect(desk.locator("#form-errors")).to_contain_text("活动已取消，不能签到")
    expect(desk.locator("#checkin-closed")).to_contain_text(REASON)
    expect(desk.locator("#verify-code")).to_have_count(0)

    # the attendee is told, with the reason, and the event's page and ticket say it is off
    company.goto(live_server.url("/"))
    expect(company.locator("#unread-count")).to_have_text("1")
    company.locator("#nav-notifications").click()
    expect(company.locator("#notifications .notification-text")).to_have_text(
        re.compile(f"^您报名的活动已取消：{CALLED_OFF}（原定.+），原因：{REASON}$"))
    company.locator("#notifications").get_by_role("button", name="查看").click()
    expect(company.locator("h1")).to_contain_text(CALLED_OFF)
    expect(company.locator("#event-cancelled")).to_be_visible()
    expect(company.locator("#cancel-notice")).to_contain_text(REASON)
    expect(company.locator("#signup-panel")).to_contain_text("活动已取消，不再接受报名（您的报名：已报名）")
    expect(company.locator("#signup")).to_have_count(0)
    expect(company.locator("#cancel-signup")).to_have_count(0)
    company.goto(live_server.url(f"{called_off_event}/ticket"))
    expect(company.locator("#event-cancelled")).to_contain_text("签到码不再有效")
    expect(company.locator("#checkin-code")).to_have_count(0)

    # the other company's sign-up button, from the page it opened before: refused; the page now offers none
    other.locator("#signup").click()
    expect(other.locator("body")).to_contain_text("活动已取消，不能再报名")
    other.goto(event_url)
    expect(other.locator("#signup-panel")).to_contain_text("活动已取消，不再接受报名")
    expect(other.locator("#signup")).to_have_count(0)
