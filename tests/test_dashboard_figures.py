"""One figure, one number (issue 17 item 9): a figure shown on two tabs comes from one computation, and the
funnel's steps are nested, for every region."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D

from sqlalchemy import func, select

from market.dashboard import queries, stats
from market.extensions import db
from market.models import Deal, Interest, Region, Suggestion, Target
from tests import factories
from tests.helpers import FROZEN_NOW, FROZEN_TODAY

YEAR = FROZEN_TODAY.year


def _market(world):
    """Results converted by contracts in two counties, and targets of 成交额 only (no 成果转化 target: the case in
    which the overview once said 0项 while the 成果转化 tab said 2项)."""
    r, o, u = world.regions, world.orgs, world.users
    a1 = factories.achievement(owner=u.institution, field=world.fields["materials"], status="published",
                               published_at=FROZEN_NOW)
    a2 = factories.achievement(owner=u.institution, field=world.fields["materials"], status="published",
                               title="第二项成果的名称", published_at=FROZEN_NOW)
    factories.contract(buyer=o.ent_a, seller=o.uni, signed_on=date(YEAR, 3, 1), achievement_id=a1.id)
    factories.contract(buyer=o.ent_a, seller=o.uni, signed_on=date(YEAR, 4, 1), achievement_id=a2.id)
    factories.contract(buyer=o.ent_b, seller=o.uni, signed_on=date(YEAR, 4, 2), achievement_id=a2.id)
    for key in ("city", "county_a", "county_b", "town_a"):
        db.session.add(Target(region_id=r[key].id, year=YEAR, metric="amount", value_amount=D("1000000.00"),
                              set_by_id=u.admin.id))
    # a need whose deal was opened by a broker with no interest first, and one with a suggestion only
    need = factories.demand(owner=u.enterprise, field=world.fields["materials"], status="published",
                            published_at=FROZEN_NOW)
    other = factories.demand(owner=u.enterprise, field=world.fields["materials"], status="published",
                             published_at=FROZEN_NOW, title="第二项技术需求的名称")
    db.session.add(Suggestion(demand_id=other.id, achievement_id=a1.id, score=0.5, created_at=FROZEN_NOW))
    db.session.add(Suggestion(demand_id=need.id, achievement_id=a1.id, score=0.5, created_at=FROZEN_NOW))
    for _ in range(3):  # three deals on one need: a count of deals would be 3 against 0 interests
        db.session.add(Deal(demand_id=need.id, buyer_org_id=o.ent_a.id, seller_org_id=o.uni.id,
                            buyer_region_id=r["town_a"].id, seller_region_id=r["city"].id, stage="negotiating",
                            source="suggestion", created_at=FROZEN_NOW))
    db.session.add(Interest(kind="interest", achievement_id=a2.id, from_org_id=o.ent_b.id,
                            from_user_id=u.enterprise_b.id, to_org_id=o.uni.id, created_at=FROZEN_NOW))
    db.session.commit()


def _own_conversions(page: str) -> int:
    card = page.split('id="dash-own-targets"')[1].split("</section>")[0]
    block = card.split('data-metric="conversions"')[1]
    return int(re.search(r"<span>([0-9,]+)项", block).group(1).replace(",", ""))


def test_conversions_read_the_same_on_every_tab_for_every_region(world, login_as, frozen_today):
    _market(world)
    admin = login_as("admin")
    regions = {key: db.session.get(Region, world.regions[key].id) for key in ("city", "county_a", "county_b", "town_a")}
    seen = {}
    for key, region in regions.items():
        tab = admin.get(f"/dashboard/conversions?region={region.id}").get_data(as_text=True)
        on_tab = int(re.search(r'id="conversions-e">([0-9,]+)项', tab).group(1))
        overview = _own_conversions(admin.get(f"/dashboard/?region={region.id}").get_data(as_text=True))
        own_board = queries.target_board(scope=region, year=YEAR).own.progress["conversions"].actual
        assert on_tab == overview == own_board, key
        if region.parent_id is not None:  # the region's row in its parent's ranking
            parent = db.session.get(Region, region.parent_id)
            row = next(r for r in queries.target_board(scope=parent, year=YEAR).rows if r.region.id == region.id)
            assert row.progress["conversions"].actual == on_tab, key
        seen[key] = on_tab
    assert seen == {"city": 2, "county_a": 2, "county_b": 1, "town_a": 2}


def test_the_funnel_is_nested_in_every_region(world, login_as, frozen_today):
    _market(world)
    period = stats.Period.year(YEAR)
    for key in ("city", "county_a", "county_b", "town_a"):
        region = db.session.get(Region, world.regions[key].id)
        counts = [n for _key, _label, n in queries.funnel(scope=region, period=period)]
        assert all(later <= earlier for earlier, later in zip(counts, counts[1:])), (key, counts)
    city = db.session.get(Region, world.regions["city"].id)
    steps = {k: n for k, _label, n in queries.funnel(scope=city, period=period)}
    # 4 listings; the need with three deals but no interest or 揭榜 answer stops before 建立对接 (a count of deals
    # would show 3 against fewer interests: 300%)
    assert steps["listings"] == 4 and steps["deals"] == 0 and steps["signed"] == 0
    assert db.session.scalar(select(func.count()).select_from(Deal)) == 3
    page = login_as("admin").get(f"/dashboard/conversions?region={city.id}").get_data(as_text=True)
    shares = re.findall(r'data-step="[a-z]+"><td>[^<]*</td><td class="text-end">[0-9]+</td><td class="text-end">([^<]*)<', page)
    assert all(s == "—" or float(s.rstrip("%")) <= 100 for s in shares), shares
