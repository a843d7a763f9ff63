"""Issue 16 items 5 and 6: the report tables T1–T10 and the checks.

Every table's rows and 合计 equal an independent Decimal sum over the live contracts, computed here from the
specs (not read back from the database); the .xlsx has its title rows, 万元 and a frozen header; the CLI writes a
file and refuses bad arguments in Chinese; each check finds its planted contract and not a clean one; a county
official cannot get the city's tables. Hypothesis draws from the run's seed (printed by conftest.py).
"""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from market.contracts import regcodes
from market.data.reg_codes import LEGAL_FORMS
from market.dashboard import queries, reports, stats
from market.extensions import db
from market.models import CONTRACT_TYPES, Contract, Organization, Region
from tests import factories
from tests.helpers import fuzz_seed_hint, login

D = Decimal
# a failing example is reported as drawn: shrinking one with a dozen contracts took over five minutes here
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
CENT = D("0.01")
YEAR = 2025
REGION_KEYS = ("city", "county_a", "county_b", "town_a", "town_b")
SIDE_LABELS = {"b": "吸纳（买方在本区域）", "s": "输出（卖方在本区域）", "i": "区域内部（双方均在本区域）",
               "e": "涉及本区域（每份计一次）"}

amounts = st.one_of(st.integers(min_value=0, max_value=10**13), st.sampled_from([0, 1, 10**13])).map(
    lambda fen: D(fen) / 100)
codes = {
    "reg_field": st.sampled_from([None, "01", "06", "11", ""]),
    "ip_type": st.sampled_from([None, "1", "2", "9"]),
    "plan_source": st.sampled_from([None, "1", "5"]),
    "socio_goal": st.sampled_from([None, "01", "99", "77"]),  # 77: a code the table does not have
    "seller_legal_form": st.sampled_from([None, "022", "150", "021", "888"]),
    "buyer_legal_form": st.sampled_from([None, "150", "110", "400", "200"]),
}
specs = st.fixed_dictionaries({
    "buyer": st.sampled_from(REGION_KEYS),
    "seller": st.sampled_from(REGION_KEYS),
    "amount": amounts,
    "tech_share": st.sampled_from([D(1), D("0.5"), D(0)]),
    "signed_on": st.one_of(st.dates(min_value=date(YEAR - 1, 10, 1), max_value=date(YEAR, 12, 31)),
                           st.sampled_from([date(YEAR, 3, 31), date(YEAR, 4, 1), date(YEAR - 1, 12, 31)])),
    "type": st.sampled_from(sorted(CONTRACT_TYPES)),
    "subtype_pick": st.integers(0, 8),
    "voided": st.booleans(),
    **codes,
})


def _subtype(spec) -> str:
    choices = ["", *CONTRACT_TYPES[spec["type"]][1]]
    return choices[spec["subtype_pick"] % len(choices)]


class Expected:
    """The figures computed from the specs alone."""

    def __init__(self, records, paths, scope_path):
        self.records, self.paths, self.scope_path = records, paths, scope_path

    def inside(self, region_id) -> bool:
        return self.scope_path is None or self.paths[region_id].startswith(self.scope_path)

    def live(self, period):
        return [r for r in self.records if not r["voided"] and period.start <= r["signed_on"] <= period.end]

    def side(self, rows, side):
        if side == "b":
            picked = [r for r in rows if self.inside(r["buyer"])]
        elif side == "s":
            picked = [r for r in rows if self.inside(r["seller"])]
        elif side == "i":
            picked = [r for r in rows if self.inside(r["buyer"]) and self.inside(r["seller"])]
        else:
            picked = [r for r in rows if self.inside(r["buyer"]) or self.inside(r["seller"])]
        return [len(picked), sum((r["amount"] for r in picked), D("0.00")),
                sum((r["tech_amount"] for r in picked), D("0.00"))]

    def cells(self, rows):
        return self.side(rows, "b") + self.side(rows, "s")


def _table_rows(report) -> dict[str, list]:
    """First cell (indent stripped) -> the rest, for the rows of a table (the first occurrence of a name)."""
    out = {}
    for row in report.table.rows:
        if row and len(row) > 1:
            out.setdefault(str(row[0]).strip("　"), list(row[1:]))
    return out


def _label_of(kind: str, code, labels) -> str:
    if not code:
        return reports.UNFILLED
    return labels[kind].get(code) or f"{code}（未知代码）"


