"""数据看板: access, figures on the page, drill-down, periods, targets, conversions, coverage, checks, exports."""
from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from market.dashboard import queries, stats
from market.dashboard.exports import escape_cell
from market.extensions import db
from market.models import ContractMonthStat, Deal, Interest, Region, Target
from tests import factories
from tests.helpers import FROZEN_NOW, FROZEN_TODAY, form_token, login, post

pytestmark = pytest.mark.usefixtures("frozen_today")  # the pages' default year, quarter, month and pace
YEAR = FROZEN_TODAY.year
PAGES = ["/dashboard/", "/dashboard/targets", "/dashboard/conversions", "/dashboard/coverage", "/dashboard/checks",
         "/dashboard/export?table=summary&format=csv"]


def D(text: str) -> Decimal:
    return Decimal(text)


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def day(month: int = 3, d: int = 15, year: int = YEAR) -> date:
    return date(year, month, d)


# --- access ----------------------------------------------------------------------------------------------

def test_anonymous_is_sent_to_sign_in(client, world):
    for path in PAGES:
        for method in (client.get, client.head):
            resp = method(path)
            assert resp.status_code == 302 and "/login" in resp.headers["Location"], (path, resp.status_code)
        assert client.post(path).status_code == 405, path  # a GET-only URL, before sign-in and CSRF are looked at


@pytest.mark.parametrize("role", ["enterprise", "enterprise_b", "institution", "broker", "unverified"])
def test_other_roles_are_refused(world, login_as, role):
    c = login_as(role)
    for path in PAGES + [f"/dashboard/targets/{world.regions['town_a'].id}"]:
        assert c.get(path).status_code == 403, path
    assert post(c, f"/dashboard/targets/{world.regions['town_a'].id}", {"amount": "1"}).status_code == 403


@pytest.mark.parametrize("role", ["official", "official_b", "city_official", "admin"])
def test_officials_and_admins_see_every_page(login_as, role):
    c = login_as(role)
    for path in PAGES:
        assert c.get(path).status_code == 200, path


def test_official_without_region_is_refused(app, world, client):
    factories.user(role="official", username="official_none")
    db.session.commit()
    login(client, "official_none")
    resp = client.get("/dashboard/")
    assert resp.status_code == 403 and "管辖区域" in text_of(resp)


def test_nav_links_to_the_dashboard_for_officials_only(login_as):
    assert "数据看板" in text_of(login_as("official").get("/"))
    assert "数据看板" not in text_of(login_as("enterprise").get("/"))


# --- figures on the page ----------------------------------------------------------------------------------

def test_overview_shows_both_sides_last_year_and_growth(world, login_as):
    o = world.orgs
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("1000000.00"), tech_amount=D("800000.00"), signed_on=day())
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("500000.00"), signed_on=day(year=YEAR - 1))
    factories.contract(buyer=o.uni, seller=o.ent_a, amount=D("30000.00"), signed_on=day())
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("99999.99"), signed_on=day(), voided=True)
    page = text_of(login_as("official").get("/dashboard/"))
    buyer = page.split('id="kpi-buyer"')[1].split('id="kpi-seller"')[0]
    seller = page.split('id="kpi-seller"')[1].split("</section>")[0]
    assert "1份" in buyer and "100.00万元" in buyer and "80.00万元" in buyer  # voided contract not counted
    assert "去年同期 <span class=\"wan\" title=\"500,000.00元\">50.00万元" in buyer and "+100.0%" in buyer
    assert "3.00万元" in seller and "去年同期 0份" in seller and "—" in seller  # no growth rate against 0


def test_contract_inside_the_region_counts_on_both_sides_and_page_says_so(world, login_as):
    o = world.orgs
    other = factories.org(region=world.regions["county_a"], org_type="enterprise", name="怀远乙公司")
    factories.contract(buyer=o.ent_a, seller=other, amount=D("12345.67"), signed_on=day())
    page = text_of(login_as("official").get("/dashboard/"))
    # 万元 with two decimals, the exact yuan in the tooltip
    assert 'title="12,345.67元">1.23万元' in page.split('id="kpi-buyer"')[1].split('id="kpi-seller"')[0]
    assert 'title="12,345.67元">1.23万元' in page.split('id="kpi-seller"')[1].split("</section>")[0]
    both = page.split('id="dash-both-sides"')[1].split("</p>")[0]
    assert "1 份" in both and "同时计入吸纳和输出" in both


