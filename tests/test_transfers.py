"""公示 of 协议定价 and 挂牌 (market/transfers, issue 20 sections 1-2): a 高校's negotiated transfer or licence is
registered only after its 公示 ended without an upheld objection, on every path that registers a contract; a
挂牌 is bought by the first verified buyer who accepts, a second acceptance at the same moment is refused."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from market.contracts import services as contract_services
from market.errors import Conflict, DomainError, NotAllowed
from market.extensions import db
from market.models import Contract, ContractAudit, Deal, Disclosure, DisclosureObjection, Notification, PriceListing, RegPoint, User
from market.models.base import utcnow
from market.registration import services as reg_services
from market.transfers import services
from market.transfers.gate import GATE_MESSAGE
from tests import factories
from tests.helpers import Poster, client_for, form_token, post, post_together, published_pair

PRICE = Decimal("500000.00")


@pytest.fixture
def result(world):
    a = published_pair(world).achievement  # 蚌埠测试大学's published result
    db.session.commit()
    return a


def publish(world, result, **over) -> Disclosure:
    kw = dict(user=world.users.institution, achievement=result, buyer_name=world.orgs.ent_a.name,
              contract_type="transfer", price=PRICE, days=None, contact_name="张老师", contact_phone="0552-1234567",
              token=form_token())
    kw.update(over)
    d = services.disclosure_create(**kw)
    db.session.commit()
    return d


def end_period(d: Disclosure) -> None:
    """Move the 公示's period into the past (the server's clock is not mocked: the row says when it ends)."""
    db.session.execute(update(Disclosure).where(Disclosure.id == d.id).values(
        starts_at=utcnow() - timedelta(days=16), ends_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    db.session.refresh(d)


def manual_form(world, **over) -> dict:
    """A direct entry of the university's transfer to 怀远甲企业 at PRICE (the official's contract form)."""
    data = {"registration_no": "202634032101000777", "title": "透明导电膜制备技术转让合同", "contract_type": "transfer",
            "subtype": "patent", "amount": str(PRICE), "tech_amount": str(PRICE), "signed_on": date.today().isoformat(),
            "buyer_name": world.orgs.ent_a.name, "seller_name": world.orgs.uni.name,
            "buyer_region_id": str(world.regions["town_a"].id), "seller_region_id": str(world.regions["city"].id),
            "field_id": str(world.fields["materials"].id), "form_token": form_token()}
    data.update(over)
    return data


def record(world, user=None, **over):
    data = manual_form(world, **over)
    data["amount"] = Decimal(data["amount"])
    data["tech_amount"] = Decimal(data["tech_amount"])
    data["signed_on"] = date.fromisoformat(data["signed_on"])
    data["buyer_region_id"], data["seller_region_id"] = int(data["buyer_region_id"]), int(data["seller_region_id"])
    data["field_id"] = int(data["field_id"])
    contract, _ = contract_services.contract_record(user=user or world.users.official, data=data, token=form_token())
    db.session.commit()
    return contract


# --- 公示 ---------------------------------------------------------------------------------------------------

def test_a_disclosure_is_published_objected_answered_and_decided(app, world, result):
    owner = client_for(app, world.users.institution)
    resp = post(owner, f"/achievements/{result.id}/disclosures/new", {
        "buyer_name": world.orgs.ent_a.name, "contract_type": "transfer", "price": "500000.00", "days": "15",
        "contact_name": "张老师", "contact_phone": "0552-1234567", "contact_email": "", "note": "经评估协商",
        "form_token": form_token()})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    d = db.session.scalars(select(Disclosure)).one()
    assert d.price == PRICE and d.days == 15 and d.buyer_org_id == world.orgs.ent_a.id
    assert d.ends_at - d.starts_at == timedelta(days=15) and d.state() == "open"
    # the buyer's members are told
    assert db.session.scalar(select(Notification.id).where(Notification.user_id == world.users.enterprise.id,
                                                           Notification.kind == "disclosure_published"))
    page = app.test_client().get(f"/disclosures/{d.id}").get_data(as_text=True)
    assert "公示中" in page and "500,000.00元" in page
    assert app.test_client().get("/disclosures").status_code == 200

    objector = client_for(app, world.users.enterprise_b)
    resp = post(objector, f"/disclosures/{d.id}/objections", {"reasons": "该成果的价格明显低于评估价值，请核实。",
                                                               "contact": "13800000000", "form_token": form_token()})
    assert resp.status_code == 302
    o = db.session.scalars(select(DisclosureObjection)).one()
    # the objector's contact is private: not on the public page, shown to the owner
    assert "13800000000" not in app.test_client().get(f"/disclosures/{d.id}").get_data(as_text=True)
    assert "13800000000" in owner.get(f"/disclosures/{d.id}").get_data(as_text=True)

    assert post(owner, f"/objections/{o.id}/answer", {"answer": "价格经第三方评估，评估报告可供查阅。"}).status_code == 302
    # a foreign region's official cannot decide; the city's official can
    assert post(client_for(app, world.users.official_b), f"/objections/{o.id}/decide",
                {"decision": "upheld", "reason": "理由"}).status_code == 403
    assert post(client_for(app, world.users.official), f"/objections/{o.id}/decide",
                {"decision": "upheld", "reason": "理由"}).status_code == 403  # county A does not hold the city node
    assert post(client_for(app, world.users.city_official), f"/objections/{o.id}/decide",
                {"decision": "rejected", "reason": "评估报告合规"}).status_code == 302
    db.session.refresh(o)
    assert o.decision == "rejected" and o.answer.startswith("价格经") and o.decided_by_id == world.users.city_official.id
    assert db.session.scalar(select(Notification.id).where(Notification.user_id == world.users.enterprise_b.id,
                                                           Notification.kind == "disclosure_decided"))
    db.session.refresh(d)
    assert d.state() == "open"  # still in its period
    end_period(d)
    assert d.state() == "cleared"


def test_objections_only_in_the_period_and_only_by_verified_others(app, world, result):
    d = publish(world, result)
    with pytest.raises(NotAllowed):
        services.objection_lodge(user=world.users.institution, disclosure=d, reasons="本单位自己提异议不行的。",
                                 contact="13800000000", token=form_token())
    resp = post(client_for(app, world.users.unverified), f"/disclosures/{d.id}/objections",
                {"reasons": "未认证用户的异议理由不少于十字", "contact": "13800000000", "form_token": form_token()})
    assert resp.status_code == 403
    resp = post(client_for(app, world.users.enterprise_b), f"/disclosures/{d.id}/objections",
                {"reasons": "短", "contact": "1", "form_token": form_token()})
    assert resp.status_code == 400 and "异议理由为10-2000字" in resp.get_data(as_text=True)
    end_period(d)
    with pytest.raises(Conflict):
        services.objection_lodge(user=world.users.enterprise_b, disclosure=d, reasons="期满后提出的异议理由。。",
                                 contact="13800000000", token=form_token())
    assert db.session.scalar(select(DisclosureObjection.id)) is None


def test_bad_disclosure_input_is_refused_with_reasons(app, world, result):
    owner = client_for(app, world.users.institution)
    resp = post(owner, f"/achievements/{result.id}/disclosures/new", {
        "buyer_name": world.orgs.uni.name, "contract_type": "development", "price": "-1", "days": "2",
        "contact_name": "张", "contact_phone": "", "contact_email": "", "form_token": form_token()})
    assert resp.status_code == 400
    assert db.session.scalar(select(Disclosure.id)) is None
    # an enterprise's result needs no 公示, and nobody but the owner's members publishes one
    assert client_for(app, world.users.enterprise).get(f"/achievements/{result.id}/disclosures/new").status_code == 403
    assert client_for(app, world.users.unverified).get(f"/achievements/{result.id}/disclosures/new").status_code == 403


# --- the registration gate ------------------------------------------------------------------------------------

def test_registration_waits_for_the_period_to_end(app, world, result):
    d = publish(world, result)
    official = client_for(app, world.users.official)
    resp = post(official, "/contracts/new", manual_form(world))
    assert resp.status_code == 409
    assert GATE_MESSAGE in resp.get_data(as_text=True) and "尚在公示期内" in resp.get_data(as_text=True)
    assert db.session.scalar(select(Contract.id)) is None
    end_period(d)
    resp = post(official, "/contracts/new", manual_form(world))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    contract = db.session.scalars(select(Contract)).one()
    db.session.refresh(d)
    assert d.contract_id == contract.id
    # one 公示 clears one contract: a second contract on the same terms is refused
    resp = post(official, "/contracts/new", manual_form(world, registration_no="202634032101000778"))
    assert resp.status_code == 409 and "已用于另一份有效合同" in resp.get_data(as_text=True)


def test_without_any_disclosure_registration_is_refused_naming_what_is_missing(app, world, result):
    resp = post(client_for(app, world.users.official), "/contracts/new", manual_form(world, contract_type="license",
                                                                                    subtype="patent_license"))
    assert resp.status_code == 409
    text = resp.get_data(as_text=True)
    assert "未找到" in text and "技术许可" in text and world.orgs.ent_a.name in text


def test_an_upheld_objection_blocks_registration_and_an_undecided_one_holds_it(app, world, result):
    d = publish(world, result)
    o = services.objection_lodge(user=world.users.enterprise_b, disclosure=d, reasons="该成果权属存在争议，请核实。",
                                 contact="13800000000", token=form_token())
    db.session.commit()
    end_period(d)
    assert d.state() == "pending"
    with pytest.raises(Conflict, match="尚未处理的异议"):
        record(world)
    db.session.rollback()
    services.objection_decide(user=world.users.city_official, objection=o, decision="upheld", reason="权属争议属实")
    db.session.commit()
    db.session.refresh(d)
    assert d.state() == "upheld"
    with pytest.raises(Conflict, match="有成立的异议"):
        record(world)
    db.session.rollback()
    # a second decision on the same objection is refused
    with pytest.raises(Conflict):
        services.objection_decide(user=world.users.admin, objection=o, decision="rejected", reason="改判")


def test_a_rejected_objection_does_not_block(app, world, result):
    d = publish(world, result)
    o = services.objection_lodge(user=world.users.enterprise_b, disclosure=d, reasons="该成果的价格明显偏低，请核实。",
                                 contact="13800000000", token=form_token())
    services.objection_decide(user=world.users.admin, objection=o, decision="rejected", reason="价格经评估")
    db.session.commit()
    end_period(d)
    contract = record(world)
    assert contract.reg_status == "registered" and db.session.get(Disclosure, d.id).contract_id == contract.id


def test_an_enterprise_seller_and_other_contract_types_need_no_disclosure(app, world, result):
    ent = record(world, user=world.users.city_official, seller_name=world.orgs.ent_b.name, buyer_name=world.orgs.uni.name,
                 seller_region_id=str(world.regions["county_b"].id), buyer_region_id=str(world.regions["city"].id))
    assert ent.reg_status == "registered"
    dev = record(world, registration_no="202634032101000779", contract_type="development", subtype="commissioned")
    assert dev.reg_status == "registered"


def test_changing_a_registered_contracts_amount_needs_a_disclosure_of_the_new_amount(app, world, result):
    d = publish(world, result)
    end_period(d)
    contract = record(world)
    data = {"amount": Decimal("600000.00"), "tech_amount": Decimal("600000.00")}
    with pytest.raises(Conflict, match="须先完成公示"):
        contract_services.contract_update(contract=contract, user=world.users.city_official, data=data,
                                          version=contract.version)
    db.session.rollback()
    d2 = publish(world, result, price=Decimal("600000.00"))
    end_period(d2)
    contract = db.session.get(Contract, contract.id)
    contract_services.contract_update(contract=contract, user=world.users.city_official, data=data,
                                      version=contract.version)
    db.session.commit()
    assert db.session.get(Disclosure, d2.id).contract_id == contract.id
    assert db.session.get(Disclosure, d.id).contract_id is None  # the first 公示 is free again


def city_point(world) -> tuple[RegPoint, User]:
    """The city's 登记点 and its 登记员 (flushed)."""
    point = RegPoint(name="蚌埠市技术合同登记中心", kind="agency", region_id=world.regions["city"].id, division="340300",
                     serial=1)
    db.session.add(point)
    db.session.flush()
    registrar = User(username="reg_city", name="登记员", role="registrar", reg_point_id=point.id)
    registrar.set_password(factories.PASSWORD)
    db.session.add(registrar)
    db.session.flush()
    return point, registrar


