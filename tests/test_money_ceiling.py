"""Issue 12 item 4 and item 7's payments: a ceiling per contract on every path that stores an amount, totals exact
past SQLite's int64 fen, and payments that fit their contract (not above, not before, no misplaced commas, no 0)."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from market.config import Config
from market.dashboard import stats
from market.deals.queries import broker_record
from market.extensions import db
from market.models import Contract, ContractAudit, Deal, Payment
from market.money import format_wan, format_yuan, parse_contract_ceiling
from tests import factories
from tests.helpers import assert_refused, count, form_token, post, published_pair

HEADER = ["登记编号", "合同类型", "合同子类", "买方单位", "卖方单位", "买方区域", "卖方区域", "合同成交额（元）",
          "技术交易额（元）", "签订日期", "技术领域"]
CEILING_MESSAGE = "超过单份合同上限（100亿元）"


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


def csv_rows(rows: list[tuple[str, str, str, str]]) -> str:
    """(registration number, amount, tech amount, signed on) -> a contract import file, 怀远甲企业 buys from 蚌埠测试大学."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for no, amount, tech, day in rows:
        writer.writerow([no, "技术开发", "委托开发", "怀远甲企业有限公司", "蚌埠测试大学", "340321101", "340300", amount, tech,
                         day, ""])
    return out.getvalue()


def terms(world, **over) -> dict:
    data = {
        "registration_no": "2026340300000123", "title": "透明导电膜制备技术开发合同", "contract_type": "development",
        "subtype": "commissioned", "amount": "500000.00", "tech_amount": "450000.00",
        "signed_on": date.today().isoformat(), "buyer_region_id": str(world.regions["town_a"].id),
        "seller_region_id": str(world.regions["city"].id), "field_id": str(world.fields["materials"].id),
        "form_token": form_token("c"), "buyer_name": "怀远甲企业有限公司", "seller_name": "蚌埠测试大学",
    }
    data.update(over)
    return data


def a_contract(world, **kw) -> Contract:
    kw.setdefault("broker_id", world.users.broker.id)
    c = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, **kw)
    db.session.commit()
    return c


def edit_form(contract: Contract, **over) -> dict:
    data = {
        "registration_no": contract.registration_no, "title": contract.title, "contract_type": contract.contract_type,
        "subtype": contract.subtype, "amount": str(contract.amount), "tech_amount": str(contract.tech_amount),
        "signed_on": contract.signed_on.isoformat(), "buyer_region_id": str(contract.buyer_region_id),
        "seller_region_id": str(contract.seller_region_id), "field_id": str(contract.field_id or 0),
        "version": str(contract.version),
    }
    data.update(over)
    return data


# --- item 4: totals past int64 fen --------------------------------------------------------------------------

BIG = Decimal("8999999999999999.99")  # 16 digits: the most NUMERIC(18, 2) holds is 9999999999999999.99
BIG_APRIL = Decimal("7777777777777777.77")