def test_drill_down_city_county_town(world, login_as):
    o = world.orgs
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("200000.00"), signed_on=day())
    factories.contract(buyer=o.ent_b, seller=o.uni, amount=D("70000.00"), signed_on=day())
    c = login_as("city_official")
    page = text_of(c.get("/dashboard/"))
    table = page.split('id="table-region"')[1].split("</table>")[0]
    county_a = world.regions["county_a"]
    link = re.search(r'href="([^"]*region=%d[^"]*)"' % county_a.id, table)
    assert link and "怀远县" in table and "五河县" in table and "20" in table
    page = text_of(c.get(link.group(1).replace("&amp;", "&")))
    assert "数据看板 · 怀远县" in page
    table = page.split('id="table-region"')[1].split("</table>")[0]
    assert "榴城镇" in table and "五河县" not in table and "城关镇" not in table
    town_link = re.search(r'href="([^"]*region=%d[^"]*)"' % world.regions["town_a"].id, table)
    assert town_link
    assert "数据看板 · 榴城镇" in text_of(c.get(town_link.group(1).replace("&amp;", "&")))
    # the breadcrumb leads back up
    assert 'href="/dashboard/?region=%d"' % county_a.id in text_of(c.get(town_link.group(1).replace("&amp;", "&")))


def test_county_contracts_of_the_region_itself_get_their_own_row(world, login_as):
    county_org = factories.org(region=world.regions["county_a"], name="怀远县本级企业")
    factories.contract(buyer=county_org, seller=world.orgs.uni, amount=D("5000.00"), signed_on=day())
    page = text_of(login_as("official").get("/dashboard/"))
    assert "怀远县（本级）" in page.split('id="table-region"')[1]


@pytest.mark.parametrize("query", [
    "?period=quarter&year=%d&quarter=1" % YEAR,
    "?period=month&year=%d&month=3" % YEAR,
    "?period=range&start=%d-03-01&end=%d-03-31" % (YEAR, YEAR),
])
def test_periods_select_the_right_contracts(world, login_as, query):
    o = world.orgs
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("11.11"), signed_on=day(3, 10))
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("22.22"), signed_on=day(5, 10))
    page = text_of(login_as("official").get("/dashboard/" + query))
    buyer = page.split('id="kpi-buyer"')[1].split('id="kpi-seller"')[0]
    assert 'title="11.11元"' in buyer and 'title="33.33元"' not in buyer and 'title="22.22元"' not in buyer


@pytest.mark.parametrize("start, end", [
    ((3, 3), (5, 28)),  # the first month mostly inside: summary month minus 3 March .. 2 March's days before
    ((3, 20), (5, 4)),  # both ends mostly outside: read from the contracts table
    ((3, 1), (3, 29)),  # one month, ending near its end
    ((3, 3), (3, 31)),  # one month, starting near its start
    ((3, 3), (3, 29)),  # inside one month, touching neither end
])
def test_custom_range_edges_count_exactly_the_days_inside(world, start, end):
    """Partial months are read either straight or as the summary month minus the days outside the range."""
    o, r = world.orgs, world.regions
    days = [(3, 1), (3, 2), (3, 3), (3, 19), (3, 20), (3, 29), (3, 30), (3, 31), (4, 15), (5, 1), (5, 4), (5, 5),
            (5, 28), (5, 31)]
    amounts = {}
    for i, (m, d) in enumerate(days):
        amount = D(f"{i + 1}0000.{i + 1:02d}")
        amounts[(m, d)] = amount
        factories.contract(buyer=o.ent_a, seller=o.uni, amount=amount, signed_on=day(m, d),
                           contract_type="service" if i % 2 else "development",
                           field=world.fields["materials"] if i % 3 else None)
        factories.contract(buyer=o.ent_b, seller=o.ent_a, amount=amount + 1, signed_on=day(m, d))  # B -> A
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("99999.99"), signed_on=day(3, 30), voided=True)
    db.session.commit()
    period = stats.Period.between(day(*start), day(*end))
    inside = [a for (m, d), a in amounts.items() if day(*start) <= day(m, d) <= day(*end)]
    for key in ("county_a", "city"):
        scope = db.session.get(Region, r[key].id)
        for use_summary in (True, False):
            total = stats.totals(scope=scope, period=period, use_summary=use_summary)
            assert total["b"].n == (2 * len(inside) if key == "city" else len(inside))
            expected = sum(inside, D("0.00")) + (sum(inside, D("0.00")) + len(inside) if key == "city" else 0)
            assert total["b"].amount == expected
        for by in ("type", "field", "month", "region"):
            assert [(x.key, x.sides) for x in stats.breakdown(by, scope=scope, period=period)] == \
                [(x.key, x.sides) for x in stats.breakdown(by, scope=scope, period=period, use_summary=False)], by


