"""The demo that `make run` serves: every demo account signs in and opens every page of its navigation bar,
with no error in the browser, and the pages show the demo's figures (not an empty market)."""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from market.seed import DEMO_PASSWORD

from .helpers import sign_in

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                 reason="the journey once (95 s); on PostgreSQL the demo's pages are opened by "
                                        "tests/test_money_display.py, every GET route by tests/test_access_matrix.py")]

ACCOUNTS = ("admin", "kjj_city", "kjj_340302", "broker01", "ent01", "inst01", "ent_new")


def _local_nav_links(page) -> list[str]:
    hrefs = page.locator("nav.navbar a.nav-link, nav.navbar a.dropdown-item").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    return list(dict.fromkeys(h for h in hrefs if h and h.startswith("/") and not h.startswith("//")))


def test_every_demo_account_opens_every_page_of_its_menu(live_server, new_page, page_guard):
    result = live_server.app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    base = live_server.base_url
    opened = {}
    for username in ACCOUNTS:
        page = new_page()
        sign_in(page, base, username, DEMO_PASSWORD)
        links = _local_nav_links(page)
        assert links, username
        for href in links:
            response = page.goto(base + href)
            assert response is not None and response.status == 200, (username, href, response and response.status)
            expect(page.locator("main")).to_be_visible()
        opened[username] = links
        if username == "kjj_city":
            page.goto(base + "/dashboard/")
            buyer = page.locator("#kpi-buyer").inner_text()
            assert re.search(r"[1-9]\d*份", buyer), buyer  # this year's contracts, not an empty dashboard
            for tab in ("目标任务与排名", "成果转化", "产学研一对一", "数据核查"):
                page.locator("#dash-tabs").get_by_role("link", name=tab).click()
                expect(page.locator("#dash-title")).to_contain_text("蚌埠市")
        if username == "broker01":
            page.goto(base + "/deals/")
            expect(page.get_by_text("下一步已逾期")).to_be_visible()
        page.context.close()
    # the roles see different menus: the officials' and the admin's are not the companies'
    assert "/dashboard/" in opened["kjj_city"] and "/dashboard/" not in opened["ent01"]
