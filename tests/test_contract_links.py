"""Issue 12 item 2: a contract entered directly cannot mark someone else's listing done.

Attacked over HTTP as found: a broker of county A records a contract naming county B's company need by the exact
organisation name. The need must stay open, its organisation is asked (a pending link and a notification) and
alone decides; an owner may reopen a listing a contract marked done; each change is in the listing's history.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import Contract, ContractAudit, ContractListingLink, ListingEvent, Notification
from tests import factories
from tests.helpers import Poster, client_for, count, form_token, is_login_redirect, published_pair

PATH = {"demand": "demands", "achievement": "achievements"}


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


@pytest.fixture
def as_(app, world):
    """as_('enterprise_b') -> a Poster signed in as that world user (a real server-side session)."""
    return lambda name: Poster(client_for(app, getattr(world.users, name)))


def entry(world, n: int = 1, **over) -> dict:
    """A direct contract entry by county A's broker: a new company of county A (the broker's side) and a buyer
    typed by name, in county B."""
    return {
        "registration_no": f"202634032100{n:04d}",
        "title": "镀膜工艺技术开发合同",
        "contract_type": "development",
        "subtype": "commissioned",
        "amount": "880000.00",
        "tech_amount": "800000.00",
        "signed_on": date.today().isoformat(),
        "buyer_name": "五河乙企业有限公司",
        "buyer_region_id": str(world.regions["county_b"].id),
        "seller_name": "怀远某新材料科技有限公司",
        "seller_region_id": str(world.regions["town_a"].id),
        "field_id": str(world.fields["materials"].id),
        "form_token": form_token(f"n{n}"),
        **over,
    }


@pytest.fixture
def need_b(world):
    need = factories.demand(owner=world.users.enterprise_b, field=world.fields["materials"], status="published",
                            title="五河乙企业：玻璃深加工镀膜需求")
    db.session.commit()
    return need


def record(as_, world, listing, n: int = 1, **over):
    key = "demand_id" if listing.KIND == "demand" else "achievement_id"
    resp = as_("broker").post("/contracts/new", entry(world, n, **{key: str(listing.id)}, **over))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    return db.session.scalar(select(Contract).where(Contract.registration_no == f"202634032100{n:04d}"))


def the_link(contract) -> ContractListingLink:
    return db.session.scalar(select(ContractListingLink).where(ContractListingLink.contract_id == contract.id))


def history(listing) -> list[tuple]:
    rows = db.session.scalars(select(ListingEvent).where(ListingEvent.kind == listing.KIND,
                                                         ListingEvent.listing_id == listing.id).order_by(ListingEvent.id))
    return [(e.from_status, e.to_status, e.actor_id, e.reason) for e in rows]


def test_a_broker_naming_another_county_s_need_marks_nothing_done(world, as_, need_b):
    contract = record(as_, world, need_b)
    db.session.expire_all()
    assert need_b.status == "published"  # not 已解决
    assert contract.demand_id is None  # the contract does not name the need until its owner agrees
    link = the_link(contract)
    assert (link.kind, link.listing_id, link.status, link.requested_by_id) == (
        "demand", need_b.id, "pending", world.users.broker.id)
    # the owner is told, with a link to the page where it decides; nobody else is
    note = db.session.scalar(select(Notification).where(Notification.kind == "contract_link"))
    assert note.user_id == world.users.enterprise_b.id
    assert contract.registration_no in note.text and need_b.title in note.text
    assert note.url == f"/demands/{need_b.id}#contract-links"
    assert count(Notification, Notification.kind == "contract_link") == 1
    # its history says so, its page shows it still open and accepting answers
    assert [(f, t, a) for f, t, a, _ in history(need_b)] == [("published", "published", world.users.broker.id)]
    owner = as_("enterprise_b")
    page = owner.get(f"/demands/{need_b.id}").get_data(as_text=True)
    assert "已发布" in page and "已解决" not in page.split('id="listing-status"')[1][:40]
    assert 'id="contract-links"' in page and contract.registration_no in page and "确认关联" in page
    assert 'id="interest-form"' in as_("institution").get(f"/demands/{need_b.id}").get_data(as_text=True)
    # the contract's page says what is awaited
    assert "待发布单位确认" in as_("broker").get(f"/contracts/{contract.id}").get_data(as_text=True)


@pytest.mark.parametrize("kind", ["demand", "achievement"])
def test_the_owner_accepts_and_the_listing_is_linked_and_done(world, as_, kind):
    if kind == "demand":
        listing = factories.demand(owner=world.users.enterprise_b, field=world.fields["materials"], status="published")
        owner_name, over = "enterprise_b", {}
    else:
        listing = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
        owner_name = "institution"
        over = {"seller_name": "蚌埠测试大学", "seller_region_id": str(world.regions["city"].id),
                "buyer_name": "怀远某新材料科技有限公司", "buyer_region_id": str(world.regions["town_a"].id)}
    db.session.commit()
    contract = record(as_, world, listing, **over)
    link = the_link(contract)
    owner = as_(owner_name)
    resp = owner.post(f"/contracts/links/{link.id}", {"decision": "accept"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/{PATH[kind]}/{listing.id}#contract-links")
    db.session.expire_all()
    assert listing.status == "done" and listing.status_label == listing.DONE_LABEL
    assert getattr(contract, f"{kind}_id") == listing.id
    assert (link.status, link.decided_by_id) == ("accepted", getattr(world.users, owner_name).id)
    assert link.decided_at is not None
    done = history(listing)[-1]
    assert done[:3] == ("published", "done", getattr(world.users, owner_name).id)
    assert done[3].startswith("签订技术合同") and contract.registration_no in done[3]
    # the recorder is told; the register keeps the link in its audit trail
    assert count(Notification, Notification.user_id == world.users.broker.id, Notification.kind == "contract_link_accepted") == 1
    assert count(ContractAudit, ContractAudit.contract_id == contract.id, ContractAudit.action == "link") == 2
    # decided once: a second decision (accept or decline) is refused and changes nothing
    for decision in ("accept", "decline"):
        assert owner.post(f"/contracts/links/{link.id}", {"decision": decision}).status_code == 409
    db.session.expire_all()
    assert link.status == "accepted" and listing.status == "done" and len(history(listing)) == 2
    assert listing.DONE_LABEL in owner.get(f"/{PATH[kind]}/{listing.id}").get_data(as_text=True)


def test_the_owner_declines_and_the_listing_is_untouched(world, as_, need_b):
    contract = record(as_, world, need_b)
    link = the_link(contract)
    resp = as_("enterprise_b").post(f"/contracts/links/{link.id}", {"decision": "decline", "reason": "我司未签订该合同"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert need_b.status == "published" and contract.demand_id is None
    assert (link.status, link.decided_by_id, link.decline_reason) == ("declined", world.users.enterprise_b.id, "我司未签订该合同")
    last = history(need_b)[-1]
    assert last[:3] == ("published", "published", world.users.enterprise_b.id)
    assert "拒绝关联技术合同" in last[3] and "我司未签订该合同" in last[3]
    note = db.session.scalar(select(Notification).where(Notification.kind == "contract_link_declined"))
    assert note.user_id == world.users.broker.id and "我司未签订该合同" in note.text
    assert note.url == f"/contracts/{contract.id}"
    assert "发布单位已拒绝关联" in as_("broker").get(f"/contracts/{contract.id}").get_data(as_text=True)
    # nothing left to decide, and accepting afterwards is refused
    assert as_("enterprise_b").post(f"/contracts/links/{link.id}", {"decision": "accept"}).status_code == 409
    db.session.expire_all()
    assert need_b.status == "published" and contract.demand_id is None


def test_only_the_owning_organisation_decides(app, world, as_, need_b):
    """Every other role, and an anonymous visitor, is refused and nothing changes: the link is not found (404) by anyone
    but its owner, an unverified account is stopped by the actor gate (403), an anonymous one sent to sign in."""
    contract = record(as_, world, need_b)
    link = the_link(contract)
    url = f"/contracts/links/{link.id}"
    anonymous = Poster(app.test_client())
    assert is_login_redirect(anonymous.post(url, {"decision": "accept"}))
    others = ("enterprise", "institution", "broker", "official", "official_b", "city_official", "admin", "unverified")
    for name in others:
        client = as_(name)
        for decision in ("accept", "decline"):
            resp = client.post(url, {"decision": decision, "reason": "越权处理"})
            assert resp.status_code == (403 if name == "unverified" else 404), (name, decision, resp.status_code)
        assert client.get(url).status_code == 405
        # the accept and decline forms are not on the listing's page for anyone else
        page = client.get(f"/demands/{need_b.id}").get_data(as_text=True)
        assert 'id="contract-links"' not in page and url not in page, name
    # a colleague of the owning organisation may decide; a bad decision is a 400 that changes nothing
    colleague = factories.user(role="enterprise", org=world.orgs.ent_b, username="ent_b_colleague")
    db.session.commit()
    assert Poster(client_for(app, colleague)).post(url, {"decision": "maybe"}).status_code == 400
    db.session.expire_all()
    assert link.status == "pending" and need_b.status == "published" and contract.demand_id is None
    assert count(Notification, Notification.kind.in_(("contract_link_accepted", "contract_link_declined"))) == 0
    assert len(history(need_b)) == 1
    assert Poster(client_for(app, colleague)).post(url, {"decision": "accept"}).status_code == 302
    db.session.expire_all()
    assert need_b.status == "done"


def test_a_listing_that_is_not_public_is_linked_but_keeps_its_status(world, as_):
    draft = factories.demand(owner=world.users.enterprise_b, field=world.fields["materials"], status="draft",
                             title="尚未公开的草稿需求")
    db.session.commit()
    contract = record(as_, world, draft)
    assert as_("enterprise_b").post(f"/contracts/links/{the_link(contract).id}", {"decision": "accept"}).status_code == 302
    db.session.expire_all()
    assert draft.status == "draft" and contract.demand_id == draft.id
    assert "确认关联技术合同" in history(draft)[-1][3]
    assert as_("enterprise").get(f"/demands/{draft.id}").status_code == 404


def test_a_link_of_a_voided_contract_cannot_be_accepted(world, as_, need_b):
    contract = record(as_, world, need_b)
    link = the_link(contract)
    contract.voided, contract.void_reason = True, "登记有误"
    db.session.commit()
    resp = as_("enterprise_b").post(f"/contracts/links/{link.id}", {"decision": "accept"})
    assert resp.status_code == 409 and "已作废" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert link.status == "pending" and need_b.status == "published" and contract.demand_id is None


def test_the_owner_reopens_a_need_a_contract_marked_done(world, as_, need_b):
    contract = record(as_, world, need_b)
    owner = as_("enterprise_b")
    assert owner.post(f"/contracts/links/{the_link(contract).id}", {"decision": "accept"}).status_code == 302
    db.session.expire_all()
    assert need_b.status == "done"
    page = owner.get(f"/demands/{need_b.id}").get_data(as_text=True)
    assert 'id="reopen"' in page
    # nobody else may reopen it (a need marked 已解决 is public: they see it, and are refused)
    for name in ("enterprise", "institution", "broker", "official", "official_b", "city_official", "admin", "unverified"):
        assert as_(name).post(f"/demands/{need_b.id}/reopen").status_code == 403, name
    db.session.expire_all()
    assert need_b.status == "done"
    resp = owner.post(f"/demands/{need_b.id}/reopen", {"reason": "合同未实际履行，继续征集方案"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert need_b.status == "published"
    assert contract.demand_id == need_b.id  # it stays linked to the contract's record
    steps = history(need_b)
    assert [(f, t) for f, t, _, _ in steps] == [("published", "published"), ("published", "done"), ("done", "published")]
    assert steps[1][3].startswith("签订技术合同") and contract.registration_no in steps[1][3]
    assert steps[2][2] == world.users.enterprise_b.id and "重新开放" in steps[2][3] and "继续征集方案" in steps[2][3]
    page = owner.get(f"/demands/{need_b.id}").get_data(as_text=True)
    assert 'id="reopen"' not in page and "重新开放" in page  # the history table shows it
    assert 'id="interest-form"' in as_("institution").get(f"/demands/{need_b.id}").get_data(as_text=True)
    # once open, there is nothing to reopen
    assert owner.post(f"/demands/{need_b.id}/reopen").status_code == 409


def test_the_owner_reopens_what_a_deal_s_contract_marked_done_and_voiding_then_changes_nothing(world, as_):
    pair = published_pair(world)
    deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=pair.demand, achievement=pair.achievement,
                          broker=world.users.broker, stage="negotiating", from_interest=True)
    db.session.commit()
    terms = entry(world, 7, buyer_region_id=str(world.regions["town_a"].id), seller_region_id=str(world.regions["town_a"].id),
                  version="1")
    assert as_("broker").post(f"/contracts/from-deal/{deal.id}", terms).status_code == 302
    db.session.expire_all()
    assert (pair.demand.status, pair.achievement.status) == ("done", "done")
    assert as_("enterprise").post(f"/demands/{pair.demand.id}/reopen").status_code == 302
    db.session.expire_all()
    assert (pair.demand.status, pair.achievement.status) == ("published", "done")
    contract = db.session.scalar(select(Contract))  # between county A and the city: the city's official voids it
    assert as_("city_official").post(f"/contracts/{contract.id}/void", {"reason": "合同解除，登记作废"}).status_code == 302
    db.session.expire_all()
    # the result the contract alone held reopens; the need its owner reopened has no second reopening
    assert (pair.demand.status, pair.achievement.status) == ("published", "published")
    assert [(f, t) for f, t, _, _ in history(pair.demand)] == [("published", "done"), ("done", "published")]


def test_a_listing_its_owner_marked_done_is_not_reopened_by_this_route(world, as_):
    need = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published")
    db.session.commit()
    owner = as_("enterprise")
    assert owner.post(f"/demands/{need.id}/done", {"reason": "已自行解决"}).status_code == 302
    assert 'id="reopen"' not in owner.get(f"/demands/{need.id}").get_data(as_text=True)
    resp = owner.post(f"/demands/{need.id}/reopen")
    assert resp.status_code == 409 and "技术合同" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert need.status == "done"


def test_voiding_an_accepted_link_s_contract_reopens_the_listing(world, as_):
    """Both parties in county A, so county A's official may void it alone."""
    need = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published")
    db.session.commit()
    contract = record(as_, world, need, buyer_name="怀远甲企业有限公司", buyer_region_id=str(world.regions["town_a"].id))
    assert as_("enterprise").post(f"/contracts/links/{the_link(contract).id}", {"decision": "accept"}).status_code == 302
    db.session.expire_all()
    assert need.status == "done"
    page = as_("official").get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert f"技术需求《{need.title}》将由“已解决”恢复为“已发布”" in page
    assert as_("official").post(f"/contracts/{contract.id}/void", {"reason": "合同解除，登记作废"}).status_code == 302
    db.session.expire_all()
    assert need.status == "published"
    assert [(f, t) for f, t, _, _ in history(need)] == [("published", "published"), ("published", "done"), ("done", "published")]


