"""The whole 技术合同登记表 (issue 16 item 3): reference codes as data, the 登记编号 structure, the form grouped as
the paper form, the 技术交易额 worksheet to the fen, and the national columns round trip."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from market.contracts import regcodes
from market.contracts.regform import registration_problems, worksheet_tech_amount
from market.contracts.regno import RegNoError, format_regno, parse_regno, regno_problem
from market.data.reg_codes import DEFAULT_REG_CODES
from market.extensions import db
from market.models import Contract, ContractAudit, RegCode
from tests import factories
from tests.helpers import form_token, post


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


@pytest.fixture(autouse=True)
def _disclosed(request):
    """The university's transfer to 怀远甲企业 at 500000 元 had its 协议定价 公示 (issue 20): these tests are about the
    登记表, not that rule (tests/test_transfers.py)."""
    if "world" in request.fixturenames:
        world = request.getfixturevalue("world")
        factories.cleared_disclosure(seller=world.orgs.uni, buyer_name=world.orgs.ent_a.name, price=Decimal("500000.00"))
        db.session.commit()


def manual(world, **over) -> dict:
    data = {
        "registration_no": "202634032101000123",
        "title": "透明导电膜制备技术转让合同",
        "contract_type": "transfer",
        "subtype": "software",
        "amount": "500000.00",
        "tech_amount": "",
        "signed_on": date.today().isoformat(),
        "buyer_name": "怀远甲企业有限公司",
        "seller_name": "蚌埠测试大学",
        "buyer_region_id": str(world.regions["town_a"].id),
        "seller_region_id": str(world.regions["city"].id),
        "field_id": str(world.fields["materials"].id),
        "buyer_legal_form": "170",
        "seller_legal_form": "",
        "ip_type": "3",
        "reg_field": "01",
        "plan_source": "5",
        "socio_goal": "10",
        "expected_investment": "2000000.00",
        "expected_output": "8000000.00",
        "nontech_equipment": "30000.00",
        "nontech_materials": "0",
        "nontech_other": "1200.50",
        "form_token": form_token(),
    }
    data.update(over)
    return data


def at_field(page: str, name: str) -> str:
    """The page from a field's input to the next input: where its error message sits."""
    rest = page[page.index(f'name="{name}"'):]
    return rest[:rest.find('name="', 10)]


def the_contract() -> Contract | None:
    return db.session.scalar(select(Contract))


# --- reference codes ----------------------------------------------------------------------------------------

def test_every_kind_is_seeded_with_its_real_codes(world):
    assert len(regcodes.labels("reg_field")) == 11
    assert regcodes.labels("reg_field")["05"] == "生物医药和医疗器械"
    assert set(regcodes.labels("plan_source").values()) == {"国家计划", "部门计划", "省级计划", "地市县计划", "计划外"}
    assert {"技术秘密", "专利", "计算机软件著作权", "集成电路布图设计", "动植物新品种", "生物医药新品种", "未涉及"} \
        == set(regcodes.labels("ip_type").values())
    goals = set(regcodes.labels("socio_goal").values())
    assert {"卫生事业发展", "农林牧渔业发展", "工商业发展", "国防", "其他"} <= goals and len(goals) >= 12
    legal = dict(regcodes.choices("legal_form"))
    # headings (事业法人, 内资企业) are not chosen; leaves carry their path
    assert "020" not in legal and "100" not in legal
    assert legal["022"] == "事业法人 / 高等院校"
    assert legal["110"] == "企业法人 / 内资企业 / 国有企业"
    assert legal["300"] == "企业法人 / 外商投资企业" and legal["400"] == "个人" and legal["010"] == "机关法人"
    assert len(DEFAULT_REG_CODES) == db.session.scalar(select(db.func.count()).select_from(RegCode))


def test_codes_admin_edits_adds_and_deactivates(world, login_as):
    admin = login_as("admin")
    page = admin.get("/admin/reg-codes?kind=ip_type")
    assert page.status_code == 200 and "计算机软件著作权" in page.get_data(as_text=True)
    code = db.session.scalar(select(RegCode).where(RegCode.kind == "ip_type", RegCode.code == "5"))
    resp = post(admin, f"/admin/reg-codes/{code.id}", {"label": "植物新品种", "sort": "5", "active": "y"})
    assert resp.status_code == 302
    assert regcodes.labels("ip_type")["5"] == "植物新品种"
    resp = post(admin, "/admin/reg-codes/new", {"kind": "ip_type", "code": "7", "label": "数据知识产权", "sort": "8",
                                              "parent_code": ""})
    assert resp.status_code == 302 and regcodes.labels("ip_type")["7"] == "数据知识产权"
    resp = post(admin, f"/admin/reg-codes/{code.id}", {"label": "植物新品种", "sort": "5"})  # active unticked
    assert resp.status_code == 302
    assert "5" not in regcodes.active_codes("ip_type") and regcodes.labels("ip_type")["5"] == "植物新品种"
    # a deactivated code is refused on new contracts
    assert "ip_type" in registration_problems({"ip_type": "5"})