def test_totals_past_int64_fen_are_exact_everywhere(app, world, runner, login_as, tmp_path):
    """20 contracts (14 near the largest amount the database holds, in one month) add up to 1.57×10^19 fen, past
    int64's 9.22×10^18: the register's totals, the dashboard (summary and contracts table), its export, the CLI
    and the broker's record all equal the Decimal sum to the fen, on SQLite and PostgreSQL."""
    app.config["CONTRACT_MAX_AMOUNT_YUAN"] = Decimal("9000000000000000.00")  # this test only: 9000万亿元
    march = [BIG] * 14 + [Decimal("0.01"), Decimal("12345.67")]
    april = [BIG_APRIL] * 4
    rows = [(f"2025-X-{i}", f"{a}", f"{a}", f"2025-03-{1 + i % 28:02d}") for i, a in enumerate(march)]
    rows += [(f"2025-Y-{i}", f"{a:,}", "1.00", f"2025-04-{10 + i:02d}") for i, a in enumerate(april)]  # 7,777,…
    path = tmp_path / "contracts.csv"
    path.write_text(csv_rows(rows), encoding="utf-8")
    result = runner.invoke(args=["import", "contracts", str(path)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()

    march_total, april_total = sum(march, Decimal("0.00")), sum(april, Decimal("0.00"))
    total = march_total + april_total
    tech_total = march_total + Decimal("4.00")
    assert march_total * 100 > 2**63 and total * 100 > 2**63  # one summary row alone passes int64 fen
    if db.engine.dialect.name == "sqlite":  # what every total was before: a plain SUM over integer fen
        with pytest.raises(OperationalError, match="integer overflow"):
            db.session.execute(text("SELECT SUM(amount) FROM contracts")).all()
        db.session.rollback()

    # the register's totals (/contracts/)
    page = login_as("admin").get("/contracts/")
    assert page.status_code == 200
    totals = page.get_data(as_text=True).split('id="contract-totals"')[1].split("</div>")[0]
    assert f"<strong>20</strong> 份" in totals
    assert f'合同成交额 <strong><span class="wan" title="{format_yuan(total)}">{format_wan(total)}</span></strong>' in totals
    assert f'技术交易额 <strong><span class="wan" title="{format_yuan(tech_total)}">{format_wan(tech_total)}</span></strong>' in totals

    # the dashboard's figures, from the monthly summary and straight from the contracts
    year = stats.Period.year(2025)
    for use_summary in (True, False):
        figures = stats.totals(scope=None, period=year, use_summary=use_summary)
        for side in ("b", "s", "i", "e"):
            assert (figures[side].n, figures[side].amount, figures[side].tech_amount) == (20, total, tech_total)
        months = {row.key: row for row in stats.by_month(scope=None, period=year, use_summary=use_summary)}
        assert months["2025-03"]["b"].amount == march_total and months["2025-04"]["s"].amount == april_total
        county = {row.name: row for row in stats.by_region(scope=None, period=year, level="county",
                                                           use_summary=use_summary)}
        assert county["怀远县"]["b"].amount == total
    assert stats.summary_drift() == []

    official = login_as("city_official")
    page = official.get("/dashboard/?period=year&year=2025").get_data(as_text=True)
    assert f'title="{format_yuan(total)}">{format_wan(total)}' in page
    export = official.get("/dashboard/export?table=month&format=csv&period=year&year=2025").data.decode("utf-8-sig")
    table = {row[0]: row for row in csv.reader(io.StringIO(export)) if row}
    # 万元 then the exact 元 for each amount (issue 17 item 8): the 元 columns are the records' sums to the fen
    assert [table["合计"][i] for i in (1, 3, 5)] == ["20", f"{total:.2f}", f"{tech_total:.2f}"]
    assert table["合计"][2] == f"{(total / 10000).quantize(Decimal('0.01'), rounding='ROUND_HALF_UP'):.2f}"
    assert table["2025年3月"][3] == f"{march_total:.2f}"

    # the CLI prints the same figures
    result = runner.invoke(args=["stats", "contracts", "--year", "2025", "--by", "month", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["total"] == {"count": 20, "amount": f"{total:.2f}", "tech_amount": f"{tech_total:.2f}"}
    assert {r["key"]: r["amount"] for r in out["rows"]}["2025-03"] == f"{march_total:.2f}"

    # the broker's record, payments included
    broker = world.users.broker
    db.session.execute(update(Contract).values(broker_id=broker.id))
    for contract in db.session.scalars(select(Contract)):
        db.session.add(Payment(contract_id=contract.id, paid_on=contract.signed_on, amount=contract.amount,
                               recorded_by_id=broker.id))
    db.session.commit()
    record = broker_record(broker)
    assert (record["contracts"], record["amount"], record["tech_amount"], record["paid"]) == (20, total, tech_total,
                                                                                              total)

    # voiding one (the trigger takes it out of the summary row it shares with 15 others)
    first = db.session.scalar(select(Contract).where(Contract.registration_no == "2025-X-0"))
    db.session.execute(update(Contract).where(Contract.id == first.id).values(voided=True))
    db.session.commit()
    for use_summary in (True, False):
        assert stats.totals(scope=None, period=year, use_summary=use_summary)["e"].amount == total - BIG
    assert stats.summary_drift() == []


# --- item 4: the ceiling on every path ----------------------------------------------------------------------

def test_the_ceiling_is_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKET_INSTANCE_DIR", str(tmp_path))
    assert Config().CONTRACT_MAX_AMOUNT_YUAN == Decimal("10000000000.00")  # 100亿元
    monkeypatch.setenv("CONTRACT_MAX_AMOUNT_YUAN", "5000000000")
    assert Config().CONTRACT_MAX_AMOUNT_YUAN == Decimal("5000000000.00")
    for bad in ("0", "-1", "abc", "1e20", "10000000000000000", "0.001", "NaN"):
        with pytest.raises(ValueError):
            parse_contract_ceiling(bad)


@pytest.mark.parametrize("amount, tech", [("10000000000.01", "1.00"), ("20000000000000", "1.00"),
                                          ("10000000000.00", "10000000000.01")])
def test_over_the_ceiling_is_refused_on_the_form(world, login_as, amount, tech):
    resp = post(login_as("official"), "/contracts/new", terms(world, amount=amount, tech_amount=tech))
    assert_refused(resp, CEILING_MESSAGE)
    assert count(Contract) == 0


def test_the_ceiling_itself_is_accepted_and_the_configured_one_applies(app, world, login_as):
    official = login_as("official")
    resp = post(official, "/contracts/new", terms(world, amount="10000000000.00", tech_amount="10000000000.00"))
    assert resp.status_code == 302
    assert db.session.scalar(select(Contract.amount)) == Decimal("10000000000.00")
    app.config["CONTRACT_MAX_AMOUNT_YUAN"] = Decimal("1000000.00")
    resp = post(official, "/contracts/new", terms(world, registration_no="2026340300000124", amount="1000000.01"))
    assert_refused(resp, "合同成交额超过单份合同上限（100万元）")
    assert count(Contract) == 1


def test_over_the_ceiling_is_refused_on_edit(world, login_as):
    contract = a_contract(world, amount=Decimal("500000.00"))
    resp = post(login_as("city_official"), f"/contracts/{contract.id}/edit",
                edit_form(contract, amount="10000000000.01"))
    assert_refused(resp, CEILING_MESSAGE)
    db.session.refresh(contract)
    assert (contract.amount, contract.version) == (Decimal("500000.00"), 1)
    assert count(ContractAudit) == 0


def test_over_the_ceiling_is_refused_when_signing_a_deal(world, login_as):
    pair = published_pair(world)
    deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=pair.demand,
                          achievement=pair.achievement, broker=world.users.broker, stage="negotiating")
    db.session.commit()
    resp = post(login_as("broker"), f"/contracts/from-deal/{deal.id}",
                terms(world, amount="99999999999.99", tech_amount="1.00", version=str(deal.version)))
    assert_refused(resp, CEILING_MESSAGE)
    assert count(Contract) == 0 and db.session.get(Deal, deal.id).stage == "negotiating"


def test_over_the_ceiling_is_refused_by_the_web_import(world, login_as):
    body = csv_rows([("2026-A-1", "1000.00", "1.00", "2026-01-05"),
                     ("2026-A-2", "10000000000.01", "1.00", "2026-01-05"),
                     ("2026-A-3", "1000.00", "1000000000000.00", "2026-01-05")])
    resp = post(login_as("official"), "/contracts/import",
                {"file": (io.BytesIO(body.encode()), "contracts.csv")}, content_type="multipart/form-data")
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert f"合同成交额：金额{CEILING_MESSAGE}" in page and f"技术交易额：金额{CEILING_MESSAGE}" in page
    assert count(Contract) == 0


def test_over_the_ceiling_is_refused_by_the_cli_import(world, runner, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(csv_rows([("2026-B-1", "1000000000000", "1", "2026-01-05")]), encoding="utf-8")
    result = runner.invoke(args=["import", "contracts", str(path)])
    assert result.exit_code == 1
    assert f"合同成交额：金额{CEILING_MESSAGE}" in result.output and "未导入任何合同" in result.output
    assert count(Contract) == 0


def test_a_payment_over_the_ceiling_is_refused(world, login_as):
    contract = a_contract(world, amount=Decimal("10000000000.00"))
    resp = post(login_as("broker"), f"/contracts/{contract.id}/payments",
                {"paid_on": date.today().isoformat(), "amount": "10000000000.01", "form_token": form_token("p")})
    assert_refused(resp, f"到账金额{CEILING_MESSAGE}")
    assert count(Payment) == 0


# --- item 7: payments ------------------------------------------------------------------------------------------

def pay(client, contract, amount: str, paid_on: date, token: str):
    return post(client, f"/contracts/{contract.id}/payments",
                {"paid_on": paid_on.isoformat(), "amount": amount, "form_token": form_token(token)})


def test_the_amount_cannot_drop_below_what_was_received(world, login_as):
    signed = date.today() - timedelta(days=30)
    contract = a_contract(world, amount=Decimal("100.00"), tech_amount=Decimal("1.00"), signed_on=signed)
    assert pay(login_as("broker"), contract, "71.00", signed + timedelta(days=3), "p").status_code == 302
    official = login_as("city_official")  # an official over both parties' regions may change the figures
    for amount in ("1.00", "70.99"):
        resp = post(official, f"/contracts/{contract.id}/edit", edit_form(contract, amount=amount))
        assert_refused(resp, "合同成交额不能低于已到账金额（71.00元）")
    # nor the signing date moved after a payment already received
    resp = post(official, f"/contracts/{contract.id}/edit",
                edit_form(contract, signed_on=(signed + timedelta(days=4)).isoformat()))
    assert_refused(resp, f"签订日期不能晚于已登记的最早到账日期（{(signed + timedelta(days=3)).isoformat()}）")
    db.session.refresh(contract)
    assert (contract.amount, contract.signed_on, contract.version) == (Decimal("100.00"), signed, 1)
    assert count(ContractAudit, ContractAudit.action == "edit") == 0
    # down to exactly what was received, and the date up to the payment's, is fine
    resp = post(official, f"/contracts/{contract.id}/edit",
                edit_form(contract, amount="71.00", signed_on=(signed + timedelta(days=3)).isoformat()))
    assert resp.status_code == 302
    db.session.refresh(contract)
    assert contract.amount == Decimal("71.00")


def test_a_payment_before_signing_or_after_today_is_refused(world, login_as):
    signed = date.today() - timedelta(days=10)
    contract = a_contract(world, amount=Decimal("1000.00"), signed_on=signed)
    broker = login_as("broker")
    resp = pay(broker, contract, "10.00", date(1990, 1, 1), "a")
    assert_refused(resp, f"到账日期不能早于合同签订日期（{signed.isoformat()}）")
    assert_refused(pay(broker, contract, "10.00", signed - timedelta(days=1), "b"), "不能早于合同签订日期")
    assert_refused(pay(broker, contract, "10.00", date.today() + timedelta(days=1), "c"), "到账日期不能晚于今天")
    assert count(Payment) == 0
    assert pay(broker, contract, "10.00", signed, "d").status_code == 302
    assert pay(broker, contract, "10.00", date.today(), "e").status_code == 302
    assert count(Payment) == 2


@pytest.mark.parametrize("typed", ["1,0,0", "1,0000", "12,34", ",100", "100,", "1,000,00", "1.000,50", "1,,000"])
def test_misplaced_thousands_separators_are_refused(world, login_as, typed):
    official = login_as("official")
    resp = post(official, "/contracts/new", terms(world, amount=typed, tech_amount="1.00"))
    assert_refused(resp, "千分位逗号位置不正确")
    assert count(Contract) == 0
    contract = a_contract(world, amount=Decimal("1000.00"))
    assert_refused(pay(official, contract, typed, date.today(), "p"), "千分位逗号位置不正确")
    assert count(Payment) == 0


def test_well_formed_thousands_separators_are_read_exactly(world, login_as):
    official = login_as("official")
    resp = post(official, "/contracts/new", terms(world, amount="1,234,567.89", tech_amount="1,000"))
    assert resp.status_code == 302
    contract = db.session.scalar(select(Contract))
    assert (contract.amount, contract.tech_amount) == (Decimal("1234567.89"), Decimal("1000.00"))


def test_a_zero_contract_is_refused(world, login_as, runner, tmp_path):
    official = login_as("official")
    for amount in ("0", "0.00"):
        resp = post(official, "/contracts/new", terms(world, amount=amount, tech_amount="0"))
        assert_refused(resp, "合同成交额须大于0元")
    body = csv_rows([("2026-Z-1", "0.00", "0.00", "2026-01-05")])
    resp = post(official, "/contracts/import", {"file": (io.BytesIO(body.encode()), "zero.csv")},
                content_type="multipart/form-data")
    assert resp.status_code == 400 and "合同成交额须大于0元" in resp.get_data(as_text=True)
    path = tmp_path / "zero.csv"
    path.write_text(body, encoding="utf-8")
    result = runner.invoke(args=["import", "contracts", str(path)])
    assert result.exit_code == 1 and "合同成交额须大于0元" in result.output
    contract = a_contract(world, amount=Decimal("10.00"))
    resp = post(login_as("city_official"), f"/contracts/{contract.id}/edit",
                edit_form(contract, amount="0.00", tech_amount="0.00"))
    assert_refused(resp, "合同成交额须大于0元")
    assert count(Contract) == 1 and db.session.get(Contract, contract.id).amount == Decimal("10.00")
