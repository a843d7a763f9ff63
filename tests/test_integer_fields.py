"""Integer fields take bounded ASCII digits, before any validator (issue 12 item 0).

Found by tests/test_fuzz_forms.py: a 400-digit `demand_id` posted to /contracts/from-deal/<id> reached WTForms'
NumberRange, whose math.isnan() raised OverflowError, a 500. Every integer a form takes now goes through
market.forms.IntField (parse_int: an optional sign and at most 18 ASCII digits, else "请输入有效的整数", and no
range check runs). The inventory test below finds every integer field of market/*/forms.py and wants a case in
CASES for its form, which posts 400 digits (and other non-numbers) over HTTP: a 400 naming the field's problem in
Chinese, nothing stored.
"""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from wtforms import IntegerField

from market.extensions import db
from market.forms import INVALID_INTEGER, IntField, parse_int
from market.models import Contract, Region
from tests import factories
from tests.helpers import Poster, assert_refused, client_for, count, form_token, published_pair
from tests.test_fuzz_forms import form_fields, product_form_classes

HUGE = "9" * 400
NOT_INTEGERS = [HUGE, "-" + HUGE, "1" + "0" * 18, "１２", "٣", "1_000", "1e3", "0x1f", "3\x00", "NaN", "七"]


def _contract_terms(world, **over) -> dict:
    return {"registration_no": "2026340300000777", "title": "透明导电膜制备技术开发合同", "contract_type": "development",
            "subtype": "commissioned", "amount": "500000.00", "tech_amount": "450000.00",
            "signed_on": date.today().isoformat(), "buyer_region_id": str(world.regions["town_a"].id),
            "seller_region_id": str(world.regions["city"].id), "field_id": str(world.fields["materials"].id),
            "form_token": form_token("e")} | over


def _direct_contract(o, world) -> dict:
    return _contract_terms(world, buyer_name="怀远甲企业有限公司", seller_name="蚌埠测试大学")


def _region(o, world) -> dict:
    return {"code": "340321199", "name": "整数测试镇", "level": "town", "parent_id": str(world.regions["county_a"].id),
            "sort": "3", "form_token": form_token()}


def _contracts(o, world) -> int:
    return count(Contract)


def _regions(o, world) -> int:
    return count(Region)


# form class -> how to post it: (role, url, valid values, what a refusal must leave unchanged)
def _point(o, world) -> dict:
    return {"name": "整数测试登记点", "kind": "bureau", "region_id": str(world.regions["county_b"].id),
            "division": "340322", "serial": "7"}


def _points(o, world) -> int:
    from market.models import RegPoint

    return count(RegPoint)


def _event(o, world) -> dict:
    from tests.test_happenings import valid_event_form

    return valid_event_form()


def _events(o, world) -> int:
    from market.models import Happening

    return count(Happening)


def _transfer_result(o, world):
    from tests.test_transfers import names_result

    return names_result(world)


def _disclosure(o, world) -> dict:
    from tests.test_transfers import disclosure_form

    return disclosure_form(world)


def _disclosures(o, world) -> int:
    from market.models import Disclosure

    return count(Disclosure)


def _listing(o, world) -> dict:
    return {"contract_type": "transfer", "price": "300000.00", "days": "30", "note": "", "form_token": form_token()}


def _listings(o, world) -> int:
    from market.models import PriceListing

    return count(PriceListing)


def _auction_session(o, world):
    """A draft 竞价 session of the city official (made once per test), with a published result of the city to put up."""
    session = getattr(o, "auction_session", None)
    if session is None:
        from market.models import AuctionSession

        session = o.auction_session = AuctionSession(title="整数测试竞价专场", description="", state="draft",
                                                     region_id=world.regions["city"].id,
                                                     organiser_id=world.users.city_official.id)
        db.session.add(session)
        o.auction_result = factories.achievement(owner=world.users.institution, field=world.fields["materials"],
                                                 status="published", title="整数测试竞价成果")
        db.session.commit()
    return session


