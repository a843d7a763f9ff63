"""Region scoping: an official of county A sees nothing of county B in any figure, list or export.

Every page and export of county A's official is rendered, then county B gets contracts, targets, orgs,
listings and deals, and everything is rendered again: nothing may change. And `?region=<B>` is refused.
"""
from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from market.extensions import db
from market.models import Deal, Target
from tests import factories
from tests.helpers import FROZEN_NOW, FROZEN_TODAY, post

pytestmark = pytest.mark.usefixtures("frozen_today")  # "/dashboard/" shows FROZEN_TODAY's year
YEAR = FROZEN_TODAY.year
PAGES = [
    "/dashboard/",
    f"/dashboard/?period=quarter&year={YEAR}&quarter=1",
    f"/dashboard/?period=range&start={YEAR - 1}-11-15&end={YEAR}-02-10",
    "/dashboard/targets",
    "/dashboard/targets?metric=count",
    "/dashboard/conversions",
    "/dashboard/coverage",
] + [f"/dashboard/checks?check={c}" for c in ("large", "duplicates", "no_field", "tech_over_amount")] + [
    f"/dashboard/reports?table=T{n}" for n in range(1, 11)]
EXPORTS = ["summary", "region", "month", "type", "field", "targets", "conversions", "coverage", "checks_large",
           "checks_duplicates", "checks_no_field", "checks_tech_over_amount"] + [f"T{n}" for n in range(1, 11)]
NOISE = re.compile(r'name="csrf[-_]token"[^>]*>')  # the per-request CSRF token


def snapshot(client) -> dict:
    out = {}
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 200, path
        out[path] = NOISE.sub("", resp.get_data(as_text=True))
    for table in EXPORTS:
        resp = client.get(f"/dashboard/export?table={table}&format=csv")
        assert resp.status_code == 200
        out[table + ".csv"] = resp.data
        resp = client.get(f"/dashboard/export?table={table}&format=xlsx")
        sheet = load_workbook(io.BytesIO(resp.data)).active
        out[table + ".xlsx"] = [[cell.value for cell in row] for row in sheet.iter_rows()]
    return out


def county_a_data(world):
    r, o, f = world.regions, world.orgs, world.fields
    ach = factories.achievement(owner=world.users.institution, field=f["materials"], status="published",
                                published_at=FROZEN_NOW)
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=Decimal("250000.00"), signed_on=date(YEAR, 1, 20),
                       field=f["materials"], achievement_id=ach.id)
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=Decimal("180000000.00"), signed_on=date(YEAR - 1, 12, 1))
    db.session.add(Target(region_id=r["town_a"].id, year=YEAR, metric="amount", value_amount=Decimal("80000000"),
                          set_by_id=world.users.official.id))
    db.session.commit()


def county_b_data(world):
    """Everything county B could leak: contracts (large, duplicate, without field, converting a result),
    a target, enterprises, listings, a deal."""
    r, o, f = world.regions, world.orgs, world.fields
    b_org = factories.org(region=r["town_b"], name="城关镇泄露测试企业")
    b_uni = factories.org(region=r["county_b"], org_type="institute", name="五河县泄露测试研究院")
    b_user = factories.user(role="institution", org=b_uni)
    ach = factories.achievement(owner=b_user, field=f["materials"], status="published", published_at=FROZEN_NOW,
                                title="五河县泄露测试成果")
    for day in (date(YEAR, 1, 5), date(YEAR, 1, 5), date(YEAR - 1, 12, 20), date(YEAR, 2, 1)):
        factories.contract(buyer=b_org, seller=b_uni, amount=Decimal("333333333.33"), signed_on=day,
                           title="五河县泄露测试合同", achievement_id=ach.id)
    factories.contract(buyer=o.ent_b, seller=b_org, amount=Decimal("4444.44"), signed_on=date(YEAR, 3, 3),
                       field=f["software"])
    factories.contract(buyer=o.ent_b, seller=o.uni, amount=Decimal("55555.55"), signed_on=date(YEAR, 1, 9))
    demand = factories.demand(owner=world.users.enterprise_b, field=f["materials"], status="published",
                              published_at=FROZEN_NOW, title="五河县泄露测试需求")
    db.session.add(Deal(demand_id=demand.id, achievement_id=ach.id, buyer_org_id=o.ent_b.id, seller_org_id=b_uni.id,
                        buyer_region_id=r["county_b"].id, seller_region_id=r["county_b"].id, stage="contacted",
                        created_at=FROZEN_NOW))
    db.session.add(Target(region_id=r["town_b"].id, year=YEAR, metric="amount", value_amount=Decimal("1"),
                          set_by_id=world.users.official_b.id))
    db.session.commit()


def test_county_b_changes_nothing_that_county_a_sees(world, login_as):
    county_a_data(world)
    client = login_as("official")
    before = snapshot(client)
    county_b_data(world)
    after = snapshot(client)
    for key in before:
        assert before[key] == after[key], f"county B data leaks into {key}"
    text = "".join(v if isinstance(v, str) else repr(v) for v in after.values())
    assert "泄露测试" not in text and "五河县" not in text
    # and the test can fail: the city official does see county B
    city = snapshot(login_as("city_official"))
    assert any("泄露测试" in (v if isinstance(v, str) else repr(v)) for v in city.values())
    assert before["/dashboard/"] != city["/dashboard/"]


@pytest.mark.parametrize("target", ["county_b", "town_b", "city"])
def test_foreign_region_parameter_is_refused_everywhere(world, login_as, target):
    county_b_data(world)
    client = login_as("official")
    region_id = world.regions[target].id
    for path in PAGES:
        joiner = "&" if "?" in path else "?"
        resp = client.get(f"{path}{joiner}region={region_id}")
        assert resp.status_code == 403, path
        assert "泄露测试" not in resp.get_data(as_text=True)
    for table in EXPORTS:
        for fmt in ("csv", "xlsx"):
            resp = client.get(f"/dashboard/export?table={table}&format={fmt}&region={region_id}")
            assert resp.status_code == 403, (table, fmt)
    assert client.get(f"/dashboard/targets/{region_id}").status_code == 404
    assert post(client, f"/dashboard/targets/{region_id}", {"amount": "1"}).status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(Target)) == 1  # only B's own target


def test_own_sub_region_parameter_is_allowed(world, login_as):
    county_a_data(world)
    client = login_as("official")
    resp = client.get(f"/dashboard/?region={world.regions['town_a'].id}")
    assert resp.status_code == 200 and "数据看板 · 榴城镇" in resp.get_data(as_text=True)
    # the breadcrumb starts at the official's own county, never above it
    crumbs = resp.get_data(as_text=True).split('id="dash-breadcrumb"')[1].split("</ol>")[0]
    assert "怀远县" in crumbs and "蚌埠市" not in crumbs


def test_city_official_may_look_at_both_counties(world, login_as):
    county_b_data(world)
    client = login_as("city_official")
    resp = client.get(f"/dashboard/?region={world.regions['county_b'].id}")
    assert resp.status_code == 200 and "数据看板 · 五河县" in resp.get_data(as_text=True)
    checks = client.get(f"/dashboard/checks?check=duplicates&region={world.regions['county_b'].id}")
    assert "五河县泄露测试合同" in checks.get_data(as_text=True)


def test_admin_sees_everything(world, login_as):
    county_b_data(world)
    resp = login_as("admin").get(f"/dashboard/checks?check=duplicates&period=range&start={YEAR - 1}-01-01&end={YEAR}-12-31")
    assert resp.status_code == 200 and "五河县泄露测试合同" in resp.get_data(as_text=True)
