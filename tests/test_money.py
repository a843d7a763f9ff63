"""Exact money: parsing refuses or keeps every amount exactly, and the Money column round-trips and sums to the fen."""
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text

from market.extensions import db
from market.models import Demand, IndexChange, ListingEvent
from market.money import MAX_YUAN, AmountError, format_count, format_wan, format_wan_about, format_yuan, from_fen, parse_wan, parse_yuan, to_fen
from tests import factories
from tests.helpers import CJK


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0", "0.00"),
        ("0.5", "0.50"),
        ("12.34", "12.34"),
        ("0.01", "0.01"),
        (" 12 ", "12.00"),
        ("1,234.56", "1234.56"),
        ("1,234,567.89", "1234567.89"),
        ("12,345", "12345.00"),
        ("999999999999.99", "999999999999.99"),
        ("1000000000000", "1000000000000.00"),
        (Decimal("7.1"), "7.10"),
    ],
)
def test_parse_yuan_exact(raw, expected):
    value = parse_yuan(raw)
    assert isinstance(value, Decimal)
    assert value == Decimal(expected) and str(value) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "请填写金额"),
        (None, "请填写金额"),
        ("   ", "请填写金额"),
        ("-1", "不能为负数"),
        ("-0.01", "不能为负数"),
        ("0.005", "最多保留2位小数"),
        ("1.005", "最多保留2位小数"),
        ("１２３", "半角数字"),
        ("１２３４.５", "半角数字"),
        ("12.5万元", "单位已是元"),
        ("12元", "单位已是元"),
        ("1000000000000.01", "超出允许范围"),
        ("NaN", "金额格式不正确"),
        ("nan", "金额格式不正确"),
        ("Infinity", "金额格式不正确"),
        ("-Infinity", "不能为负数"),
        ("inf", "金额格式不正确"),
        ("1e309", "金额格式不正确"),
        ("1E3", "金额格式不正确"),
        ("0x10", "金额格式不正确"),
        ("+5", "金额格式不正确"),
        (".5", "金额格式不正确"),
        ("5.", "金额格式不正确"),
        ("1 000", "金额格式不正确"),
        ("12345678901234567.89", "金额格式不正确"),
        ("1" * 10000, "金额格式不正确"),
        ("12\x005", "金额格式不正确"),
        ("abc", "金额格式不正确"),
        # a comma is a thousands separator or nothing: "1,0,0" was read as 100.00
        ("1,0,0", "千分位逗号位置不正确"),
        ("1,0000", "千分位逗号位置不正确"),
        ("12,34", "千分位逗号位置不正确"),
        (",100", "千分位逗号位置不正确"),
        ("100,", "千分位逗号位置不正确"),
        ("1,000,00", "千分位逗号位置不正确"),
        ("1.000,50", "千分位逗号位置不正确"),
        ("1,234.5,6", "千分位逗号位置不正确"),
        ("1,000.005", "最多保留2位小数"),
        ("-1,000", "不能为负数"),
    ],
)
def test_parse_yuan_refusals(raw, reason):
    with pytest.raises(AmountError) as info:
        parse_yuan(raw)
    assert reason in str(info.value)
    assert CJK.search(str(info.value))


@pytest.mark.parametrize(
    "raw, expected_yuan",
    [
        ("12.345678", "123456.78"),
        ("12.5", "125000.00"),
        ("0.000001", "0.01"),
        ("0.0001", "1.00"),
        ("0", "0.00"),
        ("100000000", "1000000000000.00"),
        ("1,000", "10000000.00"),
    ],
)
def test_parse_wan_exact(raw, expected_yuan):
    value = parse_wan(raw)
    assert value == Decimal(expected_yuan) and str(value) == expected_yuan


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("0.0000001", "最多保留6位小数"),
        ("12.3456789", "最多保留6位小数"),
        ("-1", "不能为负数"),
        ("１２３", "半角数字"),
        ("12.5万元", "单位已是万元"),
        ("12.5万", "单位已是万元"),
        ("NaN", "金额格式不正确"),
        ("Infinity", "金额格式不正确"),
        ("1e309", "金额格式不正确"),
        ("100000000.000001", "超出允许范围"),
        ("", "请填写金额"),
        ("1,0,0", "千分位逗号位置不正确"),
    ],
)
def test_parse_wan_refusals(raw, reason):
    with pytest.raises(AmountError) as info:
        parse_wan(raw)
    assert reason in str(info.value)