def _legal_forms_under(label: str) -> set[str]:
    """The codes a 法人性质 row counts: its own and, for a heading, every code below it (from the defaults)."""
    code = {lab: c for c, lab, _parent in LEGAL_FORMS}[label]
    codes, grew = {code}, True
    while grew:
        more = {c for c, _lab, parent in LEGAL_FORMS if parent in codes} - codes
        codes, grew = codes | more, bool(more)
    return codes


@settings(max_examples=20, deadline=None, phases=NO_SHRINK,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(specs, max_size=12), data=st.data())
def test_every_report_table_equals_an_independent_decimal_sum(world, items, data):
    db.session.execute(Contract.__table__.delete())
    db.session.commit()
    paths = {r.id: r.path for r in db.session.scalars(db.select(Region))}
    records = []
    for spec in items:
        tech = (spec["amount"] * spec["tech_share"]).quantize(CENT, rounding="ROUND_DOWN")
        buyer, seller = world.regions[spec["buyer"]], world.regions[spec["seller"]]
        extra = {k: spec[k] for k in codes}
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, buyer_region=buyer, seller_region=seller,
                           amount=spec["amount"], tech_amount=tech, signed_on=spec["signed_on"],
                           contract_type=spec["type"], subtype=_subtype(spec), voided=spec["voided"], **extra)
        records.append({"buyer": buyer.id, "seller": seller.id, "amount": spec["amount"], "tech_amount": tech,
                        "signed_on": spec["signed_on"], "type": spec["type"], "subtype": _subtype(spec),
                        "voided": spec["voided"], **extra})
    db.session.commit()
    scope_key = data.draw(st.sampled_from((None,) + REGION_KEYS), label="scope")
    scope = db.session.get(Region, world.regions[scope_key].id) if scope_key else None
    quarter = data.draw(st.sampled_from([None, 1, 2, 4]), label="quarter")
    period = stats.Period.quarter(YEAR, quarter) if quarter else stats.Period.year(YEAR)
    expected = Expected(records, paths, scope.path if scope else None)
    rows = expected.live(period)
    previous = expected.live(period.last_year())
    labels = {kind: regcodes.labels(kind) for kind in ("reg_field", "ip_type", "plan_source", "socio_goal",
                                                         "legal_form")}
    hint = f"{fuzz_seed_hint()}; scope {scope_key}, {period.label}"
    built = {code: reports.build(code, scope=scope, period=period, place="测试") for code in reports.REPORTS}

    # 合计 of every side table (T2–T9), and T1's four 口径 with last year's
    for code in ("T2", "T3", "T5", "T6", "T7", "T9"):
        assert _table_rows(built[code])["合计"] == expected.cells(rows), (code, hint)
    t8 = _table_rows(built["T8"])["合计"]
    assert t8 == expected.cells(rows), hint
    t1 = _table_rows(built["T1"])
    for side, label in SIDE_LABELS.items():
        assert t1[label][:6] == expected.side(rows, side) + expected.side(previous, side), (side, hint)

    # every row of the 登记表 dimensions, 未填报 for the contracts without a code (a row when there are any)
    concerned = [r for r in rows if expected.inside(r["buyer"]) or expected.inside(r["seller"])]
    for code, (kind, column, _first) in reports.DIMENSIONS.items():
        got = _table_rows(built[code])
        names = {_label_of(kind, r[column], labels) for r in concerned} | set(labels[kind].values())
        for name in names:
            picked = [r for r in rows if _label_of(kind, r[column], labels) == name]
            assert got[name] == expected.cells(picked), (code, name, hint)
        assert len(got) == len(names) + 1, (code, hint)  # nothing else but the 合计
    # T4: one block by the seller's 法人性质, one by the buyer's, each adding up to the 合计
    block, seen = None, {"按卖方法人性质": {}, "按买方法人性质": {}}
    for row in built["T4"].table.rows:
        if len(row) == 1:
            block = row[0]
        elif row[0] != "合计":
            seen[block][row[0].strip("　")] = list(row[1:])
        else:
            assert list(row[1:]) == expected.cells(rows), hint
    heading_labels = {lab for c, lab, _parent in LEGAL_FORMS}
    for block, column in (("按卖方法人性质", "seller_legal_form"), ("按买方法人性质", "buyer_legal_form")):
        assert heading_labels <= set(seen[block]), block
        for name, cells in seen[block].items():
            if name in heading_labels:  # 事业法人 = 科研机构 + 高等院校 + ...
                picked = [r for r in rows if r[column] in _legal_forms_under(name)]
            else:
                picked = [r for r in rows if _label_of("legal_form", r[column], labels) == name]
            assert cells == expected.cells(picked), (block, name, hint)
    # T2: each type, and each of its subtypes
    t2 = _table_rows(built["T2"])
    for ctype, (label, subtypes) in CONTRACT_TYPES.items():
        assert t2[label] == expected.cells([r for r in rows if r["type"] == ctype]), (label, hint)
        for sub, sub_label in subtypes.items():
            picked = [r for r in rows if r["type"] == ctype and r["subtype"] == sub]
            assert _table_rows_in(built["T2"], ctype, f"其中：{sub_label}") == expected.cells(picked), hint
    # T9: each month and each quarter's 小计
    t9 = _table_rows(built["T9"])
    for ym in period.months():
        picked = [r for r in rows if r["signed_on"].year * 100 + r["signed_on"].month == ym]
        assert t9[f"{ym // 100}年{ym % 100}月"] == expected.cells(picked), hint
    for q in range(1, 5):
        name = f"{YEAR}年第{q}季度小计"
        if name in t9:
            picked = [r for r in rows if (r["signed_on"].month - 1) // 3 + 1 == q]
            assert t9[name] == expected.cells(picked), hint
    # the dashboard's own function says the same 合计
    total = stats.totals(scope=scope, period=period)
    assert [total["b"].n, total["b"].amount, total["b"].tech_amount] == expected.side(rows, "b")


def _table_rows_in(report, ctype: str, name: str) -> list:
    """A subtype row of T2: the one under the type's row (names like 其他 repeat under several types)."""
    label = CONTRACT_TYPES[ctype][0]
    under = False
    for row in report.table.rows:
        first = str(row[0])
        if not first.startswith("　"):
            under = first == label
        elif under and first.strip("　") == name:
            return list(row[1:])
    return [0, D("0.00"), D("0.00"), 0, D("0.00"), D("0.00")]


# --- the .xlsx and the .csv -------------------------------------------------------------------------------

def _sheet(resp):
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    return load_workbook(io.BytesIO(resp.data)).active


def test_report_xlsx_has_title_rows_wan_and_a_frozen_header(world, login_as, app):
    app.config["REPORT_FILER"] = "怀远县科学技术局"
    app.config["TODAY"] = date(2025, 6, 18)
    o = world.orgs
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("123456789.01"), tech_amount=D("123456789.01"),
                       signed_on=date(YEAR, 2, 3), reg_field="06")
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("0.49"), tech_amount=D("0.49"),
                       signed_on=date(YEAR, 2, 4))
    db.session.commit()
    c = login_as("official")
    sheet = _sheet(c.get(f"/dashboard/export?table=T3&format=xlsx&year={YEAR}"))
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "T3 技术合同按技术领域分布"
    assert [row[0] for row in values[1:6]] == [f"统计期间：{YEAR}年", "区域：怀远县", "填报单位：怀远县科学技术局",
                                               "金额单位：万元", "填报日期：2025-06-18"]
    assert values[6][0] == "技术领域（登记分类）" and values[6][2] == "吸纳成交额（万元）"
    assert sheet.freeze_panes == "A8"
    rows = {row[0]: row for row in values[7:] if row and row[0]}
    assert rows["新材料及其应用"][1:3] == [1, 12345.68]  # 123456789.01 元 = 12,345.68 万元, rounded half up
    assert rows[reports.UNFILLED][1:3] == [1, 0.0]
    assert rows["合计"][1:3] == [2, 12345.68]  # rounded from the exact total, not a sum of rounded rows
    # the .csv has the same title rows; each amount in 万元, then the exact 元 beside it (issue 17 item 8)
    lines = list(csv.reader(io.StringIO(c.get(f"/dashboard/export?table=T3&format=csv&year={YEAR}")
                                        .data.decode("utf-8-sig"))))
    assert lines[0] == ["T3 技术合同按技术领域分布"] and ["金额单位：万元"] in lines[:6]
    total = [line for line in lines if line and line[0] == "合计"][0]
    assert total[1:6] == ["2", "12345.68", "123456789.50", "12345.68", "123456789.50"]
    assert lines[6][2:4] == ["吸纳成交额（万元）", "吸纳成交额（元）"]


