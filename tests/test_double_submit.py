"""Issue 14 item 6: every creating form carries a one-time submission token (market/formtokens.py).

The same form posted twice (a second click, or a resubmission after a lost answer) makes one record, and the
second answer is a 409 saying it was already saved, with a link to the record to whoever made it; two posts of
the same token at the same moment make one record too; a form without a token, or with a token the site never
issued, is refused and stores nothing.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Callable

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import (Achievement, Contract, Deal, DealEvent, Demand, Disclosure, DisclosureObjection, Field,
                           FormSubmission, Interest, Payment, PriceListing, Region, Target, User)
from market.models.auction import AuctionLot, AuctionSession
from market.models.base import utcnow
from tests import factories
from tests.helpers import Poster, assert_refused, client_for, count, demand_form, achievement_form, diff, form_token, \
    page_token, post_together, published_pair, snapshot

ON_POSTGRES = os.environ.get("MARKET_TEST_DB") == "postgres"
SAVED = "已经提交过"
CJK_SAVED = re.compile(r"记录已保存|账号已创建")


@dataclass
class Case:
    """One creating form: who opens which page, what it posts where, which rows count, where the record is."""

    role: str | None  # None: anonymous
    page: Callable  # (world, objs) -> the URL of the page carrying the form
    action: Callable  # (world, objs) -> the URL the form posts to
    data: Callable  # (world, objs) -> the fields, without the token
    model: type
    where: Callable = lambda w, o: ()  # extra conditions for the rows that count
    link: Callable | None = None  # (world, objs, record id) -> the address the 409 page links to


def _register(w, o):
    return {"role": "enterprise", "username": "newco_dup", "name": "王经理", "phone": "13900001111", "email": "",
            "password": "Strong-pass-2026", "password2": "Strong-pass-2026", "org_name": "蚌埠重复提交科技有限公司",
            "org_type": "enterprise", "uscc": factories.uscc(434343, area="340322"),
            "region_id": str(w.regions["town_a"].id), "contact_name": "", "contact_phone": "", "address": "",
            "broker_cert_no": "", "agree": "y"}


def _contract(w, o):
    return {"registration_no": "2026340300000777", "title": "导电膜镀膜工艺技术开发合同", "contract_type": "development",
            "subtype": "commissioned", "amount": "500000.00", "tech_amount": "400000.00",
            "signed_on": date.today().isoformat(), "buyer_name": w.orgs.ent_a.name, "seller_name": w.orgs.uni.name,
            "buyer_region_id": str(w.regions["town_a"].id), "seller_region_id": str(w.regions["city"].id),
            "field_id": str(w.fields["materials"].id)}


def _disclosure(w, o):
    return {"buyer_name": w.orgs.ent_a.name, "contract_type": "transfer", "price": "500000.00", "days": "15",
            "contact_name": "张老师", "contact_phone": "0552-1234567", "contact_email": "", "note": "经评估协商"}


def _lot(w, o):
    beijing = utcnow() + timedelta(hours=8)
    return {"achievement_id": str(o.lot_result.id), "starting_price": "100000", "reserve_price": "",
            "increment": "10000", "deposit_amount": "0",
            "starts_at": (beijing + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (beijing + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "snipe_window_minutes": "5", "extend_minutes": "5"}


def _no_token(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "form_token"}


CASES = {
    "demand": Case("enterprise", lambda w, o: "/demands/new", lambda w, o: "/demands/new",
                   lambda w, o: _no_token(demand_form(w)), Demand, link=lambda w, o, i: f"/demands/{i}"),
    "achievement": Case("institution", lambda w, o: "/achievements/new", lambda w, o: "/achievements/new",
                        lambda w, o: _no_token(achievement_form(w)), Achievement, link=lambda w, o, i: f"/achievements/{i}"),
    "register": Case(None, lambda w, o: "/register", lambda w, o: "/register", _register, User,
                     where=lambda w, o: (User.username == "newco_dup",), link=lambda w, o, i: "/login"),
    "admin user": Case("admin", lambda w, o: "/admin/users/new", lambda w, o: "/admin/users/new",
                       lambda w, o: {"role": "official", "username": "kjj_dup", "name": "新工作人员", "phone": "",
                                     "email": "", "password": "Strong-pass-2026", "password2": "Strong-pass-2026",
                                     "region_id": str(w.regions["county_a"].id), "org_id": "0", "broker_cert_no": ""},
                       User, where=lambda w, o: (User.username == "kjj_dup",),
                       link=lambda w, o, i: f"/admin/users/{i}/edit"),
    "admin region": Case("admin", lambda w, o: "/admin/regions/new", lambda w, o: "/admin/regions/new",
                         lambda w, o: {"code": "340323", "name": "固镇县", "level": "county",
                                       "parent_id": str(w.regions["city"].id), "sort": "0"},
                         Region, where=lambda w, o: (Region.code == "340323",),
                         link=lambda w, o, i: f"/admin/regions/{i}/edit"),
    "admin field": Case("admin", lambda w, o: "/admin/fields/new", lambda w, o: "/admin/fields/new",
                        lambda w, o: {"name": "航空航天", "parent_id": "0", "code": ""}, Field,
                        where=lambda w, o: (Field.name == "航空航天",), link=lambda w, o, i: f"/admin/fields/{i}/edit"),
    "target": Case("city_official", lambda w, o: f"/dashboard/targets/{w.regions['town_a'].id}?year=2026",
                   lambda w, o: f"/dashboard/targets/{w.regions['town_a'].id}?year=2026",
                   lambda w, o: {"amount": "800", "tech_amount": "", "count": "12", "conversions": ""}, Target,
                   where=lambda w, o: (Target.region_id == w.regions["town_a"].id,),
                   link=lambda w, o, i: f"/dashboard/targets/{w.regions['town_a'].id}?year=2026"),
    "interest": Case("enterprise", lambda w, o: f"/achievements/{o.pair.achievement.id}",
                     lambda w, o: f"/deals/interest/achievement/{o.pair.achievement.id}",
                     lambda w, o: {"message": "我们想把该技术用于光伏玻璃生产线。"}, Interest,
                     link=lambda w, o, i: f"/achievements/{o.pair.achievement.id}#interests"),
    "claim suggestion": Case("broker", lambda w, o: "/deals/queue", lambda w, o: f"/deals/queue/{o.suggestion.id}/claim",
                             lambda w, o: {}, Deal, link=lambda w, o, i: f"/deals/{i}"),
    "claim deal": Case("broker", lambda w, o: f"/deals/{o.open_deal.id}", lambda w, o: f"/deals/{o.open_deal.id}/claim",
                       lambda w, o: {}, DealEvent, where=lambda w, o: (DealEvent.kind == "claim",),
                       link=lambda w, o, i: f"/deals/{o.open_deal.id}"),
    "deal note": Case("broker", lambda w, o: f"/deals/{o.worked_deal.id}", lambda w, o: f"/deals/{o.worked_deal.id}/note",
                      lambda w, o: {"text": "双方已约定下周现场交流"}, DealEvent, where=lambda w, o: (DealEvent.kind == "note",),
                      link=lambda w, o, i: f"/deals/{o.worked_deal.id}#events"),
    "contract": Case("broker", lambda w, o: "/contracts/new", lambda w, o: "/contracts/new", _contract, Contract,
                     link=lambda w, o, i: f"/contracts/{i}"),
    "payment": Case("broker", lambda w, o: f"/contracts/{o.contract.id}", lambda w, o: f"/contracts/{o.contract.id}/payments",
                    lambda w, o: {"paid_on": date.today().isoformat(), "amount": "300.10", "note": "第一期"}, Payment,
                    link=lambda w, o, i: f"/contracts/{o.contract.id}#payments"),
    # issue 20: 协议定价 公示 with its objections, 挂牌, 竞价 sessions and lots
    "disclosure": Case("institution", lambda w, o: f"/achievements/{o.pair.achievement.id}/disclosures/new",
                       lambda w, o: f"/achievements/{o.pair.achievement.id}/disclosures/new", _disclosure, Disclosure,
                       link=lambda w, o, i: f"/disclosures/{i}"),
    "objection": Case("enterprise_b", lambda w, o: f"/disclosures/{o.disclosure.id}",
                      lambda w, o: f"/disclosures/{o.disclosure.id}/objections",
                      lambda w, o: {"reasons": "该成果的价格明显低于评估价值，请核实。", "contact": "13800000000"},
                      DisclosureObjection, link=lambda w, o, i: f"/disclosures/{o.disclosure.id}#objection-{i}"),
    "price listing": Case("institution", lambda w, o: f"/achievements/{o.listed_result.id}/price-listings/new",
                          lambda w, o: f"/achievements/{o.listed_result.id}/price-listings/new",
                          lambda w, o: {"contract_type": "transfer", "price": "500000.00", "days": "30", "note": ""},
                          PriceListing, link=lambda w, o, i: f"/price-listings/{i}"),
    "auction session": Case("city_official", lambda w, o: "/auctions/new", lambda w, o: "/auctions/new",
                            lambda w, o: {"title": "蚌埠市科技成果竞价专场（重复提交）", "description": ""}, AuctionSession,
                            link=lambda w, o, i: f"/auctions/{i}"),
    "auction lot": Case("city_official", lambda w, o: f"/auctions/{o.auction_session.id}/lots/new",
                        lambda w, o: f"/auctions/{o.auction_session.id}/lots/new", _lot, AuctionLot,
                        link=lambda w, o, i: f"/auctions/lots/{i}"),
}


@pytest.fixture
def objs(app, world):
    """What the forms act on: a published need and result, a suggestion for them, a deal nobody has claimed, a
    deal the broker works, a contract the broker recorded; an open 公示 of the result, a result to list at a price,
    the city official's draft 竞价 session and a result to put up in it."""
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False  # suggestions are made by hand here
    u, f = world.users, world.fields
    pair = published_pair(world)
    other_need = factories.demand(owner=u.enterprise, field=f["materials"], status="published", title="寻求导电膜量产工艺改进")
    other_result = factories.achievement(owner=u.institution, field=f["materials"], status="published",
                                         title="导电膜卷绕镀膜量产工艺")
    suggestion = factories.suggestion(demand=pair.demand, achievement=pair.achievement)
    open_deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=other_need,
                               achievement=pair.achievement, broker=None, stage="contacted")
    worked_deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=pair.demand,
                                 achievement=other_result, broker=u.broker, stage="contacted")
    contract = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, recorded_by=u.broker, broker_id=u.broker.id)
    from market.transfers import services as transfers

    disclosure = transfers.disclosure_create(
        user=u.institution, achievement=pair.achievement, buyer_name=world.orgs.ent_a.name, contract_type="transfer",
        price=Decimal("500000.00"), days=None, contact_name="张老师", contact_phone="0552-1234567", token=form_token())
    auction_session = AuctionSession(title="蚌埠市科技成果竞价专场", description="", state="draft",
                                     region_id=world.regions["city"].id, organiser_id=u.city_official.id)
    db.session.add(auction_session)
    db.session.commit()
    from types import SimpleNamespace

    return SimpleNamespace(pair=pair, suggestion=suggestion, open_deal=open_deal, worked_deal=worked_deal,
                           contract=contract, disclosure=disclosure, listed_result=_for_sale(world, "挂牌"),
                           lot_result=_for_sale(world, "竞价"), auction_session=auction_session)


