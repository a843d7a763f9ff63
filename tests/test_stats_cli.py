"""`flask --app app stats contracts ...`: the dashboard's figures as JSON; `stats check` and `stats rebuild`."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from market.extensions import db
from market.models import ContractMonthStat
from tests import factories

D = Decimal


@pytest.fixture
def contracts(world):
    """Contracts of 2025 (and one of 2024, one voided) across the test city."""
    r, o, f = world.regions, world.orgs, world.fields
    county_org = factories.org(region=r["county_a"], name="怀远县本级公司")
    made = [
        factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("100.10"), tech_amount=D("90.00"),
                           signed_on=date(2025, 1, 31), contract_type="development", field=f["materials"]),
        factories.contract(buyer=o.ent_a, seller=o.ent_b, amount=D("0.01"), signed_on=date(2025, 2, 1),
                           contract_type="service", field=f["software"]),
        factories.contract(buyer=o.ent_b, seller=o.uni, amount=D("99999999999.99"), signed_on=date(2025, 12, 31),
                           contract_type="transfer"),
        factories.contract(buyer=county_org, seller=o.ent_a, amount=D("5.00"), tech_amount=D("0.00"),
                           signed_on=date(2025, 6, 15), contract_type="service"),
        factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("777.77"), signed_on=date(2025, 3, 3), voided=True),
        factories.contract(buyer=o.ent_a, seller=o.uni, amount=D("1.00"), signed_on=date(2024, 12, 31)),
    ]
    db.session.commit()
    return made


def run_json(runner, *args):
    result = runner.invoke(args=["stats", "contracts", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_by_region_at_town_level_buyer_side(runner, world, contracts):
    out = run_json(runner, "--year", "2025", "--by", "region", "--level", "town")
    rows = {row["key"]: row for row in out["rows"]}
    assert set(rows) == {"340321101", "340322101", None}
    assert rows["340321101"] == {"key": "340321101", "name": "榴城镇", "count": 2, "amount": "100.11",
                                 "tech_amount": "90.01"}
    assert rows["340322101"]["count"] == 0  # ent_b is registered at the county of 五河县, not in its town
    assert rows[None] == {"key": None, "name": "未归属到该级区域", "count": 2, "amount": "100000000004.99",
                          "tech_amount": "99999999999.99"}
    assert out["total"] == {"count": 4, "amount": "100000000105.10", "tech_amount": "100000000090.00"}


def test_by_region_county_level_seller_side(runner, world, contracts):
    out = run_json(runner, "--year", "2025", "--by", "region", "--level", "county", "--side", "seller")
    rows = {row["key"]: row for row in out["rows"]}
    assert rows["340321"] == {"key": "340321", "name": "怀远县", "count": 1, "amount": "5.00", "tech_amount": "0.00"}
    assert rows["340322"] == {"key": "340322", "name": "五河县", "count": 1, "amount": "0.01", "tech_amount": "0.01"}
    assert rows[None]["count"] == 2 and rows[None]["amount"] == "100000000100.09"  # the university is in the city
    assert out["total"]["count"] == 4


def test_region_defaults_to_county_level(runner, world, contracts):
    out = run_json(runner, "--year", "2025", "--by", "region")
    assert {row["key"] for row in out["rows"]} == {"340321", "340322"}
    assert sum(row["count"] for row in out["rows"]) == 4


def test_city_level_holds_everything(runner, world, contracts):
    out = run_json(runner, "--year", "2025", "--by", "region", "--level", "city")
    assert out["rows"] == [{"key": "340300", "name": "蚌埠市", **out["total"]}]


def test_by_type_month_and_field(runner, world, contracts):
    by_type = {row["key"]: row for row in run_json(runner, "--year", "2025", "--by", "type")["rows"]}
    assert list(by_type) == ["development", "transfer", "license", "consulting", "service"]
    assert by_type["service"] == {"key": "service", "name": "技术服务", "count": 2, "amount": "5.01", "tech_amount": "0.01"}
    assert by_type["license"]["count"] == 0 and by_type["license"]["amount"] == "0.00"
    by_month = {row["key"]: row for row in run_json(runner, "--year", "2025", "--by", "month")["rows"]}
    assert len(by_month) == 12 and by_month["2025-01"]["amount"] == "100.10" and by_month["2025-03"]["count"] == 0
    assert by_month["2025-12"]["amount"] == "99999999999.99"
    by_field = {row["key"]: row for row in run_json(runner, "--year", "2025", "--by", "field")["rows"]}
    assert by_field["04"]["amount"] == "100.10" and by_field["01"]["amount"] == "0.01"
    assert by_field[None]["name"] == "未填写领域" and by_field[None]["count"] == 2
    seller = run_json(runner, "--year", "2024", "--by", "type", "--side", "seller")
    assert seller["total"] == {"count": 1, "amount": "1.00", "tech_amount": "1.00"}


def test_amounts_always_have_two_decimals(runner, world, contracts):
    out = run_json(runner, "--year", "2025", "--by", "month")
    for row in out["rows"] + [out["total"]]:
        for name in ("amount", "tech_amount"):
            whole, _, cents = row[name].partition(".")
            assert whole.isdigit() and len(cents) == 2


def test_plain_text_output(runner, world, contracts):
    result = runner.invoke(args=["stats", "contracts", "--year", "2025", "--by", "type"])
    assert result.exit_code == 0 and "技术服务" in result.output and "合计" in result.output


@pytest.mark.parametrize("args", [
    ["--year", "2025", "--by", "nope"],
    ["--year", "abc", "--by", "type"],
    ["--by", "type"],
    ["--year", "2025", "--by", "region", "--level", "village"],
    ["--year", "2025", "--by", "type", "--side", "both"],
    ["--year", "2025", "--by", "type", "--level", "town"],
])
def test_bad_options_are_refused(runner, world, args):
    result = runner.invoke(args=["stats", "contracts", *args, "--json"])
    assert result.exit_code == 2


def test_check_finds_drift_and_rebuild_repairs_it(runner, world, contracts):
    assert runner.invoke(args=["stats", "check"]).exit_code == 0
    db.session.execute(db.update(ContractMonthStat).where(ContractMonthStat.side == "b").values(n=ContractMonthStat.n + 1))
    db.session.commit()
    result = runner.invoke(args=["stats", "check"])
    assert result.exit_code == 1 and "不一致" in result.output
    assert run_json(runner, "--year", "2025", "--by", "type")["total"]["count"] != 4  # the drift shows
    result = runner.invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["stats", "check"]).exit_code == 0
    assert run_json(runner, "--year", "2025", "--by", "type")["total"]["count"] == 4


@pytest.mark.parametrize("column, value", [("duplicated", True), ("seller_org_type", "institute"),
                                           ("buyer_org_type", None)])
def test_check_reports_drift_of_the_data_check_columns_and_rebuild_repairs_it(runner, world, contracts, column,
                                                                              value):
    """The columns the triggers keep for the data checks (market/models/checks.py), set past them."""
    from market.models import Contract

    assert runner.invoke(args=["stats", "check"]).exit_code == 0
    db.session.execute(db.update(Contract).where(Contract.id == contracts[0].id).values({column: value}))
    db.session.commit()
    result = runner.invoke(args=["stats", "check"])
    assert result.exit_code == 1
    assert "1 份合同的数据核查字段（双方单位类型、疑似重复标记）与明细不符" in result.output
    assert runner.invoke(args=["stats", "rebuild"]).exit_code == 0
    assert runner.invoke(args=["stats", "check"]).exit_code == 0