ODD_QUERIES = [
    "?period=xyz", "?year=abc", "?year=99999", "?period=range&start=2025-13-01&end=x",
    "?period=range&start=2025-05-01&end=2025-01-01", "?region=abc", "?region=", "?region=%00",
    "?quarter=9&period=quarter", "?month=0&period=month", "?page=-1", "?page=99999999999",
    "?period=range&start=１２&end=2025-01-01", "?year=２０２５", "?check=%3Cscript%3E", "?metric=x",
    "?period=range&start=1900-01-01&end=2100-12-31",
]


def test_odd_parameters_still_give_a_page(login_as):
    c = login_as("official")
    for query in ODD_QUERIES:
        for path in ("/dashboard/", "/dashboard/targets", "/dashboard/checks", "/dashboard/coverage",
                     "/dashboard/conversions"):
            resp = c.get(path + query)
            assert resp.status_code == 200, (path, query, resp.status_code)


def test_unknown_region_is_404(login_as):
    assert login_as("official").get("/dashboard/?region=999999").status_code == 404


def test_chart_data_is_in_json_blocks_and_no_inline_script(world, login_as):
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=D("1.00"), signed_on=day())
    page = text_of(login_as("city_official").get("/dashboard/"))
    blocks = re.findall(r'<script type="application/json" id="(chart-[a-z]+)">', page)
    assert set(blocks) == {"chart-region", "chart-month", "chart-type", "chart-field"}
    for chart_id in blocks:
        assert f'data-chart="{chart_id}"' in page  # every chart ...
        assert f'id="table-{chart_id[6:]}"' in page  # ... has its table
    scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", page)
    assert scripts == []
    assert "onclick" not in page and 'style="' not in page


def test_everything_counts_contracts_between_two_cities_once(world):
    """An administrator's "all regions": a contract between two cities counts once, on each city's own side."""
    other = Region(code="340100", name="合肥市", level="city", parent_id=None)
    db.session.add(other)
    db.session.flush()
    other.path = f"/{other.id}/"
    hefei_uni = factories.org(region=other, org_type="university", name="合肥测试大学")
    factories.contract(buyer=world.orgs.ent_a, seller=hefei_uni, amount=D("10.00"), signed_on=day())
    db.session.commit()
    for use_summary in (True, False):
        for period in (stats.Period.year(YEAR), stats.Period.between(day(3, 2), day(3, 20))):
            total = stats.totals(scope=None, period=period, use_summary=use_summary)
            assert [(total[s].n, total[s].amount) for s in "bsie"] == [(1, D("10.00"))] * 4
            rows = {r.name: r for r in stats.by_region(scope=None, period=period, use_summary=use_summary)}
            assert (rows["蚌埠市"]["b"].n, rows["蚌埠市"]["s"].n, rows["蚌埠市"]["e"].n) == (1, 0, 1)
            assert (rows["合肥市"]["b"].n, rows["合肥市"]["s"].n, rows["合肥市"]["i"].n) == (0, 1, 0)


# --- summary table upkeep --------------------------------------------------------------------------------

def test_summary_follows_edits_voids_deletes_and_tree_changes(world):
    o = world.orgs
    c1 = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("100.10"), signed_on=day(1, 31),
                            field=world.fields["materials"])
    c2 = factories.contract(buyer=o.ent_b, seller=o.ent_a, amount=D("7.77"), signed_on=day(2, 1))
    db.session.commit()
    assert stats.summary_drift() == []
    c1.amount, c1.tech_amount, c1.signed_on = D("200.00"), D("150.00"), day(6, 1)
    c1.field_id = world.fields["software"].id
    db.session.commit()
    assert stats.summary_drift() == []
    c2.voided = True
    db.session.commit()
    assert stats.summary_drift() == []
    c2.voided = False
    c2.seller_region_id = world.regions["town_b"].id
    db.session.commit()
    assert stats.summary_drift() == []
    db.session.delete(c2)
    db.session.commit()
    assert stats.summary_drift() == []
    # moving town A from county A to county B through the admin service changes which region holds both parties
    from market.admin.services import region_update

    town = world.regions["town_a"]
    factories.contract(buyer=o.ent_a, seller=o.ent_b, amount=D("1.00"), signed_on=day(2, 2))
    db.session.commit()
    region_update(region=town, code=town.code, name=town.name, level="town", parent_id=world.regions["county_b"].id)
    db.session.commit()
    assert stats.summary_drift() == []
    inside_b = stats.totals(scope=db.session.get(Region, world.regions["county_b"].id), period=stats.Period.year(YEAR))
    assert inside_b["i"].n == 1  # now both parties are in county B


