"""The contract register: signing from a deal, direct entry, money, edits and audit, voiding, payments, scans."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from market.extensions import db
from market.models import Contract, ContractAudit, Deal, DealEvent, FormSubmission, ListingEvent, Organization, Payment
from market.money import parse_yuan
from tests import factories
from tests.helpers import INSIDERS, OUTSIDER_REFUSALS, OUTSIDERS, count, form_token, is_login_redirect, login, post, \
    published_pair, statuses


def make_pdf(*, xref_shift: int = 0) -> bytes:
    """A small well-formed PDF: header, three objects, a cross-reference table giving their offsets, a trailer
    naming the catalog, startxref and %%EOF (`xref_shift` moves every listed offset, as a broken file would)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    out, offsets = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{at + xref_shift:010d} 00000 n \n".encode() for at in offsets)
    return out + f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()


PDF = make_pdf()


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


@pytest.fixture
def market(world):
    """A published need and result, and their deal (opened by an accepted interest) in negotiation with the broker."""
    market = published_pair(world)
    market.deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=market.demand,
                                 achievement=market.achievement, broker=world.users.broker, stage="negotiating",
                                 from_interest=True)
    db.session.commit()
    return market


def terms(world, **over) -> dict:
    data = {
        "registration_no": "2026340300000123",
        "title": "透明导电膜制备技术开发合同",
        "contract_type": "development",
        "subtype": "commissioned",
        "amount": "500000.00",
        "tech_amount": "450000.00",
        "signed_on": date.today().isoformat(),
        "buyer_region_id": str(world.regions["town_a"].id),
        "seller_region_id": str(world.regions["city"].id),
        "field_id": str(world.fields["materials"].id),
        "form_token": form_token("c"),
    }
    data.update(over)
    return data


def manual(world, **over) -> dict:
    return terms(world, **({"buyer_name": "怀远甲企业有限公司", "seller_name": "蚌埠测试大学"} | over))


def accept_links(login_as) -> None:
    """Each owner accepts the pending links of direct entries: since issue 12 a contract entered directly links
    a need or result (and marks it done) only once its organisation confirms (tests/test_contract_links.py)."""
    from market.models import ContractListingLink

    owners = {"demand": "enterprise", "achievement": "institution"}
    for link in db.session.scalars(select(ContractListingLink).where(ContractListingLink.status == "pending")).all():
        resp = post(login_as(owners[link.kind]), f"/contracts/links/{link.id}", {"decision": "accept"})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    db.session.expire_all()


def a_contract(world, **kw) -> Contract:
    kw.setdefault("broker_id", world.users.broker.id)
    c = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, **kw)
    db.session.commit()
    return c


# --- signing from a deal -------------------------------------------------------------------------

