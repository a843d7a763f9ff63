"""Issue 12 item 5: one district must not change another district's figures.

A contract between a company of county A (怀远县) and one of county B (五河县) counts in both counties' figures
(A's 吸纳, B's 输出). An edit or void that moves the figures of a region outside the editor's scope is refused;
an official over both sides (the city's) or an administrator may, and then both counties' officials are told.
Everything goes through HTTP, as the attack did.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import Contract, ContractAudit, Notification
from tests import factories
from tests.helpers import Poster, assert_refused, count, diff, snapshot

OUT_OF_SCOPE = "不在您负责的区域内"


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


@pytest.fixture
def shared(world):
    """A live contract: buyer 怀远甲企业 (town of county A), seller 五河乙企业 (county B), worked by A's broker."""
    contract = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.ent_b, amount=Decimal("200000.00"),
                                  tech_amount=Decimal("150000.00"), field=world.fields["materials"],
                                  broker_id=world.users.broker.id, registration_no="2026340300000888",
                                  title="县际共建技术开发合同")
    db.session.commit()
    return contract


def edit_form(contract: Contract, **over) -> dict:
    data = {
        "registration_no": contract.registration_no,
        "title": contract.title,
        "contract_type": contract.contract_type,
        "subtype": contract.subtype,
        "amount": str(contract.amount),
        "tech_amount": str(contract.tech_amount),
        "signed_on": contract.signed_on.isoformat(),
        "buyer_region_id": str(contract.buyer_region_id),
        "seller_region_id": str(contract.seller_region_id),
        "field_id": str(contract.field_id or 0),
        "version": str(contract.version),
    }
    data.update(over)
    return data


def notified(user) -> list[Notification]:
    return db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                         Notification.kind == "contract_figures")).all()


def test_moving_the_other_countys_seller_out_is_refused(app, world, shared, login_as):
    """The attack: county A's official moved the seller region out of county B (B's 输出 dropped by one, and
    B's official then got 404 on the contract)."""
    official = Poster(login_as("official"))
    page = official.get(f"/contracts/{shared.id}/edit").get_data(as_text=True)
    assert 'id="figures-note"' in page and "五河县" in page  # the form says so before anyone tries
    before = snapshot()
    for moved_to in ("county_a", "town_a", "city"):
        resp = official.post(f"/contracts/{shared.id}/edit",
                             edit_form(shared, seller_region_id=str(world.regions[moved_to].id)))
        assert_refused(resp, OUT_OF_SCOPE, "五河县", codes=(403,))
    # moving its own buyer side into county B is just as much a change of B's figures
    resp = official.post(f"/contracts/{shared.id}/edit", edit_form(shared, buyer_region_id=str(world.regions["town_b"].id)))
    assert_refused(resp, "您负责的区域内", codes=(403,))
    assert diff(before, snapshot()) == {}
    assert login_as("official_b").get(f"/contracts/{shared.id}").status_code == 200