@pytest.mark.parametrize("data, message", [
    ({"kind": "ip_type", "code": "1", "label": "重复", "sort": "1", "parent_code": ""}, "已存在"),
    ({"kind": "ip_type", "code": "a b", "label": "空格", "sort": "1", "parent_code": ""}, "代码"),
    ({"kind": "bogus", "code": "8", "label": "未知类别", "sort": "1", "parent_code": ""}, "类别"),
    ({"kind": "legal_form", "code": "150", "label": "", "sort": "1", "parent_code": ""}, "名称"),
    ({"kind": "legal_form", "code": "171", "label": "私营独资", "sort": "1", "parent_code": "999"}, "上级代码"),
])
def test_codes_admin_refuses_bad_input_and_stores_nothing(world, login_as, data, message):
    before = db.session.scalar(select(db.func.count()).select_from(RegCode))
    resp = post(login_as("admin"), "/admin/reg-codes/new", data)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(RegCode)) == before


@pytest.mark.parametrize("role", ["enterprise", "institution", "broker", "official", "city_official", "unverified"])
def test_only_administrators_keep_the_codes(world, login_as, role):
    code = db.session.scalar(select(RegCode).where(RegCode.kind == "ip_type", RegCode.code == "1"))
    c = login_as(role)
    assert c.get("/admin/reg-codes").status_code in (403, 404)
    assert post(c, f"/admin/reg-codes/{code.id}", {"label": "改名", "sort": "1", "active": "y"}).status_code in (403, 404)
    assert post(c, "/admin/reg-codes/new", {"kind": "ip_type", "code": "8", "label": "新", "sort": "1"}).status_code \
        in (403, 404)
    db.session.expire_all()
    assert regcodes.labels("ip_type")["1"] == "技术秘密" and "8" not in regcodes.labels("ip_type")


# --- 登记编号 -----------------------------------------------------------------------------------------------

def test_regno_structure():
    number = format_regno(year=2026, division="340321", point=1, seq=123)
    assert number == "202634032101000123"
    parsed = parse_regno(number)
    assert (parsed.year, parsed.division, parsed.point, parsed.seq) == (2026, "340321", 1, 123)
    assert str(parsed) == number
    assert parse_regno("2026340300000123").point == 0  # the national system's 16 digits
    for bad, reason in [("20263403210100012", "18位"), ("202634032100000123", "序号"), ("202699999901000123", "行政区划"),
                        ("197034032101000123", "年份"), ("202634032101000000", "流水号"), ("２０２６３４０３２１０１０００１２３", "18位")]:
        with pytest.raises(RegNoError) as err:
            parse_regno(bad)
        assert reason in str(err.value), bad
    assert regno_problem("HT-2025-0001") is None  # an older contract's own number is not ours to judge
    with pytest.raises(ValueError):
        format_regno(year=2026, division="340321", point=100, seq=1)


@given(year=st.integers(1985, 2099), point=st.integers(1, 99), seq=st.integers(1, 999_999),
       division=st.sampled_from(["340321", "340300", "110105", "310115", "340104"]))
def test_regno_round_trips(year, point, seq, division):
    parsed = parse_regno(format_regno(year=year, division=division, point=point, seq=seq))
    assert (parsed.year, parsed.division, parsed.point, parsed.seq) == (year, division, point, seq)