def test_sign_from_deal_records_contract_and_marks_listings_done(world, market, login_as):
    c = login_as("broker")
    url = f"/contracts/from-deal/{market.deal.id}"
    page = c.get(url).get_data(as_text=True)
    assert re.search(r'name="version"[^>]*value="1"', page) and "签约并登记" in page
    resp = post(c, url, terms(world, version="1"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    contract = db.session.scalar(select(Contract))
    assert (contract.source, contract.deal_id, contract.demand_id, contract.achievement_id, contract.broker_id) == (
        "deal", market.deal.id, market.demand.id, market.achievement.id, world.users.broker.id)
    assert (contract.buyer_org_id, contract.seller_org_id) == (world.orgs.ent_a.id, world.orgs.uni.id)
    assert contract.amount == Decimal("500000.00") and contract.tech_amount == Decimal("450000.00")
    db.session.refresh(market.deal)
    db.session.refresh(market.demand)
    db.session.refresh(market.achievement)
    assert market.deal.stage == "signed"
    assert market.demand.status == "done" and market.demand.status_label == "已解决"
    assert market.achievement.status == "done" and market.achievement.status_label == "已转化"
    move = db.session.scalar(select(DealEvent).where(DealEvent.deal_id == market.deal.id, DealEvent.to_stage == "signed"))
    assert move.from_stage == "negotiating" and move.actor_id == world.users.broker.id
    assert count(ListingEvent, ListingEvent.to_status == "done") == 2
    assert count(ContractAudit, ContractAudit.action == "create") == 1
    page = login_as("enterprise").get(f"/demands/{market.demand.id}").get_data(as_text=True)
    assert "已解决" in page


def test_sign_is_one_transaction(world, market, login_as):
    """A refused contract leaves the deal, the listings and the token untouched."""
    c = login_as("broker")
    url = f"/contracts/from-deal/{market.deal.id}"
    resp = post(c, url, terms(world, version="1", tech_amount="600000.00"))
    assert resp.status_code == 400
    assert "技术交易额不能超过合同成交额" in resp.get_data(as_text=True)
    a_contract(world, registration_no="2026340300000123")
    resp = post(c, url, terms(world, version="1"))
    assert resp.status_code == 409 and "登记编号已存在" in resp.get_data(as_text=True)
    assert count(Contract) == 1 and count(FormSubmission) == 0
    db.session.expire_all()
    assert db.session.get(Deal, market.deal.id).stage == "negotiating"
    assert market.demand.status == "published" and market.achievement.status == "published"
    assert count(DealEvent) == 0


def test_a_deal_priced_in_public_signs_only_at_its_price(world, market, login_as):
    """A 挂牌 or 竞价 deal (deal_open_at_price) starts in 洽谈 at the public price, tells the brokers of both regions,
    and its contract must carry that price as its 合同成交额: the form starts with it and another amount is refused."""
    from market.deals.services import deal_open_at_price
    from market.models import Notification

    deal = deal_open_at_price(achievement=market.achievement, buyer_org=world.orgs.ent_a, price=Decimal("123456.78"),
                              source="auction", user=world.users.official, text="竞价成交")
    db.session.commit()
    assert (deal.stage, deal.source, deal.price, deal.broker_id) == ("negotiating", "auction", Decimal("123456.78"), None)
    assert count(Notification, Notification.user_id == world.users.broker.id, Notification.kind == "deal_unassigned") == 1
    c = login_as("broker")
    assert post(c, f"/deals/{deal.id}/claim", {"form_token": form_token("claim")}).status_code == 302
    url = f"/contracts/from-deal/{deal.id}"
    page = c.get(url).get_data(as_text=True)
    assert re.search(r'name="amount"[^>]*value="123456.78"', page), page[:3000]
    detail = c.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert re.search(r'id="deal-source"[^>]*>竞价拍卖</span> · 成交价：<span id="deal-price">123,456.78元</span>', detail)
    resp = post(c, url, terms(world, version=str(db.session.get(Deal, deal.id).version), amount="500000.00",
                              contract_type="transfer", subtype="patent"))
    assert resp.status_code == 400 and "合同成交额应为成交价 123,456.78元</div>" in resp.get_data(as_text=True), re.findall(r"invalid-feedback[^<]*<?[^<]*", resp.get_data(as_text=True))
    assert count(Contract) == 0
    # sold as a 转让 (the default of deal_open_at_price): a 许可 contract at that price is refused
    resp = post(c, url, terms(world, version=str(db.session.get(Deal, deal.id).version), amount="123456.78",
                              tech_amount="100000.00", contract_type="license", subtype="patent_license"))
    assert resp.status_code == 400 and "成交的是技术转让，合同类型应为技术转让" in resp.get_data(as_text=True)
    assert count(Contract) == 0
    resp = post(c, url, terms(world, version=str(db.session.get(Deal, deal.id).version), amount="123456.78",
                              tech_amount="100000.00", registration_no="2026340300000124", contract_type="transfer",
                              subtype="patent"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    contract = db.session.scalar(select(Contract))
    assert (contract.amount, contract.deal_id, contract.seller_org_id) == (Decimal("123456.78"), deal.id, world.orgs.uni.id)
    with pytest.raises(Exception, match="不能购买本单位的成果"):
        deal_open_at_price(achievement=market.achievement, buyer_org=world.orgs.uni, price=Decimal("1.00"),
                           source="listed", user=world.users.official, text="")


def test_sign_needs_negotiating_stage_and_the_right_person(world, market, login_as):
    deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, broker=world.users.broker, stage="contacted",
                          achievement=factories.achievement(owner=world.users.institution, field=world.fields["materials"]))
    db.session.commit()
    c = login_as("broker")
    assert c.get(f"/contracts/from-deal/{deal.id}").status_code == 302
    resp = post(c, f"/contracts/from-deal/{deal.id}", terms(world, version="1"))
    assert resp.status_code == 409 and count(Contract) == 0
    url = f"/contracts/from-deal/{market.deal.id}"
    assert post(login_as("enterprise"), url, terms(world, version="1")).status_code == 403
    assert post(login_as("institution"), url, terms(world, version="1")).status_code == 403
    assert post(login_as("official_b"), url, terms(world, version="1")).status_code == 404
    assert post(login_as("enterprise_b"), url, terms(world, version="1")).status_code == 404
    assert count(Contract) == 0
    # an official of the region may record it
    assert post(login_as("official"), url, terms(world, version="1")).status_code == 302
    assert db.session.get(Deal, market.deal.id).stage == "signed"


def test_stale_deal_version_is_refused_when_signing(world, market, login_as):
    c = login_as("broker")
    post(c, f"/deals/{market.deal.id}/note", {"text": "再谈一次价格", "form_token": form_token()})
    resp = post(c, f"/contracts/from-deal/{market.deal.id}", terms(world, version="7"))
    assert resp.status_code == 409 and count(Contract) == 0


# --- direct entry, idempotency, uniqueness -------------------------------------------------------

def test_double_submitted_contract_form_creates_one_record(world, login_as):
    c = login_as("official")
    assert post(c, "/contracts/new", manual(world)).status_code == 302
    again = post(c, "/contracts/new", manual(world))
    assert again.status_code == 409 and "请勿重复提交" in again.get_data(as_text=True)
    assert count(Contract) == 1
    other_token = post(c, "/contracts/new", manual(world, form_token=form_token("d")))
    assert other_token.status_code == 409 and "登记编号已存在" in other_token.get_data(as_text=True)
    assert count(Contract) == 1


def test_registration_number_is_unique_in_the_database(world):
    a_contract(world, registration_no="2026-0001")
    with pytest.raises(IntegrityError):
        factories.contract(buyer=world.orgs.ent_b, seller=world.orgs.uni, registration_no="2026-0001")
    db.session.rollback()
    assert count(Contract) == 1


def test_tech_amount_not_above_amount_in_the_database(world):
    with pytest.raises(IntegrityError):
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("10.00"), tech_amount=Decimal("10.01"))
    db.session.rollback()
    assert count(Contract) == 0


def test_manual_entry_creates_unknown_orgs_unverified(world, login_as):
    c = login_as("broker")
    resp = post(c, "/contracts/new", manual(world, buyer_name="怀远新兴材料有限公司"))
    assert resp.status_code == 302
    org = db.session.scalar(select(Organization).where(Organization.name == "怀远新兴材料有限公司"))
    assert org.status == "pending" and org.region_id == world.regions["town_a"].id
    contract = db.session.scalar(select(Contract))
    assert (contract.source, contract.broker_id, contract.buyer_org_id) == ("manual", world.users.broker.id, org.id)
    page = c.get(resp.headers["Location"], follow_redirects=False).get_data(as_text=True)
    assert "待认证" in page


def test_manual_entry_refusals(world, market, login_as):
    for name in ("enterprise", "institution", "unverified"):
        assert login_as(name).get("/contracts/new").status_code == 403
        assert post(login_as(name), "/contracts/new", manual(world)).status_code == 403
    # an official of county B cannot record a contract with both parties outside county B
    resp = post(login_as("official_b"), "/contracts/new", manual(world, buyer_name="怀远某新公司"))
    assert resp.status_code == 403 and "负责区域" in resp.get_data(as_text=True)
    assert db.session.scalar(select(Organization).where(Organization.name == "怀远某新公司")) is None
    c = login_as("official")
    cases = [
        (manual(world, seller_name="怀远甲企业有限公司"), "不能是同一单位"),
        (manual(world, contract_type="consulting", subtype="commissioned"), "子类只能是"),
        (manual(world, contract_type="bogus"), "请选择合同类型"),
        (manual(world, registration_no="登记号一"), "登记编号为"),
        (manual(world, signed_on=(date.today() + timedelta(days=2)).isoformat()), "不能晚于今天"),
        (manual(world, signed_on="2026/01/01"), "签订日期"),
        (manual(world, term_start="2026-05-01", term_end="2026-04-01"), "不能早于"),
        (manual(world, demand_id=str(market.demand.id), buyer_name="五河乙企业有限公司"), "关联的需求须属于买方单位"),
        (manual(world, buyer_region_id="0"), "请选择区域"),
    ]
    for data, message in cases:
        resp = post(c, "/contracts/new", data)
        assert resp.status_code == 400, message
        assert message in resp.get_data(as_text=True), message
    assert count(Contract) == 0 and count(FormSubmission) == 0


BAD_AMOUNTS = {
    "NaN": "金额格式不正确",
    "Infinity": "金额格式不正确",
    "1e309": "金额格式不正确",
    "0.005": "最多保留2位小数",
    "-1": "不能为负数",
    "１２３４": "半角数字",
    "12.5万元": "单位已是元",
    "": "请填写合同成交额",
}


@pytest.mark.parametrize("text", list(BAD_AMOUNTS))
def test_bad_amounts_are_refused_with_a_message(world, login_as, text):
    resp = post(login_as("official"), "/contracts/new", manual(world, amount=text, tech_amount="0"))
    assert resp.status_code == 400
    assert BAD_AMOUNTS[text] in resp.get_data(as_text=True)
    assert count(Contract) == 0


def test_amounts_are_stored_exactly(world, login_as):
    resp = post(login_as("official"), "/contracts/new", manual(world, amount="9876543210.98", tech_amount="0.01"))
    assert resp.status_code == 302
    contract = db.session.scalar(select(Contract))
    assert contract.amount == Decimal("9876543210.98") and contract.tech_amount == Decimal("0.01")


amounts = st.decimals(min_value=0, max_value=Decimal(10) ** 11, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(amounts, min_size=1, max_size=25))
def test_amounts_round_trip_and_sum_exactly(world, values):
    ids = []
    for value in values:
        parsed = parse_yuan(str(value))  # what a form or an import reads
        assert parsed == value
        ids.append(factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=parsed, tech_amount=parsed).id)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalars(select(Contract.amount).where(Contract.id.in_(ids)).order_by(Contract.id)).all()
    assert stored == values
    assert all(isinstance(v, Decimal) for v in stored)
    total = db.session.scalar(select(func.sum(Contract.amount)).where(Contract.id.in_(ids)))
    assert total == sum(values, Decimal("0.00"))


# --- access -------------------------------------------------------------------------------------

def test_contract_access_by_role(app, world, login_as):
    contract = a_contract(world)
    url = f"/contracts/{contract.id}"
    assert statuses(login_as, url, INSIDERS) == dict.fromkeys(INSIDERS, 200)
    assert statuses(login_as, url, OUTSIDERS) == OUTSIDER_REFUSALS
    assert statuses(login_as, url + "/edit", OUTSIDERS) == OUTSIDER_REFUSALS
    stranger = factories.user(role="broker", org=world.orgs.agency, region=world.regions["county_a"])
    db.session.commit()
    c = app.test_client()
    login(c, stranger.username)
    assert c.get(url).status_code == 404


def test_lists_and_totals_are_scoped(world, login_as):
    a = a_contract(world, amount=Decimal("100.10"))
    b = factories.contract(buyer=world.orgs.ent_b, seller=world.orgs.uni, amount=Decimal("200.20"))
    db.session.commit()

    def shown(name, query=""):
        page = login_as(name).get("/contracts/" + query).get_data(as_text=True)
        return set(re.findall(r'href="/contracts/(\d+)"', page)), page

    ids, page = shown("official")
    assert ids == {str(a.id)} and "100.10元" in page and "200.20元" not in page
    ids, _ = shown("official_b")
    assert ids == {str(b.id)}
    ids, page = shown("city_official")
    assert ids == {str(a.id), str(b.id)} and "300.30元" in page
    ids, _ = shown("enterprise")
    assert ids == {str(a.id)}
    ids, _ = shown("broker")
    assert ids == {str(a.id)}
    for junk in ("?year=abcd", "?year=99999", "?type=%00", "?state=x&page=-3", "?q=%25_%5C"):
        assert login_as("official").get("/contracts/" + junk).status_code == 200


# --- edits, audit trail, voiding -----------------------------------------------------------------

def edit_form(world, contract, **over) -> dict:
    data = terms(world, registration_no=contract.registration_no, title=contract.title, amount=str(contract.amount),
                 tech_amount=str(contract.tech_amount), signed_on=contract.signed_on.isoformat(), subtype="",
                 buyer_region_id=str(contract.buyer_region_id), seller_region_id=str(contract.seller_region_id),
                 field_id="0", version=str(contract.version))
    data.pop("form_token")
    data.update(over)
    return data


def test_edit_writes_the_audit_trail(world, login_as):
    contract = a_contract(world, amount=Decimal("100000.00"), tech_amount=Decimal("90000.00"))
    c = login_as("city_official")  # the contract's sides lie in county A and the city itself (市本级)
    assert c.get(f"/contracts/{contract.id}/edit").status_code == 200
    resp = post(c, f"/contracts/{contract.id}/edit", edit_form(world, contract, amount="120000.50", title="修改后的合同名称"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    rows = {a.field_name: (a.old_value, a.new_value, a.actor_id)
            for a in db.session.scalars(select(ContractAudit).where(ContractAudit.action == "edit"))}
    assert rows["amount"] == ("100000.00", "120000.50", world.users.city_official.id)
    assert rows["title"][1] == "修改后的合同名称"
    assert set(rows) == {"amount", "title"}
    db.session.refresh(contract)
    assert contract.amount == Decimal("120000.50") and contract.version == 2
    page = c.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "修改记录" in page and "120000.50" in page and "100000.00" in page
    assert "修改记录" not in login_as("enterprise").get(f"/contracts/{contract.id}").get_data(as_text=True)
    # a second edit from the old form is refused, and nothing changes
    resp = post(c, f"/contracts/{contract.id}/edit", edit_form(world, contract, version="1", amount="1.00", tech_amount="1.00"))
    assert resp.status_code == 409
    db.session.refresh(contract)
    assert contract.amount == Decimal("120000.50")
    # the rules hold on edit too
    resp = post(c, f"/contracts/{contract.id}/edit", edit_form(world, contract, tech_amount="999999.00"))
    assert resp.status_code == 400 and "技术交易额不能超过合同成交额" in resp.get_data(as_text=True)
    other = a_contract(world, registration_no="2026-OTHER-1")
    resp = post(c, f"/contracts/{contract.id}/edit", edit_form(world, contract, registration_no=other.registration_no))
    assert resp.status_code == 409 and "登记编号已存在" in resp.get_data(as_text=True)


def test_who_may_edit(world, login_as):
    contract = a_contract(world)
    data = edit_form(world, contract, title="新的名称")
    assert post(login_as("enterprise"), f"/contracts/{contract.id}/edit", data).status_code == 403
    assert post(login_as("institution"), f"/contracts/{contract.id}/edit", data).status_code == 403
    assert post(login_as("official_b"), f"/contracts/{contract.id}/edit", data).status_code == 404
    assert count(ContractAudit) == 0
    assert post(login_as("broker"), f"/contracts/{contract.id}/edit", data).status_code == 302
    assert count(ContractAudit, ContractAudit.actor_id == world.users.broker.id) == 1


def test_void_keeps_the_record_and_leaves_the_totals(world, login_as):
    live = a_contract(world, amount=Decimal("100.00"))
    gone = a_contract(world, amount=Decimal("50.00"))
    url = f"/contracts/{gone.id}/void"
    assert post(login_as("enterprise"), url, {"reason": "录入错误"}).status_code == 403
    assert post(login_as("broker"), url, {"reason": "录入错误"}).status_code == 403
    assert post(login_as("official_b"), url, {"reason": "录入错误"}).status_code == 404
    # county A's official may not take the city's (市本级) seller figures away (test_contract_scope.py)
    assert post(login_as("official"), url, {"reason": "录入错误"}).status_code == 403
    c = login_as("city_official")
    assert post(c, url, {"reason": ""}).status_code == 400
    assert post(c, url, {"reason": "重复登记，作废"}).status_code == 302
    db.session.refresh(gone)
    assert gone.voided and gone.void_reason == "重复登记，作废"
    assert post(c, url, {"reason": "再作废一次"}).status_code == 409
    audit = {(a.field_name, a.old_value, a.new_value) for a in db.session.scalars(select(ContractAudit).where(ContractAudit.action == "void"))}
    assert audit == {("voided", "否", "是"), ("void_reason", "", "重复登记，作废")}
    page = c.get("/contracts/").get_data(as_text=True)
    assert "有效合同 <strong>1</strong>" in page and "100.00元" in page
    assert post(c, f"/contracts/{gone.id}/edit", edit_form(world, gone, title="x")).status_code == 409
    assert count(Contract) == 2 and live.voided is False


def test_contracts_cannot_be_deleted(app, world, login_as):
    contract = a_contract(world)
    assert not [r for r in app.url_map.iter_rules() if r.endpoint.startswith("contracts.") and
                ("delete" in r.rule or "DELETE" in (r.methods or set()))]
    c = login_as("admin")
    assert c.delete(f"/contracts/{contract.id}").status_code == 405
    assert post(c, f"/contracts/{contract.id}/delete").status_code == 404
    assert count(Contract) == 1


# --- payments ------------------------------------------------------------------------------------

def test_payments_paid_versus_agreed(world, login_as):
    contract = a_contract(world, amount=Decimal("1000.00"), tech_amount=Decimal("800.00"))
    c = login_as("broker")
    url = f"/contracts/{contract.id}/payments"
    today = date.today().isoformat()
    assert post(c, url, {"paid_on": today, "amount": "300.10", "note": "第一期", "form_token": form_token("p")}).status_code == 302
    again = post(c, url, {"paid_on": today, "amount": "300.10", "note": "第一期", "form_token": form_token("p")})
    assert again.status_code == 409
    assert count(Payment) == 1
    assert post(c, url, {"paid_on": today, "amount": "700.00", "form_token": form_token("q")}).status_code == 400
    assert post(c, url, {"paid_on": today, "amount": "0", "form_token": form_token("r")}).status_code == 400
    assert post(c, url, {"paid_on": today, "amount": "12.5万元", "form_token": form_token("r")}).status_code == 400
    assert post(c, url, {"paid_on": today, "amount": "699.90", "form_token": form_token("s")}).status_code == 302
    page = c.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "已到账 <span id=\"paid-total\">1,000.00元</span>" in page
    assert post(login_as("enterprise"), url, {"paid_on": today, "amount": "1", "form_token": form_token("t")}).status_code == 403
    assert count(Payment) == 2 and count(ContractAudit, ContractAudit.action == "payment") == 2


def test_no_payment_on_a_void_contract(world, login_as):
    contract = a_contract(world, voided=True, void_reason="作废")
    resp = post(login_as("official"), f"/contracts/{contract.id}/payments",
                {"paid_on": date.today().isoformat(), "amount": "1.00", "form_token": form_token("p")})
    assert resp.status_code == 409 and count(Payment) == 0


# --- scans ---------------------------------------------------------------------------------------

def upload(client, contract, payload: bytes, name: str):
    return post(client, f"/contracts/{contract.id}/scan", {"scan": (io.BytesIO(payload), name)})


def test_scan_is_stored_under_a_generated_name_and_served_to_parties(app, world, login_as):
    contract = a_contract(world)
    c = login_as("broker")
    assert upload(c, contract, PDF, "合同扫描件.pdf").status_code == 302
    db.session.refresh(contract)
    assert contract.scan_name == "合同扫描件.pdf"
    assert re.fullmatch(r"contracts/[0-9a-f]{32}\.pdf", contract.scan_path)
    stored = Path(app.config["UPLOAD_DIR"]) / contract.scan_path
    assert stored.read_bytes() == PDF
    for name in ("enterprise", "institution", "broker", "official", "admin"):
        resp = login_as(name).get(f"/contracts/{contract.id}/scan")
        assert resp.status_code == 200, name
        assert resp.data == PDF
        assert resp.headers["Content-Type"] == "application/pdf"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Disposition"] == served_as(contract)
    for name, refused in OUTSIDER_REFUSALS.items():
        assert login_as(name).get(f"/contracts/{contract.id}/scan").status_code == refused, name
    assert is_login_redirect(app.test_client().get(f"/contracts/{contract.id}/scan"))
    # a path in the name is only data
    assert upload(c, contract, PDF, "../../etc/passwd.pdf").status_code == 302
    db.session.refresh(contract)
    assert contract.scan_name == "passwd.pdf" and ".." not in contract.scan_path
    assert count(ContractAudit, ContractAudit.field_name == "scan") == 2


def served_as(contract) -> str:
    """The Content-Disposition of a contract's scan: made from its 登记编号, never from the uploaded name."""
    from urllib.parse import quote

    number = contract.registration_no
    return f"attachment; filename=\"contract-{number}.pdf\"; filename*=UTF-8''{quote(f'技术合同-{number}.pdf', safe='')}"


def test_a_scan_is_stored_and_served_as_pdf_whatever_its_name(app, world, login_as):
    """Regression (issue 12 item 7): `合同扫描件.pdf.bat` was stored and downloaded under that name."""
    contract = a_contract(world, registration_no="2026/AH-0007")
    c = login_as("broker")
    assert upload(c, contract, PDF, "合同扫描件.pdf.bat").status_code == 302
    db.session.refresh(contract)
    assert re.fullmatch(r"contracts/[0-9a-f]{32}\.pdf", contract.scan_path)
    assert [p.name for p in (Path(app.config["UPLOAD_DIR"]) / "contracts").iterdir()] == [Path(contract.scan_path).name]
    resp = c.get(f"/contracts/{contract.id}/scan")
    assert resp.status_code == 200 and resp.data == PDF and resp.mimetype == "application/pdf"
    disposition = resp.headers["Content-Disposition"]
    assert disposition == ("attachment; filename=\"contract-2026-AH-0007.pdf\"; "
                           "filename*=UTF-8''%E6%8A%80%E6%9C%AF%E5%90%88%E5%90%8C-2026-AH-0007.pdf")
    assert ".bat" not in disposition and "/" not in disposition.split("filename", 1)[1]
    page = c.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert re.search(r'id="download-scan">技术合同-2026-AH-0007\.pdf</a>', page)
    # the uploader's name stays data only, shown as such
    assert contract.scan_name == "合同扫描件.pdf.bat" and "上传时文件名：合同扫描件.pdf.bat" in page


def test_scans_from_pdf_writers_are_accepted(world, login_as):
    """The positive check accepts what real writers produce: a table with CRLF entries, an incremental update
    (a second table reached through /Prev) and a PDF 1.5 cross-reference stream."""
    import zlib

    crlf = PDF.replace(b" \n", b"\r\n")
    start = int(re.search(rb"startxref\n(\d+)", PDF).group(1))
    extra = b"4 0 obj\n<< /Producer (scanner) >>\nendobj\n"
    updated = PDF + extra + (f"xref\n4 1\n{len(PDF):010d} 00000 n \ntrailer\n<< /Size 5 /Root 1 0 R /Prev {start} >>\n"
                             f"startxref\n{len(PDF) + len(extra)}\n%%EOF\n").encode()
    head = PDF[:start]  # the three objects, then a cross-reference stream instead of the table
    rows = zlib.compress(b"\x00\x00\x00\x00\x00" + b"".join(b"\x01" + len(head[:m.start()]).to_bytes(4, "big")
                                                     for m in re.finditer(rb"\d 0 obj", head)))
    stream = (f"4 0 obj\n<< /Type /XRef /Size 5 /W [1 4 0] /Root 1 0 R /Filter /FlateDecode /Length {len(rows)} >>\n"
              "stream\n").encode() + rows + b"\nendstream\nendobj\n"
    xref_stream = head + stream + f"startxref\n{start}\n%%EOF\n".encode()
    c = login_as("official")
    for number, payload in enumerate((crlf, updated, xref_stream)):
        contract = a_contract(world, registration_no=f"2026-SCAN-{number}")
        resp = upload(c, contract, payload, "扫描件.pdf")
        assert resp.status_code == 302, (number, resp.get_data(as_text=True)[-800:])


NO_STRUCTURE = "缺少PDF文件结构"


@pytest.mark.parametrize("payload,name,message", [
    (b"", "a.pdf", "0字节"),
    (b"<html><script>alert(1)</script></html>", "a.pdf", "须为PDF文件"),
    (PDF + b"<HTML><body onload=alert(1)>", "a.pdf", "网页代码"),
    (b"GIF89a....", "a.gif", "须为PDF文件"),
    (b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024), "big.pdf", "10MB"),
    # a page with a PDF header and no PDF structure, written to slip past any list of HTML markers
    (b"%PDF-1.7\n<a href=//evil.example>\xe4\xb8\x8b\xe8\xbd\xbd</a><img src=x onerror=alert(1)>\n%%EOF\n", "a.pdf", NO_STRUCTURE),
    (b"%PDF-1.4\n%%EOF\n", "a.pdf", NO_STRUCTURE),
    (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n", "a.pdf", NO_STRUCTURE),
    (make_pdf(xref_shift=3), "a.pdf", NO_STRUCTURE),  # the table points beside its objects
    (PDF + b"MZ\x90\x00 tail after the end of the file", "a.pdf", NO_STRUCTURE),
    (PDF[:-30], "cut.pdf", NO_STRUCTURE),  # truncated upload
])
def test_bad_scans_are_refused(world, login_as, payload, name, message):
    contract = a_contract(world)
    resp = upload(login_as("official"), contract, payload, name)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    db.session.refresh(contract)
    assert contract.scan_path == "" and count(ContractAudit) == 0


def test_scan_with_the_contract_form(app, world, login_as):
    data = manual(world)
    data["scan"] = (io.BytesIO(PDF), "扫描件.pdf")
    assert post(login_as("official"), "/contracts/new", data).status_code == 302
    contract = db.session.scalar(select(Contract))
    assert contract.scan_name == "扫描件.pdf" and (Path(app.config["UPLOAD_DIR"]) / contract.scan_path).is_file()
    data = manual(world, registration_no="2026-BAD-SCAN", form_token=form_token("e"))
    data["scan"] = (io.BytesIO(b"<html></html>"), "x.pdf")
    resp = post(login_as("official"), "/contracts/new", data)
    assert resp.status_code == 400 and "须为PDF文件" in resp.get_data(as_text=True)
    assert count(Contract) == 1


# --- export --------------------------------------------------------------------------------------

def test_csv_export_escapes_formulas(world, login_as):
    evil = factories.org(region=world.regions["town_a"], name="=HYPERLINK(\"http://evil\")公司")
    factories.contract(buyer=evil, seller=world.orgs.uni, title="+SUM(A1:A2)", amount=Decimal("1.00"))
    factories.contract(buyer=world.orgs.ent_b, seller=world.orgs.uni, title="-五河", amount=Decimal("2.00"))
    db.session.commit()
    resp = login_as("official").get("/contracts/export.csv")
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    text = resp.get_data(as_text=True)
    assert "'+SUM(A1:A2)" in text and "'=HYPERLINK" in text
    assert "五河" not in text  # county B's contract is out of scope
    assert login_as("enterprise").get("/contracts/export.csv").status_code == 403


def test_register_export_reads_in_wan_with_the_exact_yuan_beside_it(world, login_as):
    """Issue 17 item 8: the register as people open it: title rows (title, 统计期间, 区域, 金额单位：万元), a frozen
    header, 万元 with two decimals and the exact 元 beside each amount (到账 included); the 合计 row counts the
    registered, live contracts, exact to the fen; the national columns stay at ?columns=national."""
    import csv

    from openpyxl import load_workbook

    o = world.orgs
    a = factories.contract(buyer=o.ent_a, seller=o.uni, amount=Decimal("123456789.01"), tech_amount=Decimal("100000000.00"),
                           signed_on=date(2025, 3, 1), title="甲合同")
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=Decimal("0.49"), signed_on=date(2025, 4, 1), title="乙合同")
    factories.contract(buyer=o.ent_a, seller=o.uni, amount=Decimal("5000.00"), signed_on=date(2025, 4, 2),
                       title="作废合同", voided=True)
    db.session.flush()
    db.session.add(Payment(contract_id=a.id, paid_on=date(2025, 5, 1), amount=Decimal("12345.67"),
                           recorded_by_id=world.users.official.id))
    db.session.add(Payment(contract_id=a.id, paid_on=date(2025, 6, 1), amount=Decimal("0.33"),
                           recorded_by_id=world.users.official.id))
    db.session.commit()
    c = login_as("official")
    resp = c.get("/contracts/export.xlsx?year=2025")
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    sheet = load_workbook(io.BytesIO(resp.data)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    firsts = [row[0] for row in values[:6]]
    assert firsts[0] == "技术合同登记台账" and "统计期间：2025年" in firsts and "金额单位：万元" in firsts
    assert any(str(v).startswith("区域：") for v in firsts)
    header = values[6]
    assert sheet.freeze_panes == "A8"
    assert header[8:14] == ["合同成交额（万元）", "合同成交额（元）", "技术交易额（万元）", "技术交易额（元）",
                            "已到账（万元）", "已到账（元）"]
    rows = {row[1]: row for row in values[7:] if row and row[1]}
    assert [Decimal(str(v)) for v in rows["甲合同"][8:14]] == [
        Decimal("12345.68"), Decimal("123456789.01"), Decimal("10000.00"), Decimal("100000000.00"),
        Decimal("1.23"), Decimal("12346.00")]
    total = [row for row in values if row and str(row[0]).startswith("合计")][0]
    assert total[0] == "合计（已登记的有效合同 2 份）"
    assert [Decimal(str(v)) for v in total[8:14]] == [
        Decimal("12345.68"), Decimal("123456789.50"), Decimal("10000.00"), Decimal("100000000.49"),
        Decimal("1.23"), Decimal("12346.00")]
    # the same rows as CSV, the numbers with two decimals and no separators
    text = c.get("/contracts/export.csv?year=2025").data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["技术合同登记台账"] and lines[6] == header
    csv_total = [line for line in lines if line and line[0].startswith("合计")][0]
    assert csv_total[8:14] == ["12345.68", "123456789.50", "10000.00", "100000000.49", "1.23", "12346.00"]
    # the machine format the importer reads back is unchanged
    national = c.get("/contracts/export.csv?columns=national&year=2025").data.decode("utf-8-sig")
    assert national.splitlines()[0].startswith("合同登记编号,项目名称,合同类别") and "12345.678901" in national


def test_record_form_renders_for_recorders(world, market, login_as):
    for name in ("broker", "official", "admin"):
        page = login_as(name).get("/contracts/new").get_data(as_text=True)
        assert 'id="contract-form"' in page and 'name="form_token"' in page and "委托开发" in page, name


text_input = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) | st.sampled_from(
    ["NaN", "-0", "1e3", "0x10", "１２.５", "12.5万", "99999999999999999999", "\x00", "0.1" * 30])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=text_input, registration_no=text_input, buyer=text_input, signed_on=text_input)
def test_contract_form_never_fails_with_a_server_error(world, login_as, amount, registration_no, buyer, signed_on):
    c = login_as("official")
    resp = post(c, "/contracts/new", manual(world, amount=amount, tech_amount=amount, registration_no=registration_no,
                                            buyer_name=buyer, signed_on=signed_on, form_token=form_token("h")))
    assert resp.status_code in (302, 400, 403, 409), resp.status_code
    db.session.rollback()
    assert count(Contract) <= 1


def test_chain_from_interest_to_paid_contract(world, login_as):
    """Enterprise expresses interest (linking its need) → institution accepts → broker claims, moves to 洽谈,
    signs with the contract and records a payment → the need shows 已解决, the result 已转化."""
    u, f = world.users, world.fields
    need = factories.demand(owner=u.enterprise, field=f["materials"], status="published", title="寻求低方阻导电膜工艺")
    result = factories.achievement(owner=u.institution, field=f["materials"], status="published")
    foreign = factories.demand(owner=u.enterprise_b, field=f["materials"], status="published", title="五河企业的需求")
    db.session.commit()
    ent = login_as("enterprise")
    page = ent.get(f"/achievements/{result.id}").get_data(as_text=True)
    assert "寻求低方阻导电膜工艺" in page and 'name="link_id"' in page
    url = f"/deals/interest/achievement/{result.id}"
    resp = post(ent, url, {"message": "希望用于我方导电膜产线。", "form_token": form_token("j"), "link_id": str(foreign.id)})
    assert resp.status_code == 400 and "只能关联本单位已发布的技术需求" in resp.get_data(as_text=True)
    assert post(ent, url, {"message": "希望用于我方导电膜产线。", "form_token": form_token("j"), "link_id": str(need.id)}).status_code == 302
    from market.models import Interest

    interest = db.session.scalar(select(Interest))
    inst = login_as("institution")
    assert "关联对方技术需求" in inst.get(f"/achievements/{result.id}").get_data(as_text=True)
    # the linked need is not itself the target: its page shows no incoming interest
    assert "希望用于我方导电膜产线" not in ent.get(f"/demands/{need.id}").get_data(as_text=True)
    assert post(inst, f"/deals/interests/{interest.id}/decide", {"decision": "accept"}).status_code == 302
    deal = db.session.scalar(select(Deal))
    assert (deal.demand_id, deal.achievement_id, deal.stage) == (need.id, result.id, "contacted")

    broker = login_as("broker")
    assert post(broker, f"/deals/{deal.id}/claim", {"form_token": form_token()}).status_code == 302
    assert post(broker, f"/deals/{deal.id}/move", {"to": "negotiating", "version": "2"}).status_code == 302
    assert post(broker, f"/contracts/from-deal/{deal.id}", terms(world, version="3")).status_code == 302
    contract = db.session.scalar(select(Contract))
    resp = post(broker, f"/contracts/{contract.id}/payments",
                {"paid_on": date.today().isoformat(), "amount": "200000.00", "note": "首期", "form_token": form_token("k")})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).stage == "signed"
    assert "已解决" in ent.get(f"/demands/{need.id}").get_data(as_text=True)
    assert db.session.get(type(need), need.id).status == "done"
    assert db.session.get(type(result), result.id).status_label == "已转化"
    assert "200,000.00元" in broker.get(f"/contracts/{contract.id}").get_data(as_text=True)


