"""Every dashboard figure equals an independent Python Decimal sum over the contract records, to the fen.

Hypothesis draws random contract sets (amounts up to 10^11 元 with two decimals, voided ones, contracts with
both parties inside one region, contracts on either side of month boundaries) and random periods (whole
years, quarters, months and ranges cutting months in two); the figures are compared from the monthly
summary, straight from the contracts table, through the CLI JSON and through the CSV export.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.dashboard import stats
from market.extensions import db
from market.models import CONTRACT_TYPES, Contract, Region
from tests import factories
from tests.helpers import login

REGION_KEYS = ("city", "county_a", "county_b", "town_a", "town_b")
FIRST, LAST = date(2024, 12, 1), date(2026, 2, 28)
CENT = Decimal("0.01")

amounts = st.one_of(
    st.integers(min_value=0, max_value=10**13),  # fen: 0 .. 10^11 元
    st.sampled_from([0, 1, 99, 10**13, 10**13 - 1]),
).map(lambda fen: Decimal(fen) / 100)
days = st.one_of(
    st.dates(min_value=FIRST, max_value=LAST),
    st.sampled_from([date(2025, 1, 1), date(2024, 12, 31), date(2025, 1, 31), date(2025, 2, 1), date(2025, 3, 31),
                     date(2025, 12, 31), date(2026, 1, 1), date(2025, 2, 28)]),
)
contract_specs = st.fixed_dictionaries({
    "buyer": st.sampled_from(REGION_KEYS),
    "seller": st.sampled_from(REGION_KEYS),
    "amount": amounts,
    "tech_share": st.sampled_from([Decimal(1), Decimal("0.5"), Decimal(0), Decimal("0.333")]),
    "signed_on": days,
    "type": st.sampled_from(sorted(CONTRACT_TYPES)),
    "field": st.sampled_from([None, "materials", "software"]),
    "voided": st.booleans(),
    "achievement": st.sampled_from([None, 0, 1, 2]),
})


@st.composite
def periods(draw):
    kind = draw(st.sampled_from(["year", "quarter", "month", "range"]))
    year = draw(st.sampled_from([2025, 2026]))
    if kind == "year":
        return stats.Period.year(year)
    if kind == "quarter":
        return stats.Period.quarter(year, draw(st.integers(1, 4)))
    if kind == "month":
        return stats.Period.month(year, draw(st.integers(1, 12)))
    start = draw(st.dates(min_value=FIRST - timedelta(days=40), max_value=LAST))
    end = draw(st.dates(min_value=start, max_value=LAST + timedelta(days=40)))
    return stats.Period.between(start, end)


# --- the independent computation --------------------------------------------------------------------------

class Expected:
    def __init__(self, records, regions):
        self.records = records  # plain dicts, from the specs, not from the database
        self.regions = regions  # key -> (id, path, level, parent_id)

    def under(self, region_id: int, scope_id: int) -> bool:
        return self.regions[region_id][1].startswith(self.regions[scope_id][1])

    def live(self, period):
        return [r for r in self.records if not r["voided"] and period.start <= r["signed_on"] <= period.end]

    def sides(self, rows, in_region):
        out = {}
        for side, test in (("b", lambda r: in_region(r["buyer"])), ("s", lambda r: in_region(r["seller"])),
                           ("i", lambda r: in_region(r["buyer"]) and in_region(r["seller"])),
                           ("e", lambda r: in_region(r["buyer"]) or in_region(r["seller"]))):
            picked = [r for r in rows if test(r)]
            out[side] = (len(picked), sum((r["amount"] for r in picked), Decimal("0.00")),
                         sum((r["tech_amount"] for r in picked), Decimal("0.00")))
        return out


def figures(row: stats.Row, sides=("b", "s", "i", "e")) -> dict:
    return {side: (row[side].n, row[side].amount, row[side].tech_amount) for side in sides}


def plain(sides: dict) -> dict:
    """吸纳 and 输出 only: the breakdowns by type and by field do not split the 'both sides' figure."""
    return {side: sides[side] for side in ("b", "s")}


def exact(value: Decimal) -> bool:
    return isinstance(value, Decimal) and value == value.quantize(CENT)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(specs=st.lists(contract_specs, max_size=14), period=periods(), data=st.data())
def test_every_figure_equals_an_independent_decimal_sum(world, runner, specs, period, data):
    db.session.execute(Contract.__table__.delete())
    db.session.commit()
    achievements = getattr(world, "_achievements", None)
    if achievements is None:
        achievements = [factories.achievement(owner=world.users.institution, field=world.fields["materials"],
                                              title=f"成果{i}号的名称").id for i in range(3)]
        world._achievements = achievements
    regions = {r.id: (r.id, r.path, r.level, r.parent_id) for r in db.session.scalars(db.select(Region))}
    records = []
    for spec in specs:
        tech = (spec["amount"] * spec["tech_share"]).quantize(CENT, rounding="ROUND_DOWN")
        buyer, seller = world.regions[spec["buyer"]], world.regions[spec["seller"]]
        ach = achievements[spec["achievement"]] if spec["achievement"] is not None else None
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, buyer_region=buyer, seller_region=seller,
                           amount=spec["amount"], tech_amount=tech, signed_on=spec["signed_on"],
                           contract_type=spec["type"], field=world.fields[spec["field"]] if spec["field"] else None,
                           voided=spec["voided"], achievement_id=ach)
        records.append({"buyer": buyer.id, "seller": seller.id, "amount": spec["amount"], "tech_amount": tech,
                        "signed_on": spec["signed_on"], "type": spec["type"], "voided": spec["voided"],
                        "field_root": (world.fields["root_materials"].code if spec["field"] == "materials"
                                       else ("01" if spec["field"] == "software" else None)),
                        "achievement": ach})
    db.session.commit()
    expected = Expected(records, regions)
    scope_key = data.draw(st.sampled_from((None,) + REGION_KEYS), label="scope")
    scope = db.session.get(Region, world.regions[scope_key].id) if scope_key else None
    in_scope = (lambda rid: True) if scope is None else (lambda rid: expected.under(rid, scope.id))
    rows = expected.live(period)

    for use_summary in (True, False):
        # totals, both sides, inside, either
        got = figures(stats.totals(scope=scope, period=period, use_summary=use_summary))
        assert got == expected.sides(rows, in_scope), (use_summary, period)
        assert all(exact(v) for side in got.values() for v in side[1:])
        # by contract type
        for row in stats.by_type(scope=scope, period=period, use_summary=use_summary):
            picked = [r for r in rows if r["type"] == row.key]
            assert figures(row, ("b", "s")) == plain(expected.sides(picked, in_scope))
        # by month
        for row in stats.by_month(scope=scope, period=period, use_summary=use_summary):
            picked = [r for r in rows if r["signed_on"].strftime("%Y-%m") == row.key]
            assert figures(row) == expected.sides(picked, in_scope)
        # by field (root domains; contracts without a field have their own row)
        field_rows = stats.by_field(scope=scope, period=period, use_summary=use_summary)
        for row in field_rows:
            picked = [r for r in rows if r["field_root"] == row.key]
            assert figures(row, ("b", "s")) == plain(expected.sides(picked, in_scope)), row.name
        # by sub-region: each child's subtree; the scope's own contracts (本级) on their own row
        for row in stats.by_region(scope=scope, period=period, use_summary=use_summary):
            if row.own_level:
                def own(rid):
                    return rid == scope.id
                got, want = figures(row), expected.sides(rows, own)
                assert (got["b"], got["s"]) == (want["b"], want["s"])
            else:
                def under(rid, child=row.region.id):
                    return expected.under(rid, child)
                assert figures(row) == expected.sides(rows, under), row.name
        # conversions: distinct results
        conv = stats.conversions(scope=scope, period=period)
        for side, test in (("b", lambda r: in_scope(r["buyer"])), ("s", lambda r: in_scope(r["seller"])),
                           ("e", lambda r: in_scope(r["buyer"]) or in_scope(r["seller"]))):
            assert conv[side] == len({r["achievement"] for r in rows if r["achievement"] and test(r)})

    # the CLI prints the same figures (by region: the ancestor at the level, on the chosen side)
    level = data.draw(st.sampled_from(["city", "county", "town"]), label="level")
    side = data.draw(st.sampled_from(["buyer", "seller"]), label="side")
    year = period.start.year
    result = runner.invoke(args=["stats", "contracts", "--year", str(year), "--by", "region", "--level", level,
                                 "--side", side, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    year_rows = expected.live(stats.Period.year(year))
    key = "buyer" if side == "buyer" else "seller"
    by_code = {r.code: r for r in db.session.scalars(db.select(Region))}
    for item in out["rows"]:
        if item["key"] is None:
            picked = [r for r in year_rows if regions[r[key]][2] != level and not any(
                regions[a][2] == level for a in _ancestors(regions, r[key]))]
        else:
            anc = by_code[item["key"]]
            picked = [r for r in year_rows if expected.under(r[key], anc.id)]
        assert item["count"] == len(picked)
        assert item["amount"] == f"{sum((r['amount'] for r in picked), Decimal('0.00')):.2f}"
        assert item["tech_amount"] == f"{sum((r['tech_amount'] for r in picked), Decimal('0.00')):.2f}"
    assert out["total"]["amount"] == f"{sum((r['amount'] for r in year_rows), Decimal('0.00')):.2f}"
    assert sum(Decimal(item["amount"]) for item in out["rows"]) == Decimal(out["total"]["amount"])


def _ancestors(regions, region_id):
    path = regions[region_id][1]
    return [int(p) for p in path.strip("/").split("/") if p]


def test_csv_export_equals_the_sum_of_records(world, app):
    """The exported total row is the exact Decimal sum, written with two decimals."""
    specs = [Decimal("0.01"), Decimal("99999999999.99"), Decimal("12345678.90"), Decimal("0.10")]
    for i, amount in enumerate(specs):
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=amount,
                           signed_on=date(2025, 1 + i, 28), voided=(i == 3))
    db.session.commit()
    client = app.test_client()
    login(client, "official_city")
    text = client.get("/dashboard/export?table=month&format=csv&period=year&year=2025").data.decode("utf-8-sig")
    rows = {row[0]: row for row in csv.reader(io.StringIO(text)) if row}
    total = sum(specs[:3], Decimal("0.00"))
    # each amount in 万元 (two decimals, rounded half up from the exact total), then the exact 元 (issue 17 item 8)
    assert rows["合计"][1:6] == ["3", "10001234.57", f"{total:.2f}", "10001234.57", f"{total:.2f}"]
    assert rows["合计"][3] == "100012345678.90"
    assert rows["2025年2月"][2:4] == ["10000000.00", "99999999999.99"]  # 9,999,999.999999 万元 rounds up