def test_a_registrar_cannot_register_before_the_disclosure_ends(app, world, result):
    point, registrar = city_point(world)
    contract = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=PRICE, contract_type="transfer",
                                  registration_no=reg_services.PLACEHOLDER_PREFIX + "abc", reg_status="submitted",
                                  reg_request="new", reg_point_id=point.id)
    d = publish(world, result)
    with pytest.raises(Conflict, match="尚在公示期内"):
        reg_services.registration_decide(contract=contract, user=registrar, decision="register", tech_amount=PRICE)
    db.session.rollback()
    end_period(d)
    contract = db.session.get(Contract, contract.id)
    reg_services.registration_decide(contract=contract, user=db.session.get(User, registrar.id), decision="register",
                                     tech_amount=PRICE)
    db.session.commit()
    assert contract.reg_status == "registered" and db.session.get(Disclosure, d.id).contract_id == contract.id


def test_a_change_of_a_contract_registered_before_the_rule_needs_a_disclosure_only_when_its_terms_change(app, world,
                                                                                                        result):
    point, registrar = city_point(world)
    # registered before this rule, without a 公示; now a change of its title waits at the 登记点
    old = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=PRICE, contract_type="transfer",
                             reg_status="submitted", reg_request="change", reg_point_id=point.id)
    reg_services.registration_decide(contract=old, user=registrar, decision="register", tech_amount=PRICE)
    db.session.commit()
    assert old.reg_status == "registered"
    # a change of its 成交额 needs a 公示 of the new amount
    changed = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("600000.00"),
                                 contract_type="transfer", reg_status="submitted", reg_request="change",
                                 reg_point_id=point.id)
    db.session.add(ContractAudit(contract_id=changed.id, actor_id=world.users.institution.id, action="edit",
                                 field_name="amount", old_value=str(PRICE), new_value="600000.00"))
    db.session.commit()
    with pytest.raises(Conflict, match="须先完成公示"):
        reg_services.registration_decide(contract=changed, user=registrar, decision="register",
                                         tech_amount=Decimal("600000.00"))