def test_existing_exports_get_the_same_title_rows_and_frozen_header(world, login_as):
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=D("12345.67"), signed_on=date(YEAR, 5, 1))
    db.session.commit()
    c = login_as("official")
    for table in ("summary", "type", "flows", "checks_large", "targets"):
        sheet = _sheet(c.get(f"/dashboard/export?table={table}&format=xlsx&year={YEAR}"))
        firsts = [row[0].value for row in sheet.iter_rows(max_row=7)]
        assert "区域：怀远县" in firsts and "金额单位：万元" in firsts and "填报单位：怀远县科学技术局" in firsts, table
        assert any(str(v).startswith("填报日期：") for v in firsts) and sheet.freeze_panes == "A8", table


def test_the_reports_tab_previews_each_table_for_the_official_s_scope(world, login_as):
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=D("250000.00"),
                       signed_on=date(YEAR, 5, 1), reg_field="01")
    factories.contract(buyer=world.orgs.ent_b, seller=world.orgs.uni, amount=D("7777777.77"),
                       signed_on=date(YEAR, 5, 1), reg_field="01", title="五河专属合同")
    db.session.commit()
    c = login_as("official")
    for code, title in reports.REPORTS.items():
        resp = c.get(f"/dashboard/reports?table={code}&year={YEAR}")
        page = resp.get_data(as_text=True)
        assert resp.status_code == 200 and title in page and f'id="export-{code}-xlsx"' in page, code
        assert "五河专属合同" not in page and "777.78" not in page, code
    page = c.get(f"/dashboard/reports?table=T3&year={YEAR}").get_data(as_text=True)
    assert "25.00" in page  # 250000 元 = 25.00 万元
    assert c.get("/dashboard/reports?table=nope").status_code == 200  # an unknown table: T1