# --- a linked listing that is not public, voiding reopens, scans of failed commits ----------------

def test_manual_contract_does_not_publish_a_linked_draft(world, login_as):
    """Regression: a contract marked any linked listing done, and done is public: a draft need linked by its
    number became visible to everyone as 已解决 without review."""
    draft = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="draft",
                             title="尚未公开的草稿需求：导电膜退火工艺")
    result = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
    db.session.commit()
    resp = post(login_as("official"), "/contracts/new",
                manual(world, demand_id=str(draft.id), achievement_id=str(result.id)))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    contract = db.session.scalar(select(Contract))
    assert (contract.demand_id, contract.achievement_id) == (None, None)  # until each owner confirms
    accept_links(login_as)
    assert (contract.demand_id, contract.achievement_id) == (draft.id, result.id)  # the link is kept as data
    db.session.expire_all()
    assert db.session.get(type(draft), draft.id).status == "draft"
    assert db.session.get(type(result), result.id).status == "done"
    assert "尚未公开的草稿需求" not in login_as("enterprise_b").get("/demands").get_data(as_text=True)
    assert login_as("enterprise_b").get(f"/demands/{draft.id}").status_code == 404


def void(client, contract, reason="合同已解除，登记作废"):
    return post(client, f"/contracts/{contract.id}/void", {"reason": reason})