# --- 挂牌 ---------------------------------------------------------------------------------------------------

def list_result(world, result, **over) -> PriceListing:
    kw = dict(user=world.users.institution, achievement=result, price=PRICE, days=30, contract_type="transfer",
              token=form_token())
    kw.update(over)
    pl = services.listing_create(**kw)
    db.session.commit()
    return pl


def test_a_listed_price_opens_a_deal_and_its_contract_needs_no_disclosure(app, world, result):
    owner = client_for(app, world.users.institution)
    resp = post(owner, f"/achievements/{result.id}/price-listings/new",
                {"contract_type": "transfer", "price": "500000.00", "days": "30", "note": "", "form_token": form_token()})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    pl = db.session.scalars(select(PriceListing)).one()
    assert app.test_client().get(f"/price-listings/{pl.id}").status_code == 200
    assert "挂牌中" in app.test_client().get(f"/achievements/{result.id}").get_data(as_text=True)
    # a second 挂牌 of the result while one is open is refused
    with pytest.raises(Conflict):
        list_result(world, result)
    db.session.rollback()
    buyer = client_for(app, world.users.enterprise)
    resp = post(buyer, f"/price-listings/{pl.id}/accept")
    assert resp.status_code == 302
    deal = db.session.scalars(select(Deal)).one()
    db.session.refresh(pl)
    assert pl.status == "sold" and pl.deal_id == deal.id and pl.buyer_org_id == world.orgs.ent_a.id
    assert deal.source == "listed" and deal.price == PRICE and deal.stage == "negotiating"
    for uid, kind in ((world.users.institution.id, "price_listing_sold"), (world.users.enterprise.id, "price_listing_bought")):
        assert db.session.scalar(select(Notification.id).where(Notification.user_id == uid, Notification.kind == kind))
    # the broker signs it at the listed price: a 高校's transfer with no 公示, registered
    broker = world.users.broker
    deal.broker_id = broker.id
    db.session.commit()
    data = {"registration_no": "202634032101000780", "title": "", "contract_type": "transfer", "subtype": "patent",
            "amount": PRICE, "tech_amount": PRICE, "signed_on": date.today(), "field_id": None,
            "buyer_region_id": deal.buyer_region_id, "seller_region_id": deal.seller_region_id}
    contract = contract_services.contract_record_from_deal(deal=deal, user=broker, data=data, version=deal.version,
                                                            token=form_token())
    db.session.commit()
    assert contract.reg_status == "registered" and db.session.scalar(select(Disclosure.id)) is None
    # an amount changed afterwards was not set in public: it needs a 公示 like any 协议定价
    with pytest.raises(Conflict, match="须先完成公示"):
        contract_services.contract_update(contract=contract, user=world.users.city_official, version=contract.version,
                                          data={"amount": Decimal("450000.00"), "tech_amount": Decimal("450000.00")})
    db.session.rollback()
    # and so does another type at the same price: the 挂牌 sold a 转让, not a 许可
    contract = db.session.get(Contract, contract.id)
    with pytest.raises(Conflict, match="须先完成公示"):
        contract_services.contract_update(contract=contract, user=world.users.city_official, version=contract.version,
                                          data={"contract_type": "license", "subtype": "patent_license"})