def _sign(as_, world, deal, n: int = 7):
    return as_("broker").post(f"/contracts/from-deal/{deal.id}", {
        "registration_no": f"202634030000{n:04d}", "title": "镀膜工艺技术开发合同", "contract_type": "development",
        "subtype": "commissioned", "amount": "9999999999.00", "tech_amount": "9999999999.00",
        "signed_on": date.today().isoformat(), "field_id": str(world.fields["materials"].id), "version": "3",
        "form_token": form_token(f"n{n}")})


def test_a_broker_working_a_suggestion_alone_marks_nothing_done(world, as_):
    """Found by the review of this issue: claim an engine suggestion, move it twice, sign it with a 99.99亿元
    contract: neither owner acted, so neither listing may be marked done; each owner is asked instead."""
    pair = published_pair(world)
    suggestion = factories.suggestion(demand=pair.demand, achievement=pair.achievement)
    db.session.commit()
    broker = as_("broker")
    assert broker.post(f"/deals/queue/{suggestion.id}/claim", {"form_token": form_token()}).status_code == 302
    from market.models import Deal

    deal = db.session.scalar(select(Deal))
    assert broker.post(f"/deals/{deal.id}/move", {"to": "contacted", "version": "1"}).status_code == 302
    assert broker.post(f"/deals/{deal.id}/move", {"to": "negotiating", "version": "2"}).status_code == 302
    assert _sign(as_, world, deal).status_code == 302
    contract = db.session.scalar(select(Contract))
    db.session.refresh(pair.demand)
    db.session.refresh(pair.achievement)
    assert (pair.demand.status, pair.achievement.status) == ("published", "published")
    assert (contract.demand_id, contract.achievement_id) == (None, None)
    links = db.session.scalars(select(ContractListingLink).where(ContractListingLink.contract_id == contract.id)).all()
    assert sorted((link.kind, link.status) for link in links) == [("achievement", "pending"), ("demand", "pending")]
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == "contract_link")))
    assert {world.users.enterprise.id, world.users.institution.id} <= told
    # the owner confirms: now it is done
    link = next(x for x in links if x.kind == "demand")
    assert as_("enterprise").post(f"/contracts/links/{link.id}", {"decision": "accept"}).status_code == 302
    db.session.refresh(pair.demand)
    assert pair.demand.status == "done"


def test_a_party_who_acted_in_the_deal_has_its_listing_marked_done_at_once(world, as_):
    """A deal the owners opened through an interest (one made it, the other accepted): signing marks both done."""
    pair = published_pair(world)
    deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=pair.demand,
                          achievement=pair.achievement, broker=world.users.broker, stage="negotiating", from_interest=True,
                          version=3)
    db.session.commit()
    assert _sign(as_, world, deal, n=8).status_code == 302
    db.session.refresh(pair.demand)
    db.session.refresh(pair.achievement)
    assert (pair.demand.status, pair.achievement.status) == ("done", "done")
    assert count(ContractListingLink) == 0


def test_a_contract_cannot_be_booked_to_a_registered_company_in_another_county(world, as_):
    """Found by the review: 五河乙企业 (registered in 五河县) typed as the buyer with the region 怀远县 counted in
    怀远县's figures under a real company's name."""
    resp = as_("broker").post("/contracts/new", entry(world, buyer_region_id=str(world.regions["county_a"].id)))
    assert resp.status_code == 400 and "已登记在" in resp.get_data(as_text=True)
    assert count(Contract) == 0
    # its own county (or its town) is accepted, as before
    assert as_("broker").post("/contracts/new", entry(world, n=2)).status_code == 302