def test_a_county_official_cannot_get_another_scope_s_tables(world, login_as):
    c = login_as("official")
    for target in ("city", "county_b"):
        region_id = world.regions[target].id
        assert c.get(f"/dashboard/reports?table=T3&region={region_id}").status_code == 403
        for fmt in ("xlsx", "csv"):
            assert c.get(f"/dashboard/export?table=T1&format={fmt}&region={region_id}").status_code == 403
    for name in ("enterprise", "broker"):
        assert login_as(name).get("/dashboard/reports").status_code == 403
    assert login_as("city_official").get(f"/dashboard/reports?region={world.regions['county_b'].id}").status_code == 200


# --- the CLI ----------------------------------------------------------------------------------------------

def test_cli_writes_the_table_and_refuses_bad_arguments(world, runner, tmp_path):
    o = world.orgs
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("100000.00"), signed_on=date(YEAR, 11, 5),
                       reg_field="02")
    factories.contract(buyer=o.ent_b, seller=o.uni, amount=D("300000.00"), signed_on=date(YEAR, 2, 5),
                       reg_field="02")
    db.session.commit()
    out = tmp_path / "t3.xlsx"
    county = world.regions["county_a"]
    result = runner.invoke(args=["stats", "report", "--table", "T3", "--year", str(YEAR), "--quarter", "4",
                                 "--region", county.code, "--xlsx", str(out)])
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    assert sheet.freeze_panes == "A8" and sheet["A2"].value == f"统计期间：{YEAR}年第4季度"
    rows = {row[0].value: [c.value for c in row] for row in sheet.iter_rows(min_row=8)}
    assert rows["先进制造"][1:3] == [1, 10.0]
    result = runner.invoke(args=["stats", "report", "--table", "T1", "--year", str(YEAR), "--xlsx", str(out)])
    assert result.exit_code == 0 and load_workbook(out).active["A3"].value == "区域：全部区域"
    bad = [
        (["--table", "T11", "--year", "2025"], "报表编号无效"),
        (["--table", "T3", "--year", "二〇二五"], "年份无效"),
        (["--table", "T3", "--year", "1999"], "年份无效"),
        (["--table", "T3", "--year", "2025", "--quarter", "5"], "季度无效"),
        (["--table", "T3", "--year", "2025", "--region", "999999"], "区域代码不存在"),
        (["--table", "T3", "--year", "2025", "--xlsx", str(tmp_path / "t3.csv")], "文件名须以 .xlsx 结尾"),
        (["--table", "T3", "--year", "2025", "--xlsx", str(tmp_path / "no" / "such" / "t.xlsx")], "无法写入文件"),
    ]
    for args, words in bad:
        if "--xlsx" not in args:
            args = [*args, "--xlsx", str(tmp_path / "bad.xlsx")]
        result = runner.invoke(args=["stats", "report", *args])
        assert result.exit_code != 0 and words in result.output, (args, result.output)
    assert not (tmp_path / "bad.xlsx").exists()


# --- the checks -------------------------------------------------------------------------------------------