def test_the_owner_cannot_buy_and_an_expired_listing_is_refused(app, world, result):
    pl = list_result(world, result)
    resp = post(client_for(app, world.users.institution), f"/price-listings/{pl.id}/accept")
    assert resp.status_code == 403 and "不能购买本单位的成果" in resp.get_data(as_text=True)
    assert post(client_for(app, world.users.unverified), f"/price-listings/{pl.id}/accept").status_code == 403
    db.session.execute(update(PriceListing).where(PriceListing.id == pl.id).values(
        starts_at=utcnow() - timedelta(days=31), ends_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    resp = post(client_for(app, world.users.enterprise), f"/price-listings/{pl.id}/accept")
    assert resp.status_code == 409 and "已到期" in resp.get_data(as_text=True)
    assert db.session.scalar(select(Deal.id)) is None
    assert "已到期" in app.test_client().get("/price-listings").get_data(as_text=True)
    # an expired 挂牌 does not stop the next one
    assert list_result(world, result).status == "open"


def test_a_result_in_a_running_auction_lot_cannot_be_listed(app, world, result):
    from market.models import AuctionLot, AuctionSession

    session = AuctionSession(title="新材料成果竞价专场", region_id=world.regions["city"].id,
                             organiser_id=world.users.city_official.id, state="published")
    db.session.add(session)
    db.session.flush()
    db.session.add(AuctionLot(session_id=session.id, achievement_id=result.id, seller_org_id=result.org_id,
                              starting_price=Decimal("100000.00"), increment=Decimal("1000.00"),
                              deposit_amount=Decimal("0.00"), starts_at=utcnow() - timedelta(hours=1),
                              ends_at=utcnow() + timedelta(days=1), original_ends_at=utcnow() + timedelta(days=1),
                              state="open"))
    db.session.commit()
    with pytest.raises(Conflict, match="竞价"):
        list_result(world, result)


def test_a_result_sold_at_a_public_price_is_not_offered_or_sold_again_while_that_deal_lives(app, world, result):
    """One result, one sale (transfers/sale.py): a 挂牌 sold, or a 竞价 won, holds the result until that deal
    is terminated; before, a second 挂牌 of a sold result was accepted and the result sold twice."""
    from market.deals.services import deal_open_at_price

    pl = list_result(world, result)
    assert post(client_for(app, world.users.enterprise), f"/price-listings/{pl.id}/accept").status_code == 302
    with pytest.raises(Conflict, match="已通过挂牌或竞价售出"):
        list_result(world, result)
    db.session.rollback()
    resp = post(client_for(app, world.users.institution), f"/achievements/{result.id}/price-listings/new",
                {"contract_type": "transfer", "price": "600000.00", "days": "30", "note": "", "form_token": form_token()})
    assert resp.status_code == 409 and "已通过挂牌或竞价售出" in resp.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(PriceListing)) == 1
    # the deal falls through: the result is on sale again
    db.session.execute(update(Deal).values(stage="terminated"))
    db.session.commit()
    again = list_result(world, result, price=Decimal("600000.00"))
    # a 竞价 won meanwhile (its deal opened by the lot's close) holds the open 挂牌: it can no longer be accepted
    deal_open_at_price(achievement=result, buyer_org=world.orgs.ent_b, price=Decimal("700000.00"), source="auction",
                       user=world.users.city_official, text="竞价成交")
    db.session.commit()
    resp = post(client_for(app, world.users.enterprise), f"/price-listings/{again.id}/accept")
    assert resp.status_code == 409 and "已通过挂牌或竞价售出" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PriceListing, again.id).status == "open"
    assert db.session.scalar(select(db.func.count()).select_from(Deal).where(Deal.stage != "terminated")) == 1