def _for_sale(world, how: str) -> Achievement:
    """A published result of the city university that no 挂牌 or 竞价 holds yet (one sale per result)."""
    made = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published",
                                 title=f"重复提交{how}测试成果")
    db.session.commit()
    return made


def _poster(app, world, role):
    return Poster(client_for(app, getattr(world.users, role)) if role else app.test_client())


def _rows(case, world, objs) -> int:
    return count(case.model, *case.where(world, objs))


def _posted_twice(app, world, objs, name: str) -> None:
    case = CASES[name]
    p = _poster(app, world, case.role)
    token = page_token(p.client, case.page(world, objs))
    data = {**case.data(world, objs), "form_token": token}
    before = _rows(case, world, objs)

    first = p.post(case.action(world, objs), data)
    assert first.status_code == 302, (first.status_code, first.get_data(as_text=True)[:800])
    made_rows = _rows(case, world, objs) - before
    assert made_rows == 1 or (name == "target" and made_rows == 2), made_rows  # targets: one row per metric
    made = db.session.scalar(select(FormSubmission).where(FormSubmission.token == token))
    assert made is not None and made.object_id is not None

    # the answer was lost: the same page is posted again, by the same user (a registration: a new browser)
    again_poster = _poster(app, world, case.role) if case.role is None else p
    before_again = snapshot()
    again = again_poster.post(case.action(world, objs), data)
    found = assert_refused(again, SAVED, "请勿重复提交", codes=(409,))
    assert CJK_SAVED.search(" ".join(found))
    changed = diff(before_again, snapshot())
    changed.pop("login_failures", None)  # the register throttle counts each attempt from an address
    assert changed == {}, f"the second post stored something: {changed}"
    link = case.link(world, objs, made.object_id)
    assert f'href="{link}" id="saved-record"' in again.get_data(as_text=True), link