def test_voiding_a_deal_contract_reopens_the_deal_and_the_listings(world, market, login_as):
    broker = login_as("broker")
    assert post(broker, f"/contracts/from-deal/{market.deal.id}", terms(world, version="1")).status_code == 302
    contract = db.session.scalar(select(Contract))
    official = login_as("city_official")  # over both sides: county A's buyer and the city's university
    page = official.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "对接将退回“洽谈”阶段" in page
    assert f"技术需求《{market.demand.title}》将由“已解决”恢复为“已发布”" in page
    assert f"科技成果《{market.achievement.title}》将由“已转化”恢复为“已发布”" in page
    assert "对接将退回" not in broker.get(f"/contracts/{contract.id}").get_data(as_text=True)  # no void form there

    assert void(official, contract).status_code == 302
    db.session.expire_all()
    deal = db.session.get(Deal, market.deal.id)
    assert deal.stage == "negotiating" and deal.version == 3
    back = db.session.scalar(select(DealEvent).where(DealEvent.deal_id == deal.id).order_by(DealEvent.id.desc()).limit(1))
    assert (back.from_stage, back.to_stage, back.actor_id) == ("signed", "negotiating", world.users.city_official.id)
    assert "2026340300000123 作废：合同已解除" in back.text
    assert market.demand.status == "published" and market.achievement.status == "published"
    reopened = db.session.scalars(select(ListingEvent).where(ListingEvent.from_status == "done")).all()
    assert sorted((e.kind, e.to_status) for e in reopened) == [("achievement", "published"), ("demand", "published")]
    from market.models import Notification

    assert count(Notification, Notification.user_id == world.users.broker.id, Notification.kind == "deal_reopened") == 1
    # the deal can be signed again, with a new contract
    again = terms(world, version="3", registration_no="2026340300000124", form_token=form_token("n"))
    assert post(broker, f"/contracts/from-deal/{deal.id}", again).status_code == 302
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).stage == "signed" and market.demand.status == "done"
    assert count(Contract, Contract.voided.is_(False)) == 1