def test_summary_follows_bulk_statements(world):
    """Core executemany, one multi-row INSERT, set-wide UPDATE and DELETE: no ORM event involved."""
    table = ContractMonthStat.metadata.tables["contracts"]
    r, o = world.regions, world.orgs
    regions = [r["city"], r["county_a"], r["town_a"], r["county_b"], r["town_b"]]

    def row(i):
        return {"registration_no": f"BULK{i:05d}", "title": f"批量合同{i}", "contract_type": "service", "subtype": "",
                "buyer_org_id": o.ent_a.id, "seller_org_id": o.uni.id, "buyer_region_id": regions[i % 5].id,
                "seller_region_id": regions[(i * 3) % 5].id, "amount": D(i) + D("0.37"), "tech_amount": D(i),
                "signed_on": date(YEAR - 1 + i % 2, 1 + i % 12, 1 + i % 28), "field_id": world.fields["software"].id if i % 4 else None,
                "voided": False, "recorded_by_id": world.users.admin.id, "source": "import"}

    db.session.execute(table.insert(), [row(i) for i in range(40)])
    db.session.execute(table.insert().values([row(i) for i in range(40, 70)]))
    db.session.commit()
    assert stats.summary_drift() == []
    db.session.execute(table.update().where(table.c.id % 3 == 0).values(voided=True))
    db.session.execute(table.update().where(table.c.id % 5 == 1).values(
        amount=table.c.amount + 1, tech_amount=table.c.tech_amount + 1, buyer_region_id=r["town_b"].id))
    db.session.execute(table.update().values(title="改名不影响统计"))
    db.session.execute(table.delete().where(table.c.id % 7 == 2))
    db.session.commit()
    assert stats.summary_drift() == []
    total = stats.totals(scope=None, period=stats.Period.between(date(YEAR - 1, 1, 1), date(YEAR, 12, 31)))
    live = db.session.execute(db.select(db.func.count(), db.func.sum(table.c.amount)).where(table.c.voided == False)).one()  # noqa: E712
    assert (total["b"].n, total["b"].amount) == (live[0], live[1])


def test_summary_is_written_in_the_same_transaction(world):
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=D("5.00"), signed_on=day())
    assert db.session.scalar(db.select(db.func.count()).select_from(ContractMonthStat)) > 0
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(ContractMonthStat)) == 0


# --- targets ---------------------------------------------------------------------------------------------

def _target_form(**values):
    data = {"amount": "", "tech_amount": "", "count": "", "conversions": "", "form_token": form_token()}
    data.update(values)
    return data


def test_city_official_sets_a_town_target(world, login_as):
    c = login_as("city_official")
    town = world.regions["town_a"]
    resp = post(c, f"/dashboard/targets/{town.id}?year={YEAR}", _target_form(amount="8000", count="12"))
    assert resp.status_code == 302
    rows = {t.metric: t for t in db.session.scalars(db.select(Target).where(Target.region_id == town.id))}
    assert rows["amount"].value_amount == D("80000000.00") and rows["count"].value_count == 12
    assert set(rows) == {"amount", "count"} and rows["amount"].set_by_id == world.users.city_official.id
    # emptying a field removes that target
    resp = post(c, f"/dashboard/targets/{town.id}?year={YEAR}", _target_form(amount="8000.5"))
    assert resp.status_code == 302
    rows = {t.metric: t for t in db.session.scalars(db.select(Target).where(Target.region_id == town.id))}
    assert set(rows) == {"amount"} and rows["amount"].value_amount == D("80005000.00")


def test_who_may_set_which_target(world, login_as):
    r = world.regions
    official = login_as("official")
    assert post(official, f"/dashboard/targets/{r['town_a'].id}", _target_form(amount="1")).status_code == 302
    assert post(official, f"/dashboard/targets/{r['county_a'].id}", _target_form(amount="1")).status_code == 403
    assert post(official, f"/dashboard/targets/{r['town_b'].id}", _target_form(amount="1")).status_code == 404
    assert official.get(f"/dashboard/targets/{r['county_b'].id}").status_code == 404
    city = login_as("city_official")
    assert post(city, f"/dashboard/targets/{r['county_b'].id}", _target_form(amount="2")).status_code == 302
    assert post(city, f"/dashboard/targets/{r['city'].id}", _target_form(amount="2")).status_code == 403
    assert post(login_as("admin"), f"/dashboard/targets/{r['city'].id}", _target_form(amount="3")).status_code == 302
    assert post(login_as("broker"), f"/dashboard/targets/{r['town_a'].id}", _target_form(amount="3")).status_code == 403
    stored = {(t.region_id, t.value_amount) for t in db.session.scalars(db.select(Target))}
    assert stored == {(r["town_a"].id, D("10000.00")), (r["county_b"].id, D("20000.00")), (r["city"].id, D("30000.00"))}


