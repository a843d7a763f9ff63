"""Phones (issue 17 item 10): list tables read as cards below 576 px with no JavaScript. Each list table's template
writes the class table-cards and each body cell's data-label, the label of its column in the table's one header
row (issue 18: written once in the template instead of re-parsing every rendering); static/css/app.css lays the
cards out. tests/browser/test_phone_layout.py measures them at 390 px, with and without JavaScript.

The old `{% filter cards %}` (market/templating.py table_cards) stays registered, deprecated, until no template
uses it; its own tests are kept below."""
from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

from markupsafe import Markup

from market.templating import table_cards as _table_cards
from tests import factories

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def table_cards(html):
    """The filter as a template applies it: to an autoescaped rendering (Markup)."""
    return _table_cards(Markup(html))


class _CardsCheck(HTMLParser):
    """Reads a rendered page: for every outermost table.table-cards, the one header row's labels and, for each
    body or footer cell of one column, (its column's label, the cell's data-label)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.section, self.col = 0, "", 0
        self.tables: list[dict] = []
        self.header_text: list[str] | None = None
        self.cards = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.depth += 1
            if self.depth == 1:
                self.cards = "table-cards" in (attrs.get("class") or "").split()
                if self.cards:
                    self.tables.append({"id": attrs.get("id"), "labels": [], "header_rows": 0, "cells": []})
        elif self.depth == 1 and self.cards:
            table = self.tables[-1]
            if tag in ("thead", "tbody", "tfoot"):
                self.section = tag
            elif tag == "tr":
                self.col = 0
                table["header_rows"] += self.section == "thead"
            elif tag in ("th", "td"):
                span = int(attrs.get("colspan") or 1)
                if self.section == "thead":
                    self.header_text, self.span = [], span
                else:
                    if span == 1:
                        label = table["labels"][self.col] if self.col < len(table["labels"]) else None
                        table["cells"].append((label, attrs.get("data-label")))
                    self.col += span

    def handle_endtag(self, tag):
        if tag == "table":
            self.depth -= 1
        elif self.depth == 1 and self.cards and tag in ("th", "td") and self.header_text is not None:
            self.tables[-1]["labels"] += [" ".join("".join(self.header_text).split())] * self.span
            self.header_text = None
        elif tag in ("thead", "tbody", "tfoot"):
            self.section = ""

    def handle_data(self, data):
        if self.header_text is not None and self.depth == 1:
            self.header_text.append(data)


def cards_problems(html: str) -> list[str]:
    """What is wrong with the phone cards of a rendered page: a table-cards table without exactly one header row,
    or a one-column body cell whose data-label is not its column's label (an unlabelled column needs none)."""
    check = _CardsCheck()
    check.feed(html)
    problems = []
    for table in check.tables:
        if table["header_rows"] != 1:
            problems.append(f"{table['id']}: {table['header_rows']} header rows")
        for label, written in table["cells"]:
            if (written or "") != (label or ""):
                problems.append(f"{table['id']}: cell labelled {written!r}, its column is {label!r}")
    return problems


def template_cards_problems(source: str) -> list[str]:
    """The same check on a template's source, for every table written with class table-cards: each body cell of
    one column carries data-label, equal to its column's header text where the header is plain text."""
    problems = []
    for m in re.finditer(r'<table\b[^>]*class="[^"]*\btable-cards\b[^"]*"[^>]*>(.*?)</table>', source, re.S):
        body = m.group(1)
        head = re.search(r"<thead>(.*?)</thead>", body, re.S)
        if not head or head.group(1).count("<tr") != 1:
            problems.append(f"{m.group(0)[:80]}: not one header row")
            continue
        labels = [" ".join(h.split()) for h in re.findall(r"<th\b[^>]*>(.*?)</th>", head.group(1), re.S)]
        static = "{%" not in head.group(1)
        rest = body[head.end():]
        for row in re.findall(r"<tr\b.*?</tr>", rest, re.S):
            col = 0
            for attrs in re.findall(r"<t[dh]\b([^>]*)>", row):
                if "colspan" in attrs:
                    continue
                written = re.search(r'data-label="([^"]*)"', attrs)
                if static:
                    label = labels[col] if col < len(labels) else ""
                    if (written.group(1) if written else "") != label:
                        problems.append(f"{m.group(0)[:60]}… column {col}: {written and written.group(1)!r} != {label!r}")
                elif not written:
                    problems.append(f"{m.group(0)[:60]}… column {col}: no data-label")
                col += 1
    return problems


