"""SECURITY.md item 5, the `?region=` part: an official of county A asking for county B's figures by URL is refused
on every dashboard page and export, and nothing of county B leaks into the refusal."""
from __future__ import annotations

from decimal import Decimal

import pytest

from market.extensions import db
from tests import factories
from tests.helpers import client_for

PAGES = ["/dashboard/", "/dashboard/checks", "/dashboard/conversions", "/dashboard/coverage", "/dashboard/targets",
         "/dashboard/export?table=summary&format=csv", "/dashboard/export?table=region&format=xlsx",
         "/dashboard/export?table=targets&format=csv", "/dashboard/reports?table=T3",
         "/dashboard/export?table=T4&format=xlsx"]


@pytest.fixture
def county_b_contract(world):
    c = factories.contract(buyer=world.orgs.ent_b, seller=world.orgs.uni, amount=Decimal("7654321.00"),
                           title="五河县机密合同")
    db.session.commit()
    return c


@pytest.mark.parametrize("page", PAGES)
def test_an_official_cannot_ask_for_another_county(app, world, county_b_contract, page):
    other = world.regions["county_b"].id
    sep = "&" if "?" in page else "?"
    official = client_for(app, world.users.official)
    resp = official.get(f"{page}{sep}region={other}")
    assert resp.status_code == 403, (page, resp.status_code)
    body = resp.get_data(as_text=True)
    # the amount in every form a page or export writes it (万元, 元 with separators, bare); bare digits such as
    # "765" alone also occur in generated user names and CSRF tokens, so they prove nothing
    leaks = ("五河县机密合同", "五河县", "765.43", "7,654,321", "7654321")
    assert not [text for text in leaks if text in body], (page, body)
    # the same page for its own county, and county B's figures for those whose scope holds it
    assert official.get(f"{page}{sep}region={world.regions['county_a'].id}").status_code == 200, page
    for name in ("official_b", "city_official", "admin"):
        assert client_for(app, getattr(world.users, name)).get(f"{page}{sep}region={other}").status_code == 200, (name, page)


def test_a_town_below_another_county_is_refused_too(app, world, county_b_contract):
    official = client_for(app, world.users.official)
    assert official.get(f"/dashboard/?region={world.regions['town_b'].id}").status_code == 403
    assert official.get(f"/dashboard/?region={world.regions['city'].id}").status_code == 403