@pytest.mark.parametrize("values, message", [
    ({"amount": "-1"}, "不能为负数"),
    ({"amount": "NaN"}, "金额格式不正确"),
    ({"amount": "1e309"}, "金额格式不正确"),
    ({"amount": "１２"}, "半角数字"),
    ({"amount": "1.0000001"}, "最多保留6位小数"),
    ({"count": "1.5"}, "整数"),
    ({"count": "-3"}, "整数"),
    ({"conversions": "99999999999"}, "整数"),
])
def test_bad_target_values_are_refused_and_nothing_is_stored(world, login_as, values, message):
    c = login_as("official")
    resp = post(c, f"/dashboard/targets/{world.regions['town_a'].id}?year={YEAR}", _target_form(**values))
    assert resp.status_code == 400 and message in text_of(resp)
    assert db.session.scalar(db.select(db.func.count()).select_from(Target)) == 0


def test_target_page_without_csrf_token_changes_nothing(world, login_as):
    c = login_as("official")
    resp = c.post(f"/dashboard/targets/{world.regions['town_a'].id}", data=_target_form(amount="5"))
    assert resp.status_code == 400
    assert db.session.scalar(db.select(db.func.count()).select_from(Target)) == 0


def test_journey_target_then_contract_moves_progress_by_exactly_its_amount(world, login_as):
    """A city official sets a town's target, a broker records a contract in that town, progress moves."""
    town = world.regions["town_a"]
    city = login_as("city_official")
    assert post(city, f"/dashboard/targets/{town.id}?year={YEAR}", _target_form(amount="8000")).status_code == 302
    board_url = f"/dashboard/targets?region={world.regions['county_a'].id}&year={YEAR}"

    def town_cell():
        page = text_of(city.get(board_url))
        row = page.split(f'data-region="{town.id}"')[1].split("</tr>")[0]
        return row

    before = town_cell()
    assert "0.00万元</span> / <span class=\"wan\" title=\"80,000,000.00元\">8,000.00万元" in before and "0.0%" in before
    broker = login_as("broker")
    form = text_of(broker.get("/contracts/new"))
    token = re.search(r'name="form_token" type="hidden" value="([^"]+)"', form) or re.search(
        r'name="form_token" value="([^"]+)"', form)
    resp = post(broker, "/contracts/new", {
        "form_token": token.group(1) if token else "",
        "registration_no": "2026340321000123",
        "title": "导电膜镀膜工艺技术开发",
        "contract_type": "development",
        "subtype": "commissioned",
        "buyer_name": world.orgs.ent_a.name,
        "seller_name": world.orgs.uni.name,
        "buyer_region_id": town.id,
        "seller_region_id": world.regions["city"].id,
        "amount": "1234567.89",
        "tech_amount": "1000000.00",
        "signed_on": FROZEN_TODAY.isoformat(),
        "field_id": world.fields["materials"].id,
    })
    assert resp.status_code == 302, text_of(resp)[:2000]
    after = town_cell()
    assert 'title="1,234,567.89元">123.46万元</span> / <span class="wan" title="80,000,000.00元">8,000.00万元' in after
    board = queries.target_board(scope=db.session.get(Region, world.regions["county_a"].id), year=YEAR)
    progress = {row.region.id: row.progress["amount"] for row in board.rows}[town.id]
    assert progress.actual == D("1234567.89") and progress.target == D("80000000.00")