def test_every_creating_form_posted_twice_makes_one_record(app, world, objs):
    """All the creating forms in one world (a world per form would cost more than the posts)."""
    problems = []
    for name in CASES:
        try:
            _posted_twice(app, world, objs, name)
        except AssertionError as exc:
            problems.append(f"{name}: {exc}")
    assert not problems, "\n".join(problems)


def test_a_resubmitted_registration_says_to_sign_in(app, world):
    p = Poster(app.test_client())
    data = {**_register(world, None), "form_token": page_token(p.client, "/register")}
    assert p.post("/register", data).status_code == 302
    again = Poster(app.test_client()).post("/register", data)
    assert_refused(again, "账号已创建", "请直接登录", codes=(409,))
    assert count(User, User.username == "newco_dup") == 1


def test_someone_else_posting_a_used_token_gets_no_link(app, world, objs):
    """The link to the record goes to whoever made it; another account replaying the token learns nothing."""
    token = form_token()
    before = count(Demand)
    assert _poster(app, world, "enterprise").post("/demands/new", demand_form(world, form_token=token)).status_code == 302
    other = factories.user(role="enterprise", org=world.orgs.ent_a, username="ent_a2")
    db.session.commit()
    again = Poster(client_for(app, other))
    resp = again.post("/demands/new", demand_form(world, form_token=token))
    assert_refused(resp, SAVED, codes=(409,))
    assert 'id="saved-record"' not in resp.get_data(as_text=True)
    assert count(Demand) == before + 1