def test_voiding_keeps_what_another_live_contract_holds(world, login_as):
    need = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published")
    result = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
    db.session.commit()
    official = login_as("city_official")  # records and voids contracts of county A and the city itself
    links = {"demand_id": str(need.id), "achievement_id": str(result.id)}
    assert post(official, "/contracts/new", manual(world, **links)).status_code == 302
    accept_links(login_as)
    assert post(official, "/contracts/new", manual(world, registration_no="2026340300000999",
                                                   form_token=form_token("f"), demand_id=str(need.id))).status_code == 302
    accept_links(login_as)
    first, second = db.session.scalars(select(Contract).order_by(Contract.id)).all()
    page = official.get(f"/contracts/{first.id}").get_data(as_text=True)
    assert "科技成果《" in page and "技术需求《" not in page  # the need is still held by the second contract
    assert void(official, first).status_code == 302
    db.session.expire_all()
    assert (need.status, result.status) == ("done", "published")
    # now the second contract alone holds the need: its void form says so
    assert f"技术需求《{need.title}》将由“已解决”恢复为“已发布”" in official.get(f"/contracts/{second.id}").get_data(as_text=True)
    assert void(official, second).status_code == 302
    db.session.expire_all()
    assert (need.status, result.status) == ("published", "published")
    assert count(ListingEvent, ListingEvent.kind == "demand", ListingEvent.to_status == "published",
                 ListingEvent.from_status == "done") == 1