def test_ranking_orders_sub_regions_by_completion_and_pace(world, login_as):
    r, o = world.regions, world.orgs
    for key, wan in (("county_a", "100"), ("county_b", "10")):
        db.session.add(Target(region_id=r[key].id, year=YEAR, metric="amount", value_amount=D(wan) * 10000,
                              set_by_id=world.users.city_official.id))
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("100000.00"), signed_on=day(1, 5))  # A: 10%
    factories.contract(buyer=o.ent_b, seller=o.uni, amount=D("50000.00"), signed_on=day(1, 5))  # B: 50%
    db.session.commit()
    board = queries.target_board(scope=db.session.get(Region, r["city"].id), year=YEAR, today=date(YEAR, 2, 1))
    assert [row.region.name for row in board.rows] == ["五河县", "怀远县"]
    assert [row.rank for row in board.rows] == [1, 2]
    b, a = (row.progress["amount"] for row in board.rows)
    assert b.rate == D("50.0") and a.rate == D("10.0")
    share = queries.elapsed_share(YEAR, date(YEAR, 2, 1))  # 32 days: 8.8% of the year
    assert a.expected == (D("1000000") * share).quantize(D("0.01")) and a.ahead is True and b.ahead is True
    board = queries.target_board(scope=db.session.get(Region, r["city"].id), year=YEAR, today=date(YEAR, 3, 1))
    b, a = (row.progress["amount"] for row in board.rows)
    assert a.ahead is False and b.ahead is True  # 60 days: 16.4% of the year
    page = text_of(login_as("city_official").get("/dashboard/targets"))
    assert page.index("五河县") < page.index('data-region="%d"' % r["county_a"].id)


def test_today_is_the_today_setting_when_given(app, login_as):
    """The seam these tests freeze the date with: every default of the pages follows it."""
    assert queries.today() == FROZEN_TODAY
    c = login_as("official")
    assert re.search(r'id="f-year"[^>]*value="2025"', text_of(c.get("/dashboard/")))
    assert '<option value="2" selected>第2季度' in text_of(c.get("/dashboard/?period=quarter"))  # June
    assert '<option value="6" selected>6月' in text_of(c.get("/dashboard/?period=month"))
    app.config["TODAY"] = "2024-12-31"
    assert queries.today() == date(2024, 12, 31) and queries.elapsed_share(2024) == 1
    del app.config["TODAY"]
    before = date.today()
    assert before <= queries.today() <= date.today()  # the server's date (a run may cross midnight)


def test_elapsed_share():
    assert queries.elapsed_share(2024, date(2025, 1, 1)) == 1
    assert queries.elapsed_share(2026, date(2025, 1, 1)) == 0
    assert queries.elapsed_share(2025, date(2025, 12, 31)) == 1
    assert queries.elapsed_share(2024, date(2024, 1, 1)) == D(1) / D(366)


def test_own_targets_shown_on_overview(world, login_as):
    db.session.add(Target(region_id=world.regions["county_a"].id, year=YEAR, metric="count", value_count=4,
                          set_by_id=world.users.city_official.id))
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=D("1.00"), signed_on=day())
    page = text_of(login_as("official").get("/dashboard/"))
    own = page.split('id="dash-own-targets"')[1].split("</section>")[0]
    assert "1份 / 目标 4份" in own and "完成 25.0%" in own


def test_the_pace_is_an_estimate_in_whole_hundreds_and_the_actual_stays_exact(world, login_as):
    db.session.add(Target(region_id=world.regions["county_a"].id, year=YEAR, metric="amount",
                          value_amount=D("80000000.00"), set_by_id=world.users.city_official.id))
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=D("1234567.89"), signed_on=day())
    page = text_of(login_as("official").get("/dashboard/"))
    own = page.split('id="dash-own-targets"')[1].split("</section>")[0]
    assert 'title="1,234,567.89元">123.46万元</span> / 目标 <span class="wan" title="80,000,000.00元">8,000.00万元' in own
    pace = re.search(r"按时间进度应完成约 ([0-9.,]+)万元", own).group(1)
    assert re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}", pace), pace


# --- conversions, funnel, coverage, checks ----------------------------------------------------------------

def test_conversions_count_distinct_results(world, login_as):
    o = world.orgs
    a1 = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
    a2 = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published",
                               title="另一项成果的名称")
    factories.contract(buyer=o.ent_a, seller=o.uni, signed_on=day(), achievement_id=a1.id)
    factories.contract(buyer=o.ent_a, seller=o.uni, signed_on=day(4, 1), achievement_id=a1.id)
    factories.contract(buyer=o.ent_b, seller=o.uni, signed_on=day(), achievement_id=a2.id)
    factories.contract(buyer=o.ent_a, seller=o.uni, signed_on=day(), achievement_id=a2.id, voided=True)
    county_a = db.session.get(Region, world.regions["county_a"].id)
    assert stats.conversions(scope=county_a, period=stats.Period.year(YEAR)) == {"b": 1, "s": 0, "e": 1}
    city = db.session.get(Region, world.regions["city"].id)
    assert stats.conversions(scope=city, period=stats.Period.year(YEAR)) == {"b": 2, "s": 2, "e": 2}
    page = text_of(login_as("official").get("/dashboard/conversions"))
    assert 'id="conversions-e">1项' in page