def test_a_withdrawn_listing_cannot_be_bought(app, world, result):
    pl = list_result(world, result)
    assert post(client_for(app, world.users.enterprise), f"/price-listings/{pl.id}/withdraw").status_code == 403
    assert post(client_for(app, world.users.institution), f"/price-listings/{pl.id}/withdraw").status_code == 302
    resp = post(client_for(app, world.users.enterprise), f"/price-listings/{pl.id}/accept")
    assert resp.status_code == 409 and db.session.scalar(select(Deal.id)) is None


def test_two_buyers_accepting_at_the_same_moment_make_one_sale(app, world, result):
    pl = list_result(world, result)
    posters = [Poster(client_for(app, u)) for u in (world.users.enterprise, world.users.enterprise_b)]
    statuses = post_together(app, posters, f"/price-listings/{pl.id}/accept", {})
    assert statuses == [302, 409]
    assert db.session.scalar(select(db.func.count()).select_from(Deal)) == 1
    db.session.expire_all()
    sold = db.session.get(PriceListing, pl.id)
    deal = db.session.scalars(select(Deal)).one()
    assert sold.status == "sold" and sold.deal_id == deal.id and sold.buyer_org_id == deal.buyer_org_id


# --- for the inventory tests ----------------------------------------------------------------------------------