def test_amount_of_a_shared_contract_needs_an_official_over_both(app, world, shared, login_as):
    refused = [Poster(login_as(name)) for name in ("official", "official_b", "broker")]  # brokers: the same rule
    city = Poster(login_as("city_official"))
    before = snapshot()
    for client in refused:
        resp = client.post(f"/contracts/{shared.id}/edit", edit_form(shared, amount="250000.00"))
        assert_refused(resp, OUT_OF_SCOPE, codes=(403,))
    assert diff(before, snapshot()) == {}

    resp = city.post(f"/contracts/{shared.id}/edit", edit_form(shared, amount="250000.00"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    db.session.refresh(shared)
    assert shared.amount == Decimal("250000.00") and shared.version == 2
    audit = db.session.scalars(select(ContractAudit).where(ContractAudit.contract_id == shared.id)).all()
    assert [(a.field_name, a.old_value, a.new_value, a.actor_id) for a in audit] == [
        ("amount", "200000.00", "250000.00", world.users.city_official.id)]
    # both counties are told, with a link to the contract, and see the change in its audit trail
    for name in ("official", "official_b"):
        user = getattr(world.users, name)
        (note,) = notified(user)
        assert "2026340300000888" in note.text and "200000.00 → 250000.00" in note.text
        assert note.url == f"/contracts/{shared.id}"
        page = login_as(name).get(f"/contracts/{shared.id}").get_data(as_text=True)
        assert "修改记录" in page and "250000.00" in page and world.users.city_official.name in page
    assert notified(world.users.city_official) == []  # the actor
    assert count(Notification, Notification.kind == "contract_figures") == 2


def test_every_figure_term_counts(app, world, shared, login_as):
    """Date, type, field and technology amount move figures as the amount does."""
    official = Poster(login_as("official"))
    before = snapshot()
    for over in ({"signed_on": (date.today() - timedelta(days=400)).isoformat()},
                 {"contract_type": "service", "subtype": ""},
                 {"field_id": str(world.fields["software"].id)},
                 {"tech_amount": "100.00"}):
        assert_refused(official.post(f"/contracts/{shared.id}/edit", edit_form(shared, **over)), OUT_OF_SCOPE,
                       codes=(403,))
    assert diff(before, snapshot()) == {}


def test_voiding_a_shared_contract_needs_an_official_over_both(app, world, shared, login_as):
    url = f"/contracts/{shared.id}/void"
    official = login_as("official")
    page = official.get(f"/contracts/{shared.id}").get_data(as_text=True)
    assert 'id="void-form"' not in page and 'id="void-refused"' in page and "五河县" in page
    refused = [Poster(official), Poster(login_as("official_b"))]
    city = Poster(login_as("city_official"))
    before = snapshot()
    for client in refused:
        assert_refused(client.post(url, {"reason": "录入错误，作废"}), OUT_OF_SCOPE, codes=(403,))
    assert diff(before, snapshot()) == {}

    assert 'id="void-form"' in city.get(f"/contracts/{shared.id}").get_data(as_text=True)
    assert city.post(url, {"reason": "录入错误，作废"}).status_code == 302
    db.session.refresh(shared)
    assert shared.voided and shared.void_reason == "录入错误，作废"
    for name in ("official", "official_b"):
        (note,) = notified(getattr(world.users, name))
        assert "作废" in note.text and "2026340300000888" in note.text and "录入错误" in note.text
        assert "已作废" in login_as(name).get(f"/contracts/{shared.id}").get_data(as_text=True)
    assert notified(world.users.city_official) == []


def test_an_administrator_may_move_a_side_and_the_county_that_lost_it_is_told(app, world, shared, login_as):
    admin = Poster(login_as("admin"))
    resp = admin.post(f"/contracts/{shared.id}/edit", edit_form(shared, seller_region_id=str(world.regions["county_a"].id)))
    assert resp.status_code == 302
    db.session.refresh(shared)
    assert shared.seller_region_id == world.regions["county_a"].id
    audit = db.session.scalars(select(ContractAudit).where(ContractAudit.contract_id == shared.id)).all()
    assert [(a.field_name, a.old_value, a.new_value) for a in audit] == [("seller_region_id", "蚌埠市/五河县", "蚌埠市/怀远县")]
    (kept,) = notified(world.users.official)
    assert kept.url == f"/contracts/{shared.id}" and "五河县 → 蚌埠市/怀远县" in kept.text
    # county B no longer holds either side: it is told what happened, without a link it could not open
    (lost,) = notified(world.users.official_b)
    assert lost.url == "" and "卖方区域 蚌埠市/五河县 → 蚌埠市/怀远县" in lost.text and "已不在贵区域范围内" in lost.text
    assert login_as("official_b").get(f"/contracts/{shared.id}").status_code == 404
    assert notified(world.users.city_official) == []


def test_changes_to_the_editors_own_figures_are_allowed(app, world, shared, login_as):
    official = Poster(login_as("official"))
    # terms that move no figure, on the shared contract
    resp = official.post(f"/contracts/{shared.id}/edit", edit_form(shared, title="县际共建技术开发合同（补充）",
                                                                   term_end=date.today().isoformat()))
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    db.session.refresh(shared)
    assert shared.title == "县际共建技术开发合同（补充）" and shared.amount == Decimal("200000.00")
    assert count(Notification, Notification.kind == "contract_figures") == 0
    # a contract whose both sides lie in county A: its official and its broker change figures and void
    seller = factories.org(region=world.regions["county_a"], name="怀远丙科技有限公司")
    own = factories.contract(buyer=world.orgs.ent_a, seller=seller, amount=Decimal("1000.00"),
                             broker_id=world.users.broker.id)
    db.session.commit()
    assert 'id="figures-note"' not in official.get(f"/contracts/{own.id}/edit").get_data(as_text=True)
    assert official.post(f"/contracts/{own.id}/edit", edit_form(own, amount="1200.00", tech_amount="1200.00",
                                                                 seller_region_id=str(world.regions["town_a"].id))).status_code == 302
    db.session.refresh(own)
    broker = Poster(login_as("broker"))
    assert broker.post(f"/contracts/{own.id}/edit", edit_form(own, amount="1300.00")).status_code == 302
    db.session.refresh(own)
    assert (own.amount, own.seller_region_id) == (Decimal("1300.00"), world.regions["town_a"].id)
    assert official.post(f"/contracts/{own.id}/void", {"reason": "重复登记，作废"}).status_code == 302
    db.session.refresh(own)
    assert own.voided
    # nobody outside county A was touched, so nobody was notified
    assert count(Notification, Notification.kind == "contract_figures") == 0