def test_funnel_counts_each_step_in_scope(world, login_as):
    from market.models import Suggestion

    demand = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                              published_at=FROZEN_NOW)
    factories.demand(owner=world.users.enterprise_b, field=world.fields["materials"], status="published",
                     published_at=FROZEN_NOW, title="五河县企业的技术需求")
    ach = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published",
                                published_at=FROZEN_NOW)
    db.session.add(Suggestion(demand_id=demand.id, achievement_id=ach.id, score=0.5, created_at=FROZEN_NOW))
    db.session.add(Interest(kind="solution", demand_id=demand.id, from_org_id=world.orgs.uni.id,
                            from_user_id=world.users.institution.id, to_org_id=world.orgs.ent_a.id,
                            created_at=FROZEN_NOW))
    deal = Deal(demand_id=demand.id, achievement_id=ach.id, buyer_org_id=world.orgs.ent_a.id,
                seller_org_id=world.orgs.uni.id, buyer_region_id=world.regions["town_a"].id,
                seller_region_id=world.regions["city"].id, stage="signed", source="suggestion", created_at=FROZEN_NOW)
    db.session.add(deal)
    db.session.flush()
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, signed_on=FROZEN_TODAY, deal_id=deal.id)
    county_a = db.session.get(Region, world.regions["county_a"].id)
    steps = {key: n for key, _label, n in queries.funnel(scope=county_a, period=stats.Period.year(YEAR))}
    # the funnel counts listings: the county's need reached every step (its 揭榜 answer included)
    assert steps == {"listings": 1, "suggestions": 1, "interests": 1, "deals": 1, "signed": 1}
    page = text_of(login_as("official").get("/dashboard/conversions"))
    assert 'data-step="deals"' in page and 'id="chart-funnel"' in page


def test_coverage_share_and_uncovered_list(world, login_as):
    r, o = world.regions, world.orgs
    covered = factories.org(region=r["town_a"], name="已签约企业")
    dealt = factories.org(region=r["town_a"], name="已对接企业")
    factories.org(region=r["town_a"], name="=HYPERLINK(\"x\")未覆盖企业")
    factories.contract(buyer=covered, seller=o.uni, signed_on=day())
    db.session.add(Deal(achievement_id=factories.achievement(owner=world.users.institution,
                                                             field=world.fields["materials"]).id,
                        buyer_org_id=dealt.id, seller_org_id=o.uni.id, stage="negotiating", created_at=FROZEN_NOW))
    factories.contract(buyer=o.ent_a, seller=covered, signed_on=day())  # enterprise to enterprise: not 产学研
    db.session.commit()
    county_a = db.session.get(Region, r["county_a"].id)
    summary = queries.coverage_summary(scope=county_a, period=stats.Period.year(YEAR))
    # ent_a, covered, dealt, the formula-named one (the unverified org does not count)
    assert (summary.enterprises, summary.covered, summary.rate) == (4, 2, D("50.0"))
    c = login_as("official")
    page = text_of(c.get("/dashboard/coverage"))
    listed = page.split('id="table-uncovered"')[1].split("</table>")[0]
    assert o.ent_a.name in listed and "未覆盖企业" in listed and "已签约企业" not in listed and "已对接企业" not in listed
    assert "共 2 条" in page  # the pager's total is the uncovered count
    assert o.ent_b.name not in listed
    rows = list(csv.reader(io.StringIO(c.get("/dashboard/export?table=coverage&format=csv").data.decode("utf-8-sig"))))
    assert ["'=HYPERLINK(\"x\")未覆盖企业"] == [row[0] for row in rows[7:] if "未覆盖企业" in row[0]]