def transfer_objects(world, o) -> None:
    """For the inventory tests (access matrix, fuzz, keep-input): on o.achievement (the city university's published
    result) an open 公示 to 怀远甲企业 with two undecided objections of the second enterprise (o.objection, which
    the owner answers; o.objection_open, which an administrator decides), and an open 挂牌 of another published
    result of the university. Sets o.disclosure, o.objection, o.objection_open, o.listed_result, o.price_listing."""
    o.disclosure = services.disclosure_create(
        user=world.users.institution, achievement=o.achievement, buyer_name=world.orgs.ent_a.name,
        contract_type="transfer", price=PRICE, days=None, contact_name="张老师", contact_phone="0552-1234567",
        token=form_token())
    o.objection = services.objection_lodge(user=world.users.enterprise_b, disclosure=o.disclosure,
                                           reasons="该成果的价格明显低于评估价值，请核实。", contact="13800000000",
                                           token=form_token())
    o.objection_open = services.objection_lodge(user=world.users.enterprise_b, disclosure=o.disclosure,
                                                reasons="该成果的权属可能存在争议，请核实。", contact="13800000001",
                                                token=form_token())
    # on another result: o.achievement may be in a 竞价 lot (tests/test_auctions.auction_objects), which no 挂牌 joins
    o.listed_result = factories.achievement(owner=world.users.institution, field=world.fields["materials"],
                                            status="published", title="挂牌权限测试成果")
    o.price_listing = services.listing_create(user=world.users.institution, achievement=o.listed_result, price=PRICE,
                                              days=30, contract_type="license", token=form_token())
    db.session.commit()