def test_voiding_leaves_a_listing_its_owner_marked_done(world, login_as):
    need = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published")
    db.session.commit()
    ent = login_as("enterprise")
    resp = post(ent, f"/demands/{need.id}/done", {"reason": "已自行解决"})
    db.session.expire_all()
    assert need.status == "done", resp.status_code
    official = login_as("city_official")
    assert post(official, "/contracts/new", manual(world, demand_id=str(need.id))).status_code == 302
    accept_links(login_as)  # linked, and the need stays done (its owner's decision, not the contract's)
    contract = db.session.scalar(select(Contract))
    assert contract.demand_id == need.id
    page = official.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "作废后，关联的对接、需求和成果状态不变" in page
    assert void(official, contract).status_code == 302
    db.session.expire_all()
    assert need.status == "done"


def test_a_scan_whose_commit_fails_is_removed(app, world):
    """The file is written before the commit; a commit that fails leaves no file behind."""
    from market.contracts.services import contract_set_scan

    contract = a_contract(world)
    folder = Path(app.config["UPLOAD_DIR"]) / "contracts"
    official = db.session.get(type(world.users.official), world.users.official.id)
    contract_set_scan(contract=contract, user=official, scan=_upload(PDF))
    written = folder / Path(contract.scan_path).name
    assert written.read_bytes() == PDF
    contract.tech_amount = contract.amount + 1  # refused by a CHECK constraint when the commit flushes
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert not written.exists() and list(folder.iterdir()) == []
    db.session.refresh(contract)
    assert contract.scan_path == "" and count(ContractAudit) == 0
    # a commit that succeeds keeps its file
    contract_set_scan(contract=contract, user=official, scan=_upload(PDF))
    db.session.commit()
    kept = folder / Path(contract.scan_path).name
    assert kept.is_file() and list(folder.iterdir()) == [kept]