@pytest.mark.skipif(ON_POSTGRES, reason="the token check comes before any write; the database kind does not matter")
def test_a_missing_or_forged_token_is_refused_and_stores_nothing(app, world, objs):
    problems = []
    for name, case in CASES.items():
        p = _poster(app, world, case.role)
        real = page_token(p.client, case.page(world, objs))
        nonce, _, signature = real.partition(".")
        forged = {
            "missing": None,
            "empty": "",
            "made up": "c" * 32,
            "another signature": f"{nonce}.{'A' * 22}",
            "another nonce": f"{'B' * 32}.{signature}",
            "too long": real + "x",
        }
        before = snapshot()
        for label, token in forged.items():
            data = case.data(world, objs)
            if token is not None:
                data["form_token"] = token
            resp = p.post(case.action(world, objs), data)
            try:
                assert_refused(resp, "表单已失效", "本次提交未保存", codes=(400,))
            except AssertionError as exc:
                problems.append(f"{name}, {label}: {exc}")
        changed = diff(before, snapshot())
        changed.pop("login_failures", None)  # the register throttle counts the attempts
        if changed:
            problems.append(f"{name}: stored {changed}")
        # the page's own token still works
        resp = p.post(case.action(world, objs), {**case.data(world, objs), "form_token": real})
        if resp.status_code != 302:
            problems.append(f"{name}: the page's token refused ({resp.status_code})")
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(ON_POSTGRES, reason="what the page shows does not depend on the database")
def test_a_refused_form_keeps_its_token_and_a_forged_one_is_replaced(app, world):
    """A form sent back for a field error keeps its token (corrected, it still saves once); a form whose token
    was forged comes back with a real one."""
    p = _poster(app, world, "enterprise")
    token = page_token(p.client, "/demands/new")
    resp = p.post("/demands/new", demand_form(world, form_token=token, title=""))
    assert resp.status_code == 400 and f'value="{token}"' in resp.get_data(as_text=True)
    resp = p.post("/demands/new", demand_form(world, form_token="c" * 32))
    assert resp.status_code == 400 and 'value="cccc' not in resp.get_data(as_text=True)
    fresh = re.search(r'name="form_token"[^>]*value="([^"]+)"', resp.get_data(as_text=True)).group(1)
    assert p.post("/demands/new", demand_form(world, form_token=fresh)).status_code == 302
    assert p.post("/demands/new", demand_form(world, form_token=token)).status_code == 302  # corrected, saved once
    assert count(Demand) == 2