def names_result(world):
    """For tests/test_names.py: a published result of the city university, made once per world."""
    made = getattr(world, "transfer_result", None)
    if made is None:
        made = world.transfer_result = factories.achievement(owner=world.users.institution, field=world.fields["materials"],
                                                             status="published", title="名称清洗公示测试成果")
        db.session.commit()
    return made


def disclosure_form(world) -> dict:
    return {"buyer_name": world.orgs.ent_a.name, "contract_type": "transfer", "price": "500000.00", "days": "15",
            "contact_name": "张老师", "contact_phone": "0552-1234567", "contact_email": "", "note": "",
            "form_token": form_token()}


def test_a_university_submitting_a_transfer_online_is_told_what_the_disclosure_rule_still_asks(app, world, result):
    """The 公示 rule is decided when the 登记员 registers (registration_decide); a 高校 submitting its 协议定价
    transfer online is told at once what is missing, and the registration page says it to the submitter and the
    登记员 while the contract waits: no 公示 yet, then the 公示 in its period, then nothing once it has cleared.
    A contract the rule does not concern shows nothing."""
    from tests.test_registration_workflow import submission_form

    point, registrar = city_point(world)
    db.session.commit()
    uni = client_for(app, world.users.institution)
    form = submission_form(world, buyer_name=world.orgs.ent_a.name, contract_type="transfer", subtype="patent",
                           amount=str(PRICE), tech_amount=str(PRICE), buyer_region_id=str(world.regions["town_a"].id),
                           seller_region_id=str(world.regions["city"].id))
    resp = post(uni, "/registration/submit", form, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    page = uni.get(resp.location).get_data(as_text=True)
    assert "已提交登记" in page and "请注意：该合同属于高校院所协议定价的成果转让/许可，须先完成公示" in page
    assert 'id="reg-disclosure"' in page and "未找到卖方“蚌埠测试大学”与买方“怀远甲企业有限公司”之间" in page
    contract = db.session.scalars(select(Contract).order_by(Contract.id.desc())).first()
    assert contract.reg_status == "submitted" and contract.seller_org_id == world.orgs.uni.id
    d = publish(world, result)
    desk = client_for(app, registrar)
    page = desk.get(f"/registration/{contract.id}").get_data(as_text=True)
    assert 'id="reg-disclosure"' in page and "的公示尚在公示期内" in page
    end_period(d)
    for c in (desk, uni):
        page = c.get(f"/registration/{contract.id}").get_data(as_text=True)
        assert 'id="reg-disclosure"' not in page and "须先完成公示" not in page
    ent = client_for(app, world.users.enterprise)  # an enterprise's 技术开发 contract: the rule does not concern it
    resp = post(ent, "/registration/submit", submission_form(world, buyer_name=world.orgs.ent_b.name),
                content_type="multipart/form-data")
    assert resp.status_code == 302
    page = ent.get(resp.location).get_data(as_text=True)
    assert "已提交登记" in page and 'id="reg-disclosure"' not in page and "请注意" not in page