def test_each_check_finds_its_planted_contract_and_not_a_clean_one(world, app):
    o = world.orgs
    app.config["DASHBOARD_LARGE_CONTRACT_YUAN"] = "50000000"
    on = date(YEAR, 4, 1)
    clean = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("1000.00"), signed_on=on, title="干净合同",
                               seller_legal_form="022", buyer_legal_form="150")
    large = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("50000000.00"), signed_on=on, title="大额")
    abroad = Organization(name="德国测试研究所", org_type="institute", region_id=None, country="DE",
                          status="verified")
    db.session.add(abroad)
    db.session.flush()
    foreign = factories.contract(buyer=o.ent_a, seller=abroad, amount=D("2000.00"), signed_on=on, title="涉外",
                                 seller_country="DE")
    mismatch = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("3000.00"), signed_on=on, title="性质不符",
                                  buyer_legal_form="022")  # an enterprise declared 高等院校
    seller_mismatch = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("3100.00"), signed_on=on,
                                         title="卖方性质不符", seller_legal_form="150")
    typed = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("4000.00"), tech_amount=D("3000.00"),
                               signed_on=on, title="未核定")
    worked = factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("4100.00"), tech_amount=D("3100.00"),
                                signed_on=on, title="已核定", nontech_equipment=D("1000.00"))
    placed = factories.org(region=world.regions["city"], name="已填所在地单位")
    placed.division_code = "340300"
    db.session.commit()
    period = stats.Period.year(YEAR)
    found = {check: {c.id for c in db.session.scalars(queries.check_list(check, scope=None, period=period))}
             for check in queries.CHECKS}
    assert found["large"] == {large.id}
    assert found["foreign"] == {foreign.id}
    assert found["legal_form_mismatch"] == {mismatch.id, seller_mismatch.id}
    assert found["tech_no_worksheet"] == {typed.id}
    flagged = set().union(*(ids for check, ids in found.items() if check != "no_field"))  # none has a field
    assert clean.id not in flagged and worked.id not in flagged
    counts = queries.check_counts(scope=None, period=period)
    assert {k: counts[k] for k in ("large", "foreign", "legal_form_mismatch", "tech_no_worksheet")} == {
        "large": 1, "foreign": 1, "legal_form_mismatch": 2, "tech_no_worksheet": 1}
    unplaced = {org.name for org in db.session.scalars(queries.orgs_on_city_node(None))}
    assert o.uni.name in unplaced and "已填所在地单位" not in unplaced
    # T10 says the same: the counts, then each listed contract and each unplaced organisation
    t10 = reports.build("T10", scope=None, period=period, place="全部区域")
    firsts = _table_rows(t10)
    assert firsts["法人性质与单位类型不符"][0] == 2 and firsts["技术交易额未经核定"][0] == 1
    assert firsts["仍登记在市本级的单位"][0] == len(unplaced)
    titles = {row[3] for row in t10.table.rows if len(row) > 3 and row[0] != queries.CHECKS["no_field"]}
    assert {"大额", "涉外", "性质不符", "卖方性质不符", "未核定"} <= titles and "干净合同" not in titles
    # the page lists them too
    client = app.test_client()
    login(client, "official_city")
    page = client.get(f"/dashboard/checks?check=tech_no_worksheet&year={YEAR}").get_data(as_text=True)
    listed = page.split('id="table-check"')[1].split("</table>")[0]
    assert "未核定" in listed and "已核定" not in listed


def test_wan_rounding_is_half_up_from_the_exact_yuan():
    from market.dashboard.exports import xlsx_amount

    assert xlsx_amount(D("123456789.01"), "万元") == D("12345.68")
    assert xlsx_amount(D("50.00"), "万元") == D("0.01") and xlsx_amount(D("49.99"), "万元") == D("0.00")
    assert xlsx_amount(D("123.45"), "元") == D("123.45")
    assert (D("5") / 10000).quantize(CENT, rounding=ROUND_HALF_UP) == D("0.00")


def test_large_contract_threshold_is_checked_at_start(monkeypatch):
    """DASHBOARD_LARGE_CONTRACT_YUAN from the environment: an amount, or the app refuses to start (never a 500 on
    the checks pages)."""
    from decimal import Decimal as D

    from market.config import Config

    monkeypatch.setenv("DASHBOARD_LARGE_CONTRACT_YUAN", "5,000,000.5")
    assert Config().DASHBOARD_LARGE_CONTRACT_YUAN == D("5000000.50")
    for bad in ("abc", "-1", "nan", "1e30"):
        monkeypatch.setenv("DASHBOARD_LARGE_CONTRACT_YUAN", bad)
        with pytest.raises(ValueError, match="DASHBOARD_LARGE_CONTRACT_YUAN"):
            Config()