def test_data_checks_list_each_kind(world, login_as, app):
    o = world.orgs
    app.config["DASHBOARD_LARGE_CONTRACT_YUAN"] = "50000000"
    big = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("60000000.00"), signed_on=day(), title="大额合同")
    d1 = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("888.00"), signed_on=day(2, 2), title="重复甲")
    d2 = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("888.00"), signed_on=day(2, 2), title="重复乙")
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("888.00"), signed_on=day(2, 3), title="不同日")
    factories.contract(buyer=o.ent_b, seller=o.uni, amount=D("77000000.00"), signed_on=day(), title="五河大额")
    county_a = db.session.get(Region, world.regions["county_a"].id)
    period = stats.Period.year(YEAR)
    counts = queries.check_counts(scope=county_a, period=period)
    assert counts == {"tech_over_amount": 0, "large": 1, "duplicates": 2, "no_field": 4, "foreign": 0,
                      "legal_form_mismatch": 0, "tech_no_worksheet": 0}
    assert [c.id for c in db.session.scalars(queries.check_list("duplicates", scope=county_a, period=period))] == [d1.id, d2.id]
    c = login_as("official")
    page = text_of(c.get("/dashboard/checks?check=large"))
    assert "大额合同" in page and "五河大额" not in page and 'id="check-count-duplicates">2<' in page
    page = text_of(c.get("/dashboard/checks?check=duplicates"))
    assert "重复甲" in page and "重复乙" in page and "不同日" not in page
    assert "共 2 条" in page  # the pager's total is the count on the tab
    assert "共 4 条" in text_of(c.get("/dashboard/checks?check=no_field"))
    assert big.id


# --- exports ---------------------------------------------------------------------------------------------

def test_escape_cell():
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert escape_cell(bad) == "'" + bad
    assert escape_cell("蚌埠") == "蚌埠" and escape_cell(5) == 5 and escape_cell(D("-1.00")) == D("-1.00")


@pytest.mark.parametrize("table", ["summary", "region", "month", "type", "field", "targets", "conversions",
                                   "coverage", "checks_large", "checks_duplicates", "checks_no_field",
                                   "checks_tech_over_amount"])
def test_every_table_exports_to_xlsx_and_csv(world, login_as, table):
    evil = factories.org(region=world.regions["town_a"], name="=cmd|' /C calc'!A0")
    factories.contract(buyer=evil, seller=world.orgs.uni, amount=D("123456789.01"), signed_on=day(), title="@危险标题")
    c = login_as("official")
    resp = c.get(f"/dashboard/export?table={table}&format=xlsx")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(resp.data)).active
    cells = [cell.value for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert cells
    assert not any(isinstance(v, str) and v[:1] and v[0] in "=+-@\t" for v in cells)
    resp = c.get(f"/dashboard/export?table={table}&format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert not any(v[:1] and v[0] in "=+-@\t" for row in rows for v in row)
    if table == "region":
        total = [row for row in rows if row and row[0] == "合计"][0]
        assert total[1:6] == ["1", "12345.68", "123456789.01", "12345.68", "123456789.01"]
    if table == "checks_large":
        assert any("'=cmd|' /C calc'!A0" in row for row in rows)


def test_export_refuses_unknown_tables_and_formats(login_as):
    c = login_as("official")
    assert c.get("/dashboard/export?table=nope&format=csv").status_code == 404
    resp = c.get("/dashboard/export?table=summary&format=exe")
    assert resp.status_code == 400 and "导出格式无效" in text_of(resp)


def test_export_amounts_are_exact_in_xlsx(world, login_as):
    for amount in ("0.01", "99999999999.99", "12345.67"):
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=D(amount), signed_on=day())
    resp = login_as("official").get("/dashboard/export?table=type&format=xlsx")
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    headers = [cell.value for cell in sheet[sheet.freeze_panes[1:] and int(sheet.freeze_panes[1:]) - 1]]
    assert headers[2:4] == ["吸纳成交额（万元）", "吸纳成交额（元）"]
    assert D(str(rows["合计"][2].value)) == D("10000001.23")  # 万元, two decimals, rounded half up
    assert D(str(rows["合计"][3].value)) == D("100000012345.67")  # the exact 元 beside it
    assert rows["合计"][1].value == 3 and rows["合计"][2].number_format == "#,##0.00"


def test_a_savepoint_rolled_back_after_a_region_move_still_rebuilds_the_summary(world):
    """A region moved, then a savepoint in the same transaction fails (a duplicate, say): the rows rolled up
    along the old tree are still recomputed when the transaction commits."""
    from market.admin.services import region_update

    o = world.orgs
    factories.contract(buyer=o.ent_a, seller=o.ent_b, amount=D("5.00"), signed_on=day(3, 3))
    db.session.commit()
    town = world.regions["town_a"]
    region_update(region=town, code=town.code, name=town.name, level="town", parent_id=world.regions["county_b"].id)
    db.session.flush()
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            raise RuntimeError("refused inside a savepoint")
    db.session.commit()
    assert stats.summary_drift() == []
    inside_b = stats.totals(scope=db.session.get(Region, world.regions["county_b"].id), period=stats.Period.year(YEAR))
    assert inside_b["i"].n == 1
