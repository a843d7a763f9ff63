"""An official's morning, in a real browser at phone and desktop width: sign in, land on the workbench, open the
review queue from its count, tick listings and approve them with one confirmation (issue 17 items 3 and 7)."""
from __future__ import annotations

import os
from datetime import datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from market.extensions import db
from market.models import Demand, Field, ListingEvent, Region
from market.review.queries import china_today
from market.templating import CHINA_TZ
from tests import factories

from .helpers import PASSWORD

# the page and the batch are the same on both databases; tests/test_review_queue.py runs the batch on both
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                 reason="browser layout: once (the batch itself is tested on both databases)")]

TITLES = ("镀膜线节能改造技术需求", "光伏玻璃减反射镀膜技术需求", "磁控溅射靶材国产化需求")
CONFIRM = "确定将勾选的条目全部审核通过并发布吗？"


@pytest.fixture
def queue(live_server, seeded):
    """Three pending needs of a county A company (submitted 2, 1 and 0 days ago, China dates) and one of
    county B, which county A's official never sees."""
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        fields = {k: session.get(Field, v) for k, v in seeded.field_ids.items()}
        ent_a = factories.org(region=regions["town_a"], name="怀远甲企业有限公司")
        ent_b = factories.org(region=regions["county_b"], name="五河乙企业有限公司")
        owner_a = factories.user(role="enterprise", org=ent_a, username="ent_a")
        owner_b = factories.user(role="enterprise", org=ent_b, username="ent_b")
        midnight = datetime.combine(china_today(), time.min, CHINA_TZ)
        for days, (title, owner) in zip((2, 1, 0), [(t, owner_a) for t in TITLES]):
            d = factories.demand(owner=owner, field=fields["materials"], status="pending", title=title)
            session.add(ListingEvent(kind="demand", listing_id=d.id, actor_id=owner.id, from_status="draft",
                                     to_status="pending", at=midnight - timedelta(days=days) + timedelta(minutes=5)))
        factories.demand(owner=owner_b, field=fields["materials"], status="pending", title="五河县的待审需求")
    return live_server


@pytest.mark.parametrize("width", [390, 1280], ids=["phone", "desktop"])
def test_official_approves_a_batch_from_the_workbench(queue, seeded, new_page, page_guard, width):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 860})
    # sign in (at phone width the menu, and the name in it, is folded away: the landing page is the check)
    page.goto(queue.url("/login"))
    page.get_by_label("用户名").fill(seeded.official)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.locator("#login-submit").click()

    # sign-in lands on the workbench: the queue's count and its oldest wait
    expect(page).to_have_url(queue.url("/workbench"))
    expect(page.locator("#wb-queue .wb-count")).to_have_text("3")
    expect(page.locator("#wb-queue")).to_contain_text("最长已等待 2 天")
    if width >= 992:  # the menu is open at desktop width: 审核 carries the same count
        expect(page.locator("nav.navbar").get_by_role("link", name="审核", exact=True).locator(".nav-badge")).to_have_text("3")

    page.locator("#wb-queue").click()
    rows = page.locator("#review-queue .review-row")
    expect(rows).to_have_count(3)
    expect(page.locator("#review-queue")).not_to_contain_text("五河县的待审需求")
    expect(rows.first).to_contain_text(TITLES[0])  # the longest waiting first
    expect(rows.first).to_contain_text("已等待 2 天")
    expect(rows.first).to_contain_text("怀远甲企业有限公司")
    expect(rows.first.locator(".review-org-status")).to_have_text("已认证")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen

    # tick two, approve them with one confirmation
    button = page.locator("#batch-approve")
    expect(button).to_be_disabled()
    page.get_by_role("checkbox", name=TITLES[0]).check()  # each box is named by its listing's title
    page.get_by_role("checkbox", name=TITLES[1]).check()
    expect(button).to_have_text("批量通过（2）")
    button.click()
    expect(page.locator(".alert-success")).to_contain_text("已批量审核通过并发布 2 条")
    assert page_guard.dialogs == [CONFIRM]
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(TITLES[2])

    # 全选本页 takes the last one too
    page.get_by_label("全选本页").check()
    expect(button).to_have_text("批量通过（1）")
    button.click()
    expect(page.locator(".alert-success")).to_contain_text("已批量审核通过并发布 1 条")
    expect(page.locator("#review-queue")).to_contain_text("没有待审核的条目")
    assert page_guard.dialogs == [CONFIRM, CONFIRM]

    with queue.seed() as session:
        statuses = dict(session.execute(db.select(Demand.title, Demand.status)).all())
    assert statuses == {**{t: "published" for t in TITLES}, "五河县的待审需求": "pending"}
