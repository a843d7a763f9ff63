"""One rule for money and counts on every page a person reads (issue 17 item 8): 万元 with two decimals and
thousands separators, the exact yuan in the tooltip, counts as whole numbers.

The demo market is seeded once; every page that shows money is rendered as each demo role (and anonymously),
and every 万元 figure on it is checked.
"""
from __future__ import annotations

import html
import re

import pytest

from market.seed import DEMO_PASSWORD
from tests.helpers import login

FIGURE = re.compile(r"^[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}$")
YUAN = re.compile(r"^[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}元$")
# a number right before 万元 in the page's text; the budget bands' labels ("10-50万元", "500万元以上") are
# names of ranges, not figures
WAN_IN_TEXT = re.compile(r"(?<![0-9.,\-–~])([0-9][0-9,]*(?:\.[0-9]+)?)\s*万元(?!以上|以下)")
WAN_SPAN = re.compile(r'<span class="wan" title="([^"]*)">([^<]*)</span>')
PACE = re.compile(r"应完成约\s*([0-9][0-9,.]*)\s*(份|项)")
LINKED = re.compile(r'href="(/(?:demands|achievements|contracts|deals)/[0-9]+)"')

ROLES = {
    None: ["/", "/demands", "/achievements", "/search?q=技术"],
    "ent01": ["/workbench", "/my/demands", "/matching", "/deals/", "/deals/interests", "/demands", "/achievements"],
    "inst01": ["/workbench", "/my/achievements", "/matching", "/deals/", "/achievements"],
    "broker01": ["/workbench", "/deals/", "/deals/queue", "/contracts/", "/deals/record"],
    "kjj_city": ["/workbench", "/contracts/", "/dashboard/", "/dashboard/targets", "/dashboard/conversions",
                 "/dashboard/coverage", "/dashboard/checks?check=large", "/dashboard/?period=quarter",
                 "/review/", "/deals/"],
    "admin": ["/workbench", "/contracts/", "/dashboard/", "/dashboard/targets", "/deals/"],
}


@pytest.fixture
def seeded(app, runner, monkeypatch, tmp_path, frozen_today):
    monkeypatch.setenv("MARKET_CSL_PATH", str(tmp_path / "no-such-file.jsonl"))
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output


def page_text(body: str) -> str:
    body = re.sub(r"<script\b.*?</script>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def problems_on(url: str, body: str) -> list[str]:
    found = []
    for number in WAN_IN_TEXT.findall(page_text(body)):
        if not FIGURE.match(number):
            found.append(f"{url}: {number}万元")
    for title, shown in WAN_SPAN.findall(body):
        if not YUAN.match(html.unescape(title)):
            found.append(f"{url}: tooltip {title!r}")
        if not FIGURE.match(html.unescape(shown).removesuffix("万元")):
            found.append(f"{url}: {shown!r}")
    for number, unit in PACE.findall(page_text(body)):
        if not re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*", number):
            found.append(f"{url}: 应完成约{number}{unit}")
    return found


def test_every_page_with_money_follows_the_one_rule(app, seeded):
    problems: list[str] = []
    figures = 0
    for username, urls in ROLES.items():
        client = app.test_client()
        if username:
            login(client, username, DEMO_PASSWORD)
        seen = set()
        todo = list(urls)
        details = 0
        while todo:
            url = todo.pop(0)
            if url in seen:
                continue
            seen.add(url)
            resp = client.get(url)
            assert resp.status_code == 200, (username, url, resp.status_code)
            body = resp.get_data(as_text=True)
            problems += problems_on(url, body)
            if "<tfoot" in body and 'class="wan"' in body and "wan-note" not in body:
                problems.append(f"{url}: 万元 table with a 合计 row and no note that its cells are rounded one by one")
            figures += len(WAN_SPAN.findall(body))
            # follow a few links to the detail pages of what the list shows (listings, contracts, deals)
            for link in LINKED.findall(body):
                if link not in seen and details < 12:
                    details += 1
                    todo.append(link)
    assert not problems, "\n".join(problems[:40])
    assert figures > 200  # the scan saw the demo's figures, not empty pages


def test_the_scan_catches_a_figure_off_the_rule():
    assert problems_on("/x", "<p>10757.9505万元</p>")
    assert problems_on("/x", "<p>200476600万元</p>")
    assert problems_on("/x", "<p>按时间进度应完成约 139.73份</p>")
    assert problems_on("/x", '<span class="wan" title="1.5元">0.00万元</span>')
    assert not problems_on("/x", '<span class="wan" title="107,579,505.00元">10,757.95万元</span> 10-50万元 500万元以上')
