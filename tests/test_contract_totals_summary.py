"""The contract list's 合计 for an official comes from the monthly summary (issue 18: a sum over a million contracts
on each view took most of the page's second), and the list counts its rows only up to a limit. Both must say
exactly what the sum over the records says: the same contracts, the same figures to the fen."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from market.extensions import db
from tests import factories


@pytest.fixture
def contracts(world):
    orgs, regions = world.orgs, world.regions
    rows = [
        dict(buyer=orgs.ent_a, seller=orgs.uni, amount=Decimal("12345678.91"), signed_on=date(2024, 3, 5)),
        dict(buyer=orgs.ent_b, seller=orgs.ent_a, amount=Decimal("0.01"), tech_amount=Decimal("0.00"),
             signed_on=date(2025, 12, 31), contract_type="transfer"),
        dict(buyer=orgs.ent_b, seller=orgs.uni, amount=Decimal("99999999999.99"), signed_on=date(2025, 1, 1)),
        dict(buyer=orgs.ent_a, seller=orgs.ent_a, amount=Decimal("500.50"), signed_on=date(2023, 7, 15)),
        dict(buyer=orgs.ent_a, seller=orgs.uni, amount=Decimal("777.77"), signed_on=date(2025, 6, 1), voided=True),
        dict(buyer=orgs.ent_a, seller=orgs.uni, amount=Decimal("888.88"), signed_on=date(2025, 6, 2),
             reg_status="submitted"),
        dict(buyer=orgs.ent_b, seller=orgs.ent_b, amount=Decimal("321.00"), signed_on=date(2024, 2, 29)),
        # a party outside the city's regions
        dict(buyer=orgs.ent_a, seller=orgs.uni, seller_region=None, amount=Decimal("4444.44"),
             signed_on=date(2024, 11, 30)),
    ]
    made = []
    for row in rows:
        outside = "seller_region" in row and row["seller_region"] is None
        row.pop("seller_region", None)
        c = factories.contract(**row)
        if outside:
            c.seller_region_id = None
        made.append(c)
    db.session.commit()
    return made


def _filters(**kw):
    return {"year": None, "type": "", "state": "", "q": "", **kw}


@pytest.mark.parametrize("who", ["official", "official_b", "city_official"])
@pytest.mark.parametrize("filters", [{}, {"year": 2024}, {"year": 2025}, {"year": 2019}, {"state": "live"},
                                     {"state": "void"}, {"year": 2025, "state": "live"}])
def test_the_summary_totals_equal_the_sum_over_the_records(app, world, contracts, who, filters):
    from market.contracts import queries

    user = getattr(world.users, who)
    filters = _filters(**filters)
    stmt = queries.visible_contracts(user, filters=filters)
    years = queries.years()
    from_summary = queries.summary_totals(user, filters, years)
    assert from_summary is not None
    assert from_summary == queries.totals(stmt)  # the plain SQL sum over the list's records
    assert all(isinstance(from_summary[k], Decimal) for k in ("amount", "tech_amount"))


def test_other_lists_are_summed_over_their_records(world, contracts):
    from market.contracts import queries

    years = queries.years()
    official = world.users.official
    for filters in (_filters(q="甲"), _filters(type="transfer")):
        assert queries.summary_totals(official, filters, years) is None
    for who in ("admin", "broker", "enterprise"):
        assert queries.summary_totals(getattr(world.users, who), _filters(), years) is None
    assert queries.totals(queries.visible_contracts(official, filters=_filters(type="transfer")),
                          user=official, filters=_filters(type="transfer"), years=years)["count"] == 1


def test_the_page_shows_the_summary_figures(world, contracts, login_as):
    from market.contracts import queries

    page = login_as("city_official").get("/contracts/").get_data(as_text=True)
    totals = page.split('id="contract-totals"', 1)[1].split("</div>", 1)[0]
    expected = queries.totals(queries.visible_contracts(world.users.city_official, filters=_filters()))
    assert expected["count"] == 6 and f"<strong>{expected['count']}</strong> 份" in totals
    assert f"{expected['amount']:,.2f}" in totals.replace("元", "")  # the exact 元 in the tooltip


def test_a_long_list_counts_up_to_the_limit(world, contracts, login_as, monkeypatch):
    from market.contracts import routes

    client = login_as("city_official")
    assert "共 8 条" in client.get("/contracts/").get_data(as_text=True)
    monkeypatch.setattr(routes, "LIST_COUNT_LIMIT", 3)
    monkeypatch.setitem(client.application.config, "PAGE_SIZE", 2)
    page = client.get("/contracts/?page=2&year=").get_data(as_text=True)
    assert "超过 3 条，请用筛选缩小范围" in page and "共 8 条" not in page
    assert page.count('href="/contracts/?page=2') >= 1 and "page=3" not in page.split('aria-label="分页"')[1]
    # the 合计 is not capped
    assert "<strong>6</strong> 份" in page
