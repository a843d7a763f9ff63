"""The harness itself and the site-wide script (static/js/app.js): the guard sees what it must; a double click
posts once and still sends the clicked button's name=value (checked against the old script: it dropped
`then=submit`, so 保存并提交审核 saved a mere draft; without the guard the two clicks made two rows)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from market.extensions import db
from market.models import Demand, Region
from market.security import CSP
from tests import factories

from .helpers import fill_demand, sign_in

pytestmark = pytest.mark.browser

BAD_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<p>故意违规的页面</p>
<script>document.title = "inline ran";</script>
<button onclick="alert(1)">按钮</button>
<script src="/static/boom.js"></script>
</body></html>"""


def test_guard_reports_csp_violations_page_errors_and_server_errors(live_server, page, page_guard):
    base = live_server.base_url
    # a page served with the app's own CSP, carrying an inline script, and a script that throws
    page.route(base + "/harness-bad", lambda route: route.fulfill(
        status=200, body=BAD_PAGE, headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP}))
    page.route(base + "/static/boom.js", lambda route: route.fulfill(
        status=200, body="throw new Error('harness boom');", headers={"Content-Type": "text/javascript"}))
    page.route(base + "/harness-500", lambda route: route.fulfill(status=500, body="boom"))

    page.goto(base + "/harness-bad")
    expect(page.locator("p")).to_have_text("故意违规的页面")
    assert page.title() != "inline ran"  # the CSP blocked the inline script
    page.goto(base + "/harness-500")
    page_guard.flush()

    problems = "\n".join(page_guard.problems)
    assert "Content Security Policy" in problems
    assert "harness boom" in problems
    assert "500 from GET" in problems
    page_guard.problems.clear()  # seen: this test passes


def test_form_posts_once_on_double_click(live_server, seeded, page):
    with live_server.seed():
        region = db.session.get(Region, seeded.region_ids["town_a"])
        owner_id = factories.user(role="enterprise", org=factories.org(region=region), username="shuangji").id
    sign_in(page, live_server.base_url, "shuangji")
    page.goto(live_server.url("/demands/new"))
    fill_demand(page, title="双击测试需求标题", description="双击保存按钮只应创建一条需求记录。", budget_wan="8",
                contact_phone="0552-1111111")
    # two clicks 60 ms apart, the second while the first POST is still in flight (a plain dblclick() is
    # too fast: chromium folds it into one navigation, and the test would pass without the guard)
    button = page.locator("#save-submit")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    page.wait_for_timeout(60)
    page.mouse.click(x, y)
    expect(page.locator(".alert-success")).to_contain_text("已提交审核")  # the button's own value was posted
    expect(page.locator("#listing-status")).to_have_text("待审核")
    with live_server.app.app_context():
        rows = db.session.scalars(db.select(Demand).where(Demand.owner_id == owner_id)).all()
        assert [(d.title, d.status) for d in rows] == [("双击测试需求标题", "pending")]