def test_a_typed_regno_is_checked_and_the_error_sits_at_the_field(world, login_as):
    c = login_as("official")
    resp = post(c, "/contracts/new", manual(world, registration_no="202699999901000123"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "行政区划代码" in at_field(page, "registration_no")
    assert "202699999901000123" in page  # what was typed is kept
    assert the_contract() is None


# --- the form ---------------------------------------------------------------------------------------------

def test_the_form_is_grouped_as_the_paper_form(world, login_as):
    page = login_as("official").get("/contracts/new").get_data(as_text=True)
    groups = ["合同基本信息", "卖方", "买方", "技术内容", "金额与核定"]
    positions = [page.index(f'id="group-{g}"') for g in ("basic", "seller", "buyer", "content", "money")]
    assert positions == sorted(positions) and all(title in page for title in groups)
    for name in ("seller_legal_form", "buyer_legal_form", "ip_type", "reg_field", "plan_source", "socio_goal",
                 "expected_investment", "expected_output", "nontech_equipment", "nontech_materials", "nontech_other"):
        assert f'name="{name}"' in page, name
    money = page[page.index('id="group-money"'):]
    assert money.index('name="nontech_equipment"') < money.index('name="tech_amount"')


def test_a_contract_with_every_field_and_its_worksheet(world, login_as):
    c = login_as("official")
    resp = post(c, "/contracts/new", manual(world))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    contract = the_contract()
    assert contract.tech_amount == Decimal("468799.50")  # 500000.00 − 30000.00 − 0 − 1200.50
    assert (contract.nontech_equipment, contract.nontech_materials, contract.nontech_other) == \
        (Decimal("30000.00"), Decimal("0.00"), Decimal("1200.50"))
    assert contract.has_worksheet and contract.subtype == "software"
    assert (contract.buyer_legal_form, contract.ip_type, contract.reg_field, contract.plan_source,
            contract.socio_goal) == ("170", "3", "01", "5", "10")
    assert contract.seller_legal_form == "022"  # left blank: the university's default
    assert (contract.expected_investment, contract.expected_output) == (Decimal("2000000.00"), Decimal("8000000.00"))
    detail = c.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "500000.00 − 设备 30000.00 − 原材料 0.00 − 其他非技术费用 1200.50 = 468799.50 元" in detail
    assert "计算机软件著作权" in detail and "私营企业" in detail


def test_a_typed_tech_amount_that_disagrees_with_the_worksheet_is_refused_at_the_field(world, login_as):
    c = login_as("official")
    resp = post(c, "/contracts/new", manual(world, tech_amount="468799.49"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and the_contract() is None
    assert "与核算表不符" in at_field(page, "tech_amount") and "468799.50" in at_field(page, "tech_amount")
    assert post(c, "/contracts/new", manual(world, tech_amount="468799.50")).status_code == 302
    assert the_contract().tech_amount == Decimal("468799.50")


def test_deductions_above_the_amount_and_bad_codes_are_refused(world, login_as):
    c = login_as("official")
    resp = post(c, "/contracts/new", manual(world, nontech_equipment="499999.00", nontech_other="1.01"))
    assert resp.status_code == 400 and "合计超过合同成交额" in at_field(resp.get_data(as_text=True), "nontech_other")
    resp = post(c, "/contracts/new", manual(world, reg_field="12", ip_type="x", buyer_legal_form="100"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "登记技术领域无效" in page and "知识产权类型无效" in page and "买方法人性质无效" in page
    assert the_contract() is None


def test_no_worksheet_keeps_the_typed_tech_amount(world, login_as):
    c = login_as("official")
    data = manual(world, tech_amount="450000.00", nontech_equipment="", nontech_materials="", nontech_other="")
    assert post(c, "/contracts/new", data).status_code == 302
    contract = the_contract()
    assert contract.tech_amount == Decimal("450000.00") and not contract.has_worksheet


def test_an_edit_keeps_an_old_number_and_audits_the_new_fields(world, login_as):
    contract = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, registration_no="2026340300000123",
                                  amount=Decimal("100000.00"), tech_amount=Decimal("100000.00"))
    contract.registration_no = "20263403000123"  # an older contract's number of 14 digits: kept on edit
    db.session.commit()
    c = login_as("city_official")
    page = c.get(f"/contracts/{contract.id}/edit").get_data(as_text=True)
    assert 'name="reg_field"' in page
    data = {"registration_no": "20263403000123", "title": contract.title, "contract_type": contract.contract_type,
            "subtype": contract.subtype, "amount": "100000.00", "tech_amount": "",
            "signed_on": contract.signed_on.isoformat(), "buyer_region_id": str(contract.buyer_region_id),
            "seller_region_id": str(contract.seller_region_id), "field_id": "0", "reg_field": "06",
            "nontech_equipment": "", "nontech_materials": "20000.00", "nontech_other": "",
            "version": str(contract.version)}
    resp = post(c, f"/contracts/{contract.id}/edit", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    db.session.expire_all()
    contract = db.session.get(Contract, contract.id)
    assert contract.tech_amount == Decimal("80000.00") and contract.reg_field == "06"
    changed = set(db.session.scalars(select(ContractAudit.field_name).where(ContractAudit.contract_id == contract.id,
                                                                            ContractAudit.action == "edit")))
    assert {"tech_amount", "reg_field", "nontech_materials"} <= changed


fen = st.integers(0, 10**12).map(lambda n: Decimal(n) / 100)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(1, 10**12).map(lambda n: Decimal(n) / 100), parts=st.lists(st.none() | fen, min_size=3, max_size=3))
def test_worksheet_arithmetic_is_exact_to_the_fen(world, amount, parts):
    data = {"amount": amount, "tech_amount": None, "nontech_equipment": parts[0], "nontech_materials": parts[1],
            "nontech_other": parts[2]}
    errors = registration_problems(data)
    given_parts = [p for p in parts if p is not None]
    expected = amount - sum(given_parts, Decimal(0))
    if not given_parts:
        assert data["tech_amount"] is None and not errors
    elif expected < 0:
        assert "nontech_other" in errors
    else:
        assert not errors and data["tech_amount"] == expected
        assert data["tech_amount"] + sum(given_parts, Decimal(0)) == amount  # adds up to the fen
        off = dict(data, tech_amount=expected + Decimal("0.01"))
        assert "tech_amount" in registration_problems(off)
    assert worksheet_tech_amount(amount, parts) == expected.quantize(Decimal("0.01"))


# --- national columns: export, import, round trip ---------------------------------------------------------

ROUND_TRIP_COLUMNS = ("registration_no", "title", "contract_type", "subtype", "amount", "tech_amount", "signed_on",
                      "term_start", "term_end", "buyer_country", "seller_country", "buyer_division", "seller_division",
                      "seller_legal_form", "buyer_legal_form", "ip_type", "reg_field", "plan_source", "socio_goal",
                      "expected_investment", "expected_output", "nontech_equipment", "nontech_materials",
                      "nontech_other")


def record(c: Contract) -> dict:
    """Every field of a contract, references by their natural keys (names, codes), as a fresh database has them."""
    out = {name: getattr(c, name) for name in ROUND_TRIP_COLUMNS}
    out.update(buyer=c.buyer_org.name, seller=c.seller_org.name,
               buyer_region=c.buyer_region.code if c.buyer_region else None,
               seller_region=c.seller_region.code if c.seller_region else None,
               field=c.field.code if c.field else None)
    return out


def _outside_org(name: str, *, division: str | None, country: str = "CN"):
    from market.models import Organization

    org = Organization(name=name, org_type="enterprise", status="pending", region_id=None, division_code=division,
                       country=country)
    db.session.add(org)
    db.session.flush()
    return org


def national_contracts(world) -> list[Contract]:
    from market.divisions import region_division

    r = world.regions
    town, city = r["town_a"], r["city"]
    shanghai = _outside_org("上海示例软件有限公司", division="310115")
    munich = _outside_org("Beispiel Technik GmbH", division=None, country="DE")
    common = dict(buyer_division=region_division(town))
    made = [
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, registration_no="202634032101000001",
                           contract_type="transfer", subtype="ic_layout", amount=Decimal("12345678.91"),
                           tech_amount=Decimal("12000000.40"), field=world.fields["materials"],
                           term_start=date(2026, 1, 1), term_end=date(2027, 12, 31), seller_division=region_division(city),
                           seller_legal_form="022", buyer_legal_form="150", ip_type="4", reg_field="06",
                           plan_source="3", socio_goal="10", expected_investment=Decimal("5000000.00"),
                           expected_output=Decimal("30000000.01"), nontech_equipment=Decimal("345678.51"),
                           nontech_materials=Decimal("0.00"), nontech_other=None, **common),
        factories.contract(buyer=world.orgs.ent_a, seller=shanghai, seller_region=None, seller_division="310115",
                           registration_no="2026340300000777", contract_type="license",
                           subtype="software_license", amount=Decimal("0.01"), tech_amount=Decimal("0.01"),
                           seller_legal_form="170", buyer_legal_form="160", ip_type="3", reg_field="01",
                           plan_source="5", socio_goal="99", **common),
        factories.contract(buyer=world.orgs.ent_a, seller=munich, seller_region=None, seller_country="DE",
                           registration_no="HT-2025/0001", contract_type="service", subtype="training",
                           title="=SUM(A1:A2) 培训", amount=Decimal("9999999999.99"),
                           tech_amount=Decimal("9999999999.99"), seller_legal_form="300", **common),
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, registration_no="2025-N-9",
                           contract_type="consulting", amount=Decimal("100.00"), tech_amount=Decimal("50.00"),
                           seller_division=region_division(city), **common),
    ]
    db.session.commit()
    return made


def _empty_contracts() -> None:
    """A database without contracts, and without the organisations only they named (an empty register)."""
    from market.models import ContractMonthStat, Organization, User

    db.session.execute(ContractAudit.__table__.delete())
    db.session.execute(Contract.__table__.delete())
    db.session.execute(ContractMonthStat.__table__.delete())
    used = select(User.org_id).where(User.org_id.is_not(None))
    db.session.execute(Organization.__table__.delete().where(Organization.id.not_in(used)))
    db.session.commit()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_re_imports_to_the_same_records(world, login_as, fmt):
    from market.contracts.importer import LAYOUT, import_contracts
    from market.imports import read_rows
    from market.models import Organization

    national_contracts(world)
    before = {c.registration_no: record(c) for c in db.session.scalars(select(Contract))}
    places = {o.name: (o.division_code, o.country) for o in db.session.scalars(select(Organization))}
    resp = login_as("admin").get(f"/contracts/export.{fmt}?columns=national")
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    payload = resp.data
    if fmt == "csv":
        text = payload.decode("utf-8-sig")
        header = text.splitlines()[0]
        assert header.startswith("合同登记编号,项目名称,合同类别,合同子类,合同签订日期")
        assert "合同成交额（万元）" in header and "'=SUM(A1:A2) 培训" in text
        assert "1234.567891" in text  # 12345678.91 元 in 万元, to the fen
    _empty_contracts()
    assert db.session.scalar(select(db.func.count()).select_from(Contract)) == 0
    rows = read_rows(payload, name=f"contracts.{fmt}", layout=LAYOUT)
    report = import_contracts(rows=rows, user=world.users.admin)
    assert report.stored and not report.bad, report.bad
    db.session.commit()
    after = {c.registration_no: record(c) for c in db.session.scalars(select(Contract))}
    assert after == before
    for name in ("上海示例软件有限公司", "Beispiel Technik GmbH"):
        org = db.session.scalar(select(Organization).where(Organization.name == name))
        assert (org.division_code, org.country) == places[name]


def test_the_national_columns_are_checked_row_by_row(world):
    from market.contracts.importer import import_contracts

    base = {"合同登记编号": "202634032101000010", "合同类别": "技术转让", "合同子类": "计算机软件著作权转让",
            "卖方名称": "蚌埠测试大学", "买方名称": "怀远甲企业有限公司", "买方区域": "340321", "卖方区域": "340300",
            "合同成交额（万元）": "50", "设备费（万元）": "3", "合同签订日期": "2026-03-01", "卖方性质": "高等院校",
            "知识产权类型": "计算机软件著作权", "登记技术领域": "01", "计划来源": "计划外", "社会经济目标": "工商业发展"}
    from market.contracts.importer import HEADER_KEYS

    def row(**over):
        data = {**base, **over}
        return {HEADER_KEYS[k]: v for k, v in data.items()}

    rows = [(2, row()),
            (3, row(**{"合同登记编号": "202634032101000011", "技术交易额（万元）": "46.999999"})),
            (4, row(**{"合同登记编号": "202634032101000012", "知识产权类型": "商标"})),
            (5, row(**{"合同登记编号": "202699999901000013"})),
            (6, row(**{"合同登记编号": "202634032101000014", "合同成交额（元）": "500000"}))]
    report = import_contracts(rows=rows, user=world.users.admin, skip_bad=True)
    db.session.commit()
    reasons = {bad.line: bad.reason for bad in report.bad}
    assert set(reasons) == {3, 4, 5, 6}
    assert "与核算表不符" in reasons[3] and "知识产权类型" in reasons[4] and "行政区划代码" in reasons[5]
    assert "只填一列" in reasons[6]
    contract = db.session.scalar(select(Contract))
    assert (contract.amount, contract.tech_amount, contract.nontech_equipment) == (
        Decimal("500000.00"), Decimal("470000.00"), Decimal("30000.00"))
    assert (contract.seller_legal_form, contract.ip_type, contract.plan_source, contract.socio_goal, contract.subtype) \
        == ("022", "3", "5", "10", "software")