@pytest.mark.parametrize("kind", ["demand", "achievement"])
def test_two_posts_of_one_token_at_the_same_moment_make_one_listing(app, world, kind):
    """Two browsers' worth of the same submission race: the unique token lets one commit. Each round starts
    both posts together (a barrier); on PostgreSQL the second insert waits on the first one's index entry."""
    role, build, model = {"demand": ("enterprise", demand_form, Demand),
                          "achievement": ("institution", achievement_form, Achievement)}[kind]
    user = getattr(world.users, role)
    posters = [Poster(client_for(app, user)) for _ in range(2)]
    rounds = 8
    outcomes: list[list[int]] = []
    for n in range(rounds):
        data = build(world, title=f"并发提交的同一表单第{n + 1}份")
        outcomes.append(post_together(app, posters, f"/{kind}s/new", data))
    assert outcomes == [[302, 409]] * rounds, outcomes
    assert count(model) == rounds
    titles = db.session.scalars(select(model.title)).all()
    assert sorted(titles) == sorted(f"并发提交的同一表单第{n + 1}份" for n in range(rounds))


ISSUE_20_FORMS = ["disclosure", "objection", "price listing", "auction session", "auction lot"]


@pytest.mark.parametrize("name", ISSUE_20_FORMS)
def test_two_posts_of_one_token_at_the_same_moment_make_one_issue_20_record(app, world, objs, name):
    """The same race for the 公示, 异议, 挂牌 and 竞价 forms: one record a round, and the other post is told it was
    saved (409 "已经提交过", not the one-sale rule's refusal). A 挂牌 or a lot needs a result not yet on sale, so
    each round puts up a fresh one."""
    case = CASES[name]
    user = getattr(world.users, case.role)
    posters = [Poster(client_for(app, user)) for _ in range(2)]
    before = _rows(case, world, objs)
    rounds = 3
    outcomes: list[list[int]] = []
    for _ in range(rounds):
        if name == "price listing":
            objs.listed_result = _for_sale(world, "挂牌")
        elif name == "auction lot":
            objs.lot_result = _for_sale(world, "竞价")
        data = {**case.data(world, objs), "form_token": form_token()}
        answers: list[tuple[int, str]] = []
        outcomes.append(post_together(app, posters, case.action(world, objs), data, answers=answers))
        refused = [text for status, text in answers if status == 409]
        assert len(refused) == 1 and SAVED in refused[0] and 'id="saved-record"' in refused[0], refused[:1]
    assert outcomes == [[302, 409]] * rounds, outcomes
    assert _rows(case, world, objs) == before + rounds