def test_display_is_one_rule():
    # 万元 as people read it: two decimals (half up), thousands separators; the exact yuan is format_yuan's
    assert format_wan(Decimal("123456.78")) == "12.35万元"
    assert format_wan(Decimal("125000.00")) == "12.50万元"
    assert format_wan(Decimal("107579505.00")) == "10,757.95万元"
    assert format_wan(Decimal("0.01")) == "0.00万元" and format_wan(Decimal("50.00")) == "0.01万元"
    assert format_wan(None) == "面议"
    assert format_yuan(Decimal("1234567.8")) == "1,234,567.80元"
    assert format_wan_about(Decimal("138904109.59")) == "13,890.41万元"
    assert format_wan_about(Decimal("125000.00")) == "12.50万元" and format_wan_about(None) == "—"
    # counts are whole numbers: an estimate of 139.73 contracts reads 140
    assert format_count(Decimal("139.73")) == "140" and format_count(12345) == "12,345" and format_count(None) == "—"
    assert to_fen(Decimal("12.34")) == 1234
    assert from_fen(1234) == Decimal("12.34")
    with pytest.raises(AmountError):
        to_fen(Decimal("0.005"))
    with pytest.raises(AmountError):
        to_fen(Decimal("NaN"))


def test_the_column_refuses_floats_and_sub_fen_amounts(world):
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"])
    db.session.commit()
    d.budget = 0.1  # a float must never reach the database
    with pytest.raises(Exception) as info:
        db.session.flush()
    assert "float" in str(info.value)
    db.session.rollback()
    d = db.session.get(Demand, d.id)
    d.budget = Decimal("0.005")  # would otherwise round silently
    with pytest.raises(Exception) as info:
        db.session.flush()
    assert "2位小数" in str(info.value)
    db.session.rollback()
    assert db.session.get(Demand, d.id).budget == Decimal("500000.00")


AMOUNTS = st.decimals(min_value=0, max_value=10**11, places=2, allow_nan=False, allow_infinity=False)
_REPORT = {"amounts": 0, "drift": 0}


def _clear_demands():
    db.session.execute(delete(IndexChange))
    db.session.execute(delete(ListingEvent))
    db.session.execute(delete(Demand))
    db.session.commit()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(AMOUNTS, min_size=1, max_size=40))
def test_amounts_round_trip_and_sum_exactly(world, amounts):
    owner, field = world.users.enterprise, world.fields["materials"]
    ids = [factories.demand(owner=owner, field=field, budget=amount).id for amount in amounts]
    db.session.commit()
    db.session.expire_all()
    try:
        stored = dict(db.session.execute(select(Demand.id, Demand.budget).where(Demand.id.in_(ids))).all())
        for i, amount in zip(ids, amounts):
            assert isinstance(stored[i], Decimal)
            assert stored[i] == amount, (stored[i], amount)
            _REPORT["amounts"] += 1
        total = db.session.scalar(select(func.sum(Demand.budget)).where(Demand.id.in_(ids)))
        assert isinstance(total, Decimal)
        assert total == sum(amounts, Decimal(0)), (total, sum(amounts))
        if db.engine.dialect.name == "sqlite":
            # stored as integer fen, not REAL
            raw = db.session.execute(text("SELECT budget, typeof(budget) FROM demands WHERE id = :i"), {"i": ids[0]}).one()
            assert raw[1] == "integer" and raw[0] == int(amounts[0] * 100)
    finally:
        _clear_demands()


def test_sum_of_many_large_amounts_to_the_fen(world):
    owner, field = world.users.enterprise, world.fields["materials"]
    amounts = [Decimal("99999999999.99"), Decimal("0.01"), Decimal("12345678901.23"), Decimal("0.99")] * 50
    for amount in amounts:
        factories.demand(owner=owner, field=field, budget=amount)
    factories.demand(owner=owner, field=field, budget=None)  # 面议 does not count
    db.session.commit()
    total = db.session.scalar(select(func.sum(Demand.budget)))
    assert total == sum(amounts, Decimal(0)) == Decimal("5617283945111.00")
    assert MAX_YUAN > Decimal("99999999999.99")
    print(f"\n{_REPORT['amounts'] + len(amounts)} amounts round-tripped, {_REPORT['drift']} fen drift")
