"""Phones (issue 17 item 10): list tables read as cards below 576 px with no JavaScript. The server writes the
class table-cards and each body cell's data-label from the table's one header row ({% filter cards %},
market/templating.py table_cards); static/css/app.css lays the cards out. tests/browser/test_phone_layout.py
measures them at 390 px, with and without JavaScript."""
from __future__ import annotations

import re
from decimal import Decimal

from markupsafe import Markup

from market.templating import table_cards as _table_cards
from tests import factories


def table_cards(html):
    """The filter as a template applies it: to an autoescaped rendering (Markup)."""
    return _table_cards(Markup(html))


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