def _lot(o, world) -> dict:
    from datetime import timedelta

    from market.models.base import utcnow

    _auction_session(o, world)
    beijing = utcnow() + timedelta(hours=8)
    return {"achievement_id": str(o.auction_result.id), "starting_price": "100000", "reserve_price": "",
            "increment": "10000", "deposit_amount": "0",
            "starts_at": (beijing + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (beijing + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "snipe_window_minutes": "5", "extend_minutes": "5", "form_token": form_token()}


def _lots(o, world) -> int:
    from market.models import AuctionLot

    return count(AuctionLot)


CASES = {
    "HappeningForm": [("official", lambda o, w: "/events/new", _event, _events)],
    # issue 20: 公示 and 挂牌 periods in days, a 竞价 lot's anti-sniping minutes
    "DisclosureForm": [("institution", lambda o, w: f"/achievements/{_transfer_result(o, w).id}/disclosures/new",
                        _disclosure, _disclosures)],
    "PriceListingForm": [("institution", lambda o, w: f"/achievements/{_transfer_result(o, w).id}/price-listings/new",
                          _listing, _listings)],
    "AuctionLotForm": [("city_official", lambda o, w: f"/auctions/{_auction_session(o, w).id}/lots/new", _lot, _lots)],
    "ContractForm": [("broker", lambda o, w: "/contracts/new", _direct_contract, _contracts)],
    "PointForm": [("admin", lambda o, w: "/registration/points", _point, _points)],
    "RegionForm": [("admin", lambda o, w: "/admin/regions/new", _region, _regions),
                   ("admin", lambda o, w: f"/admin/regions/{w.regions['town_b'].id}/edit",
                    lambda o, w: _region(o, w) | {"code": w.regions["town_b"].code, "level": "town",
                                                  "parent_id": str(w.regions["county_b"].id)}, _regions)],
}


def integer_fields() -> dict[str, list[str]]:
    """form class name -> its integer fields (any IntegerField subclass), over market/forms.py and market/*/forms.py."""
    found: dict[str, list[str]] = {}
    for form in product_form_classes():
        names = sorted(n for n in form_fields(form) if issubclass(getattr(form, n).field_class, IntegerField))
        if names:
            found[form.__name__] = names
    return found


def test_every_integer_field_is_bounded_and_tested():
    found = integer_fields()
    assert found, "no integer field found: has the inventory broken?"
    for form, names in found.items():
        for name in names:
            assert issubclass(getattr(getattr(_form_class(form), name), "field_class"), IntField), (
                f"{form}.{name} is a plain wtforms IntegerField: use market.forms.IntField")
    assert set(found) == set(CASES), f"integer fields without a case here, or stale cases: {found} vs {sorted(CASES)}"


def _form_class(name: str) -> type:
    return next(c for c in product_form_classes() if c.__name__ == name)


@pytest.fixture
def objs(world):
    o = SimpleNamespace(**vars(published_pair(world)))
    o.deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=o.demand, achievement=o.achievement,
                            broker=world.users.broker, stage="negotiating", from_interest=True)
    db.session.commit()
    return o


@pytest.mark.parametrize("form, field", [(f, n) for f, names in sorted(integer_fields().items()) for n in names])
def test_a_400_digit_integer_is_a_400_with_a_chinese_message(app, world, objs, form, field):
    for role, url, valid, unchanged in CASES[form]:
        p = Poster(client_for(app, getattr(world.users, role)))
        target = url(objs, world)
        before = unchanged(objs, world)
        for value in NOT_INTEGERS:
            resp = p.post(target, valid(objs, world) | {field: value})
            assert resp.status_code == 400, (target, field, value[:20], resp.status_code)
            assert_refused(resp, INVALID_INTEGER)
            assert unchanged(objs, world) == before, (target, field, value[:20])
        # the valid values themselves pass, so the refusal above was the integer's
        assert p.post(target, valid(objs, world)).status_code == 302, target
        db.session.rollback()


def test_the_fuzz_example_a_400_digit_demand_id_to_a_deal_contract(app, world, objs):
    """The very post the fuzz test made: the deal's contract form has no demand_id (the deal's own listings are
    linked), so the field is ignored; the contract is signed and links the deal's need, never a 500."""
    p = Poster(client_for(app, world.users.broker))
    resp = p.post(f"/contracts/from-deal/{objs.deal.id}",
                  _contract_terms(world, version=str(objs.deal.version), demand_id=HUGE, achievement_id="-" + HUGE))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    contract = db.session.scalar(select(Contract).where(Contract.deal_id == objs.deal.id))
    assert (contract.demand_id, contract.achievement_id) == (objs.demand.id, objs.achievement.id)


def test_an_invalid_number_on_the_deal_contract_form_is_refused_not_a_500(app, world, objs):
    """Its own integer-like choices (regions, field) with 400 digits: refused with a message, nothing signed."""
    p = Poster(client_for(app, world.users.broker))
    for name in ("buyer_region_id", "field_id"):
        resp = p.post(f"/contracts/from-deal/{objs.deal.id}",
                      _contract_terms(world, version=str(objs.deal.version), **{name: HUGE}))
        assert resp.status_code == 400, (name, resp.status_code)
    assert count(Contract) == 0


@pytest.mark.parametrize("text, number", [("0", 0), ("12", 12), (" 7 ", 7), ("+3", 3), ("-1", -1),
                                          ("9" * 18, int("9" * 18)), ("9" * 19, None), (HUGE, None), ("", None),
                                          ("１２", None), ("²", None), ("1_000", None), ("3\x00", None), (None, None)])
def test_parse_int(text, number):
    assert parse_int(text) == number