def _upload(payload: bytes):
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(payload), filename="合同扫描件.pdf", content_type="application/pdf")


def test_two_contracts_of_one_need_voided_at_once_reopen_it_once(app, world):
    """Each void sees the other contract live unless they run one after the other (row locks on PostgreSQL,
    BEGIN IMMEDIATE on SQLite): the need must end 已发布, reopened by exactly one of them."""
    import threading

    from market.contracts.services import contract_void
    from market.models import User

    need = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="done")
    db.session.add(ListingEvent(kind="demand", listing_id=need.id, from_status="published", to_status="done",
                                reason="签订技术合同（登记编号 2026-A）"))
    ids = [a_contract(world, registration_no=f"2026-{x}", demand_id=need.id).id for x in "AB"]
    need_id, official_id = need.id, world.users.city_official.id
    db.session.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker(contract_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                contract_void(contract=db.session.get(Contract, contract_id), user=db.session.get(User, official_id),
                              reason="合同解除，作废")
                db.session.commit()
                outcomes.append("voided")
            except Exception as exc:  # reported below
                db.session.rollback()
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes == ["voided", "voided"], outcomes
    db.session.expire_all()
    assert db.session.get(type(need), need_id).status == "published"
    assert count(ListingEvent, ListingEvent.listing_id == need_id, ListingEvent.from_status == "done") == 1


@pytest.mark.parametrize("url", ["/contracts/export.xlsx?year=2025", "/contracts/export.csv?year=2025",
                                 "/contracts/export.xlsx?year=2025&columns=national"])
def test_an_export_larger_than_its_limit_is_refused_not_cut(world, login_as, monkeypatch, url):
    """A file whose 合计 covered only the first EXPORT_MAX_ROWS contracts would disagree with the dashboard
    without saying so (the attacker's review of issue 17): past the limit the export is refused with a message."""
    from market.contracts import routes as contract_routes
    from tests.helpers import assert_refused

    o = world.orgs
    for day in (1, 2, 3):
        factories.contract(buyer=o.ent_a, seller=o.uni, amount=Decimal("1000.00"), signed_on=date(2025, 3, day))
    db.session.commit()
    c = login_as("official")
    monkeypatch.setattr(contract_routes, "EXPORT_MAX_ROWS", 2)
    assert_refused(c.get(url), "请按年份、类型或状态缩小范围后再导出", codes=(400,))
    monkeypatch.setattr(contract_routes, "EXPORT_MAX_ROWS", 3)
    assert c.get(url).status_code == 200


def test_two_edits_moving_twins_into_each_others_group_at_once_both_land(app, world):
    """Twins A1, A2 (one group) and B1, B2 (another); at the same moment one official moves A1 into B's group (its
    amount) and another moves B1 into A's. Each edit takes the locks of the group it leaves and of the group it
    joins before it touches a row (models/checks.py lock_duplicate_groups): taken in one order, the second waits
    for the first's commit. Before, the group joined was locked only by the trigger, after the row: each edit held
    one group and waited for the other's (a deadlock on PostgreSQL, one edit aborted). Both edits land and every
    contract stays flagged as the twin it is."""
    import threading

    from market.contracts.services import contract_update
    from market.models import User

    day = date(2026, 3, 2)
    amounts = {"A": Decimal("100000.00"), "B": Decimal("200000.00")}
    ids = {f"{g}{n}": a_contract(world, amount=amounts[g], signed_on=day, registration_no=f"2026-{g}{n}").id
           for g in "AB" for n in (1, 2)}
    if db.engine.dialect.name == "postgresql":  # two groups in two lock buckets, or nothing could deadlock
        buckets = db.session.execute(text(
            "SELECT DISTINCT hashtext(concat_ws('|', buyer_org_id, seller_org_id, signed_on, amount)) & 255 "
            "FROM contracts")).scalars().all()
        assert len(buckets) == 2, buckets
    official_id = world.users.city_official.id
    db.session.commit()
    assert all(db.session.get(Contract, i).duplicated for i in ids.values())
    db.session.rollback()  # SQLite: this session's transaction would hold off the workers' writes
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def worker(name: str, amount: Decimal) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                contract = db.session.get(Contract, ids[name])
                user = db.session.get(User, official_id)
                contract_update(contract=contract, user=user, data={"amount": amount, "tech_amount": amount},
                                version=contract.version)
                db.session.commit()
                outcomes[name] = "saved"
            except Exception as exc:  # reported below
                db.session.rollback()
                outcomes[name] = repr(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=("A1", amounts["B"])),
               threading.Thread(target=worker, args=("B1", amounts["A"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes == {"A1": "saved", "B1": "saved"}, outcomes
    db.session.expire_all()
    assert db.session.get(Contract, ids["A1"]).amount == amounts["B"]
    assert db.session.get(Contract, ids["B1"]).amount == amounts["A"]
    assert all(db.session.get(Contract, i).duplicated for i in ids.values())


def test_the_group_an_edit_joins_is_locked_in_the_bucket_the_trigger_locks(app, world):
    """lock_duplicate_groups(joining=...) types the new key as the columns: its advisory lock is the one the
    trigger takes for a contract that has that key (else the edits above could still deadlock)."""
    from market.models.checks import lock_duplicate_groups

    if db.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks: PostgreSQL only (SQLite has one writer at a time)")
    keys = [(Decimal("123456.78"), date(2026, 1, 31)), (Decimal("5.00"), date(2025, 12, 1)),
            (Decimal("99999999.99"), date(2027, 2, 28))]
    for amount, day in keys:
        contract = a_contract(world, amount=amount, signed_on=day)
        bucket = db.session.execute(text(
            "SELECT hashtext(concat_ws('|', buyer_org_id, seller_org_id, signed_on, amount)) & 255 FROM contracts "
            "WHERE id = :id"), {"id": contract.id}).scalar_one()
        db.session.commit()
        lock_duplicate_groups([], joining=[(contract.buyer_org_id, contract.seller_org_id, day, amount)])
        held = db.session.execute(text(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = 16016 AND pid = pg_backend_pid()"
        )).scalars().all()
        db.session.rollback()
        assert held == [bucket], (amount, day, held, bucket)