def test_every_card_table_in_the_templates_labels_its_cells_from_its_header():
    checked = 0
    for path in sorted(TEMPLATES.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        checked += source.count("table-cards")
        assert template_cards_problems(source) == [], path
    assert checked >= 29  # the list tables of issue 17 item 10


def test_the_list_pages_are_labelled_as_written_with_no_filter_at_render(world, login_as, app):
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("12345.67"), title="卡片合同")
    from market.extensions import db

    db.session.commit()
    pages = {"admin": ["/admin/users", "/admin/orgs", "/admin/regions", "/admin/fields", "/admin/reasons",
                       "/admin/reg-codes", "/admin/jobs/", "/registration/points", "/registration/calendar",
                       "/contracts/", "/notifications/settings"],
             "official": ["/review/orgs", "/review/brokers", "/contracts/", "/registration/"],
             "enterprise": ["/matching", "/deals/interests"],
             "broker": ["/deals/record", "/deals/"]}
    import market.templating as templating

    calls = []
    app.jinja_env.filters["cards"] = lambda html: calls.append(1) or templating.table_cards(html)
    shown = []
    for role, urls in pages.items():
        client = login_as(role)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            page = response.get_data(as_text=True)
            assert cards_problems(page) == [], (role, url)
            shown += [url] * ("table-cards" in page)
    # the filter is not called; a list with nothing to show (matching, the 对接 board's reasons) has no table
    assert calls == [] and len(shown) >= 15, shown


def test_the_checks_see_a_wrong_or_missing_label():
    good = ('<table class="table-cards t" id="t"><thead><tr><th>名称</th><th></th></tr></thead><tbody>'
            '<tr><td data-label="名称">a</td><td>b</td></tr><tr><td colspan="2">空</td></tr></tbody></table>')
    assert cards_problems(good) == [] and template_cards_problems(good) == []
    wrong = good.replace('data-label="名称"', 'data-label="金额"')
    missing = good.replace(' data-label="名称"', "")
    for bad in (wrong, missing):
        assert cards_problems(bad) and template_cards_problems(bad)
    two_rows = good.replace("<thead><tr><th>名称</th><th></th></tr>", "<thead><tr><th>名称</th><th></th></tr><tr><th>x</th></tr>")
    assert cards_problems(two_rows) and template_cards_problems(two_rows)


def test_cells_are_labelled_from_the_header_and_the_rest_is_kept_as_written():
    html = ('<table class="table table-sm" id="t"><thead><tr><th>名称</th><th colspan="2">金额 &amp; 单位</th>'
            '<th></th></tr></thead><tbody><tr><td><a href="/a?b=1&amp;c=2">甲 &lt;乙&gt;</a></td><td>1</td>'
            '<td data-label="自定">2</td><td><input name=x></td></tr><tr><td colspan="4">空</td></tr></tbody></table>'
            '<script>if (a<b && c>d) {}</script><!-- note -->')
    out = str(table_cards(html))
    assert '<table class="table-cards table table-sm" id="t">' in out
    assert '<td data-label="名称"><a href="/a?b=1&amp;c=2">甲 &lt;乙&gt;</a></td>' in out
    assert '<td data-label="金额 &amp; 单位">1</td><td data-label="自定">2</td><td><input name=x></td>' in out
    assert '<td colspan="4">空</td>' in out and "<script>if (a<b && c>d) {}</script><!-- note -->" in out
    # the same text once the additions are taken out
    assert re.sub(r' data-label="[^"]*"|table-cards ', "", out).replace('data-label="自定"', "") == \
        html.replace(' data-label="自定"', "")


def test_grids_keep_their_layout():
    grids = ['<table class="table dash-table"><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>',
             '<table class="table" data-no-cards><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>',
             '<table class="table"><thead><tr><th>a</th></tr><tr><th>b</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>']
    for html in grids:
        assert str(table_cards(html)) == html
    nested = '<table><thead><tr><th>n</th></tr></thead><tbody><tr><td><table><tr><td>in</td></tr></table></td></tr></tbody></table>'
    assert str(table_cards(nested)) == ('<table class="table-cards"><thead><tr><th>n</th></tr></thead><tbody><tr>'
                                        '<td data-label="n"><table><tr><td>in</td></tr></table></td></tr></tbody></table>')


def test_the_filter_leaves_a_table_written_as_cards_as_it_is():
    html = ('<table class="table-cards table"><thead><tr><th>a</th></tr></thead><tbody><tr><td data-label="a">1</td>'
            '</tr></tbody></table>')
    assert str(table_cards(html)) == html


def test_the_contract_list_is_labelled_on_the_server(world, login_as):
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("12345.67"), title="卡片合同")
    from market.extensions import db

    db.session.commit()
    page = login_as("official").get("/contracts/").get_data(as_text=True)
    table = page.split('id="contracts"', 1)[0].rsplit("<table", 1)[1]
    assert "table-cards" in table
    assert 'data-label="合同成交额（万元）"' in page and 'data-label="买方"' in page
    assert "table-cards" not in open("static/js/app.js", encoding="utf-8").read()


def test_a_plain_string_is_escaped_not_marked_safe():
    out = _table_cards('<table><thead><tr><th>a</th></tr></thead><tbody><tr><td><script>x()</script></td></tr></tbody></table>')
    assert "<script>" not in str(out) and "&lt;script&gt;" in str(out)
