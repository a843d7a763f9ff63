"""Phones (issue 17 item 10): at 390 px the main list pages of every role read as cards, no table cell is
narrower than two characters and no badge wraps into a tall block; the site has a favicon."""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from market.seed import DEMO_PASSWORD

from .helpers import sign_in

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                 reason="layout at 390 px does not depend on the database: once, in the SQLite suite")]

PAGES = {
    None: ["/demands", "/achievements"],
    "ent01": ["/my/demands", "/matching", "/deals/", "/deals/interests"],
    "inst01": ["/my/achievements", "/deals/"],
    "broker01": ["/deals/", "/deals/queue", "/contracts/"],
    "kjj_city": ["/review/", "/review/orgs", "/contracts/", "/deals/"],
    "admin": ["/admin/users", "/admin/orgs", "/contracts/"],
}

# every visible cell: its width against two characters of its own font; every badge: at most one line high
MEASURE = """() => {
  const cells = [...document.querySelectorAll('main td, main th')].filter(c => c.offsetParent !== null
      && c.getBoundingClientRect().height > 0 && getComputedStyle(c).visibility !== 'hidden'
      && !c.closest('thead'));
  const narrow = cells.filter(c => c.textContent.trim() !== ''
      && c.getBoundingClientRect().width < 2 * parseFloat(getComputedStyle(c).fontSize))
    .map(c => c.textContent.trim().slice(0, 20) + ' ' + Math.round(c.getBoundingClientRect().width) + 'px');
  const tall = [...document.querySelectorAll('main .badge')].filter(b => b.offsetParent !== null
      && b.getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(b).fontSize))
    .map(b => b.textContent.trim());
  const wide = document.documentElement.scrollWidth > window.innerWidth + 1;
  return {cells: cells.length, narrow, tall, wide, cards: document.querySelectorAll('table.table-cards').length};
}"""


def test_list_pages_read_as_cards_at_390_px(live_server, new_page, page_guard, browser):
    result = live_server.app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    base = live_server.base_url
    checked = 0
    for username, paths in PAGES.items():
        page = new_page()
        if username:
            sign_in(page, base, username, DEMO_PASSWORD)
        page.set_viewport_size({"width": 390, "height": 844})
        for path in paths:
            response = page.goto(base + path)
            assert response is not None and response.status == 200, (username, path)
            found = page.evaluate(MEASURE)
            assert not found["narrow"], (username, path, found["narrow"][:10])
            assert not found["tall"], (username, path, found["tall"][:10])
            checked += found["cells"]
        page.context.close()
    assert checked > 100  # the pages had rows to measure

    # the contract list, a wide table, is a stack of cards on a phone and a table on a desktop
    page = new_page()
    sign_in(page, base, "broker01", DEMO_PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "/contracts/")
    first = page.locator("#contracts tbody tr").first
    expect(first.locator("td").nth(4)).to_have_attribute("data-label", "合同成交额（万元）")
    assert first.evaluate("tr => getComputedStyle(tr).display") == "block"
    page.set_viewport_size({"width": 1280, "height": 900})
    assert first.evaluate("tr => getComputedStyle(tr).display") == "table-row"

    # the cards need no JavaScript: the labels and the class come from the server (issue 17 item 10)
    bare = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", java_script_enabled=False)
    try:
        plain = bare.new_page()
        plain.goto(base + "/login")
        plain.get_by_label("用户名").fill("broker01")
        plain.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
        plain.locator("#login-submit").click()
        plain.goto(base + "/contracts/")
        row = plain.locator("#contracts tbody tr").first
        expect(row.locator("td").nth(4)).to_have_attribute("data-label", "合同成交额（万元）")
        assert row.evaluate("tr => getComputedStyle(tr).display") == "block"
        found = plain.evaluate(MEASURE)
        assert found["cards"] >= 1 and not found["narrow"], found["narrow"][:10]
    finally:
        bare.close()

    # the favicon every page links to is served
    href = page.locator("link[rel=icon]").get_attribute("href")
    icon = page.request.get(base + href)
    assert icon.status == 200 and icon.body()[:4] == b"\x00\x00\x01\x00"  # an .ico
