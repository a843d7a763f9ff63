"""Only verified people act (issue 12, item 1): a self-registered broker, a refused broker and the users of a
pending or rejected organisation read and keep their own drafts, and touch nothing of anyone else's.

The attack as it was found: POST /register as 技术经纪人 with any valid 信用代码, then the suggestion queue, claims,
deal moves, contract records and imports, at once. Each is refused here over HTTP and nothing changes.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import Contract, Deal, Notification, Organization, User
from tests import factories
from tests.helpers import Poster, client_for, diff, form_token, objects, snapshot
from tests.test_access_matrix import BROKER, EXPECTED, _rules, _urls
from tests.test_auth import reg

WAITING = "等待"


@pytest.fixture
def objs(world):
    """The access matrix's objects (every route's URL parameters are filled from them: an invitation, a 登记点
    and its submission, ...), with its pending and rejected brokers."""
    from tests.test_access_matrix import objs as matrix_objs

    return matrix_objs.__wrapped__(world)


def _broker_routes(app, objs):
    """Every URL (and method) a verified broker may use, with data that would change something."""
    from tests.test_access_matrix import POST_DATA, _key

    out = []
    for rule in _rules(app):
        key = _key(rule)
        if BROKER not in EXPECTED.get(key, ()) or rule.endpoint in _OPEN:
            continue
        for url in _urls(rule, objs, strict=True) or []:
            for method in ("GET", "POST"):
                if method in rule.methods:
                    out.append((method, url, rule.endpoint, POST_DATA.get(rule.endpoint)))
    return out


# what any signed-in account keeps: the public pages, its own account, its notifications
_OPEN = {"static", "main.home", "main.healthz", "auth.login", "auth.logout", "auth.register", "auth.change_password",
         "auth.account_status", "listings.browse", "listings.detail", "search.search", "notifications.index",
         "notifications.read_all",
         # one's own e-mail choices, the signed 退订 link (works signed out) and subscriptions to public listings
         "notifications.settings", "notifications.unsubscribe", "notifications.subscriptions",
         "notifications.subscription_new", "notifications.subscription_delete",
         "main.workbench",  # says what the account waits for; no counts until it may act (tests/test_workbench.py)
         "registration.verify",  # the public check of a 登记证明, open to anyone
         "members.join",
         "happenings.index", "happenings.detail",
         "agencies.index", "agencies.detail", "agencies.broker",
         "campaigns.index", "campaigns.detail", "campaigns.task"}  # the public list and page of events  # an invitation link: how an account without an organisation gets one (tests/test_org_members.py)
_OPEN |= {"transfers.disclosures", "transfers.disclosure", "transfers.listings", "transfers.listing"}  # 公示, 挂牌
_OPEN |= {"auctions.index", "auctions.session_detail", "auctions.lot_detail", "auctions.lot_state"}  # 竞价, public

# the open API's public reads and its document (issue 21): the API ignores the session cookie
_OPEN |= {"api.demands_list", "api.demands_detail", "api.achievements_list", "api.achievements_detail",
          "api.search", "api.campaigns_list", "api.events_list", "api-docs.openapi_json",
          "api_pages.docs"}

BROKER_POSTS = {
    "deals.claim_suggestion": {},
    "deals.claim": {},
    "deals.move": {"to": "terminated", "version": "1", "reason_code": "price"},
    "deals.plan": {"next_action_on": "2030-01-01", "next_action": "安排"},
    "deals.note": {"text": "记录"},
    "deals.correct_source": {"source": "direct", "note": "更正来源"},
    "contracts.create": {"title": "虚假合同", "amount": "1000000000000", "tech_amount": "1000000000000"},
    "contracts.from_deal": {"title": "虚假合同", "amount": "1000000", "tech_amount": "1000000"},
    "contracts.add_payment": {"paid_on": "2025-01-01", "amount": "1.00"},
}


@pytest.mark.parametrize("who", ["pending_broker", "rejected_broker"])
def test_every_broker_route_is_refused_to_a_broker_nobody_approved(app, world, objs, who):
    routes = _broker_routes(app, objs)
    assert len(routes) >= 15, routes  # the board, queue, claims, moves, notes, contracts, imports, exports
    p = Poster(client_for(app, getattr(objs, who)))
    before = snapshot()
    allowed = []
    for method, url, endpoint, data in routes:
        if method == "GET":
            resp = p.get(url)
        else:
            # a valid one-time token, as a creating form carries: the refusal is the gate's, not the token's
            resp = p.post(url, {"form_token": form_token(), **(BROKER_POSTS.get(endpoint) or (data(world) if data else {}))})
        if resp.status_code != 403:
            allowed.append(f"{method} {url} -> {resp.status_code}")
            continue
        page = resp.get_data(as_text=True)
        assert "科技局工作人员或系统管理员" in page, (url, page[:400])  # who decides
    assert not allowed, "\n".join(allowed)
    changed = diff(before, snapshot())
    assert not changed, changed
    print(f"\n{who}: {len(routes)} broker route x method cases, 0 allowed")


def test_the_refusal_page_says_what_is_awaited_and_who_decides(app, world, objs):
    pending = Poster(client_for(app, objs.pending_broker))
    page = pending.get("/deals/queue").get_data(as_text=True)
    assert "怀远待认证技术转移中心" in page and "服务机构认证和技术经纪人资格审核" in page and "怀远县科技局" in page
    rejected = Poster(client_for(app, objs.rejected_broker))
    page = rejected.get("/deals/queue").get_data(as_text=True)
    assert "审核未通过" in page and "证书编号查无此人" in page
    status = rejected.get("/account/status")
    assert status.status_code == 200 and "证书编号查无此人" in status.get_data(as_text=True)
    # the menu offers a refused account only what it may open
    home = rejected.get("/").get_data(as_text=True)
    assert "/deals/queue" not in home and 'href="/deals/"' not in home and "/contracts/" not in home
    assert "认证状态" in home


def test_a_self_registered_broker_waits_for_two_checks_by_a_person(app, world, objs, client):
    """The attack of the issue, then the review that lets the broker in."""
    p = Poster(client)
    resp = p.post("/register", reg(world, role="broker", org_type="agency", username="selfmade", org_name="自称技术转移所",
                                   broker_cert_no="JJR-0000-0001", region_id=world.regions["county_a"].id))
    assert resp.status_code == 302
    broker = db.session.scalar(select(User).where(User.username == "selfmade"))
    assert broker.broker_status == "pending" and broker.org.status == "pending"
    # county A's and the city's officials are told; county B's is not
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == "review_account")))
    assert told == {world.users.official.id, world.users.city_official.id}

    p = Poster(client)
    deals_before = db.session.scalar(select(func.count()).select_from(Deal))
    for url in ("/deals/queue", "/deals/", "/deals/record", "/contracts/", "/contracts/new", "/contracts/import"):
        resp = p.get(url)
        assert resp.status_code == 403 and WAITING in resp.get_data(as_text=True), url
    assert p.post(f"/deals/queue/{objs.suggestion.id}/claim", {"form_token": form_token()}).status_code == 403
    assert p.post(f"/deals/{objs.deal.id}/move", BROKER_POSTS["deals.move"]).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Deal)) == deals_before
    assert db.session.get(Deal, objs.deal.id).stage == "negotiating"

    official = Poster(client_for(app, world.users.official))
    other = Poster(client_for(app, world.users.official_b))
    # county B's official may not decide on county A's broker; nobody approves before the 服务机构 is verified
    assert other.post(f"/review/brokers/{broker.id}", {"decision": "approve"}).status_code == 404
    resp = official.post(f"/review/brokers/{broker.id}", {"decision": "approve"})
    assert resp.status_code == 400 and "请先认证其所在服务机构" in resp.get_data(as_text=True)
    assert db.session.get(User, broker.id).broker_status == "pending"
    listed = official.get("/review/brokers").get_data(as_text=True)
    assert "JJR-0000-0001" in listed and "selfmade" in listed
    assert "JJR-0000-0001" not in other.get("/review/brokers").get_data(as_text=True)

    # verifying the 服务机构 alone is not enough
    assert official.post(f"/review/orgs/{broker.org_id}", {"decision": "verify"}).status_code == 302
    assert p.get("/deals/queue").status_code == 403
    resp = official.post(f"/review/brokers/{broker.id}", {"decision": "approve"})
    assert resp.status_code == 302
    broker = db.session.get(User, broker.id)
    assert broker.broker_status == "approved" and broker.broker_reviewed_by_id == world.users.official.id
    assert db.session.scalar(select(Notification.id).where(
        Notification.user_id == broker.id, Notification.kind == "broker_review")) is not None
    assert p.get("/deals/queue").status_code == 200
    assert p.get("/deals/").status_code == 200


def test_refusing_a_broker_needs_a_reason_and_takes_the_powers_back(app, world, objs):
    official = Poster(client_for(app, world.users.official))
    broker = world.users.broker
    resp = official.post(f"/review/brokers/{broker.id}", {"decision": "reject", "note": ""})
    assert resp.status_code == 400 and "请填写理由" in resp.get_data(as_text=True)
    assert db.session.get(User, broker.id).broker_status == "approved"
    assert official.post(f"/review/brokers/{broker.id}", {"decision": "reject", "note": "证书已过期"}).status_code == 302
    # the broker's own deal and contract are out of reach at once
    p = Poster(client_for(app, broker))
    assert p.get(f"/deals/{objs.deal.id}").status_code == 403
    assert p.post(f"/deals/{objs.deal.id}/note", {"text": "仍想记录", "form_token": form_token()}).status_code == 403
    assert p.get(f"/contracts/{objs.contract.id}").status_code == 403


def test_new_deals_are_announced_only_to_brokers_who_may_act(app, world, objs):
    from market.deals.services import _brokers_for

    ids = set(_brokers_for(world.regions["town_a"].id))
    assert world.users.broker.id in ids
    assert objs.pending_broker.id not in ids and objs.rejected_broker.id not in ids


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_an_unverified_organisation_touches_no_other_party(app, world, objs, status):
    """The same rule for companies and institutions: own drafts yes; interests, deals, contracts no."""
    world.orgs.ent_a.status = status
    db.session.commit()
    p = Poster(client_for(app, world.users.enterprise))
    before = snapshot()
    assert p.post(f"/deals/interest/achievement/{objs.achievement.id}",
                  {"message": "希望合作洽谈此项成果", "form_token": form_token("z")}).status_code == 403
    assert p.get(f"/deals/{objs.deal.id}").status_code == 403
    assert p.get(f"/contracts/{objs.contract.id}").status_code == 403
    assert p.get(f"/contracts/{objs.contract.id}/scan").status_code == 403
    assert p.get("/matching").status_code == 403
    assert not diff(before, snapshot())
    # own drafts stay open to it
    assert p.get("/my/demands").status_code == 200
    assert p.get(f"/demands/{objs.draft_demand.id}/edit").status_code == 200


def test_the_cli_import_refuses_a_broker_nobody_approved(app, world, objs, runner, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("registration_no,type,buyer,seller,amount,tech_amount,signed_on\n"
                    "340300X1,development,怀远甲企业有限公司,蚌埠测试大学,1000000000000,1,2026-01-05\n", encoding="utf-8")
    before = db.session.scalar(select(func.count()).select_from(Contract))
    result = runner.invoke(args=["import", "contracts", str(path), "--user", objs.pending_broker.username])
    assert result.exit_code != 0 and "等待" in result.output
    assert db.session.scalar(select(func.count()).select_from(Contract)) == before


def test_admin_created_broker_counts_as_reviewed_but_waits_for_its_agency(app, world):
    from market.admin.services import user_create
    from market.permissions import is_verified_actor

    agency = factories.org(region=world.regions["county_a"], org_type="agency", status="pending", name="新机构")
    broker = user_create(role="broker", username="by_admin", name="管理员建的经纪人", password="Strong-pass-2026",
                         region_id=world.regions["county_a"].id, org_id=agency.id, broker_cert_no="JJR-2026-0101",
                         actor=world.users.admin)
    db.session.commit()
    assert broker.broker_status == "approved" and broker.broker_reviewed_by_id == world.users.admin.id
    assert not is_verified_actor(broker)
    agency.status = "verified"
    db.session.commit()
    assert is_verified_actor(db.session.get(User, broker.id))


def test_roles_other_than_broker_carry_no_broker_status(app, world):
    assert world.users.enterprise.broker_status is None and world.users.official.broker_status is None
    org = db.session.get(Organization, world.orgs.agency.id)
    assert org.is_verified


def test_a_refused_broker_loses_hidden_contacts_and_its_open_deals(app, world, objs):
    """Found by the review: after the refusal the listing pages (open to any signed-in account) still showed the
    contacts the broker's deal had granted, and its deals stayed assigned to it, frozen."""
    from market.models import Deal, DealEvent

    broker = world.users.broker
    p = Poster(client_for(app, broker))
    demand_url = f"/demands/{objs.demand.id}"
    phone = objs.demand.contact_phone
    assert not objs.demand.contact_public and phone
    assert phone in p.get(demand_url).get_data(as_text=True)  # granted by its deal while it may act
    official = Poster(client_for(app, world.users.city_official))
    assert official.post(f"/review/brokers/{broker.id}", {"decision": "reject", "note": "证书已吊销"}).status_code == 302
    page = p.get(demand_url)
    assert page.status_code == 200 and phone not in page.get_data(as_text=True)
    deal = db.session.get(Deal, objs.deal.id)
    assert deal.broker_id is None and deal.stage == "negotiating"  # back in the queue for a broker who may act
    assert db.session.scalar(select(DealEvent.text).where(DealEvent.deal_id == deal.id).order_by(DealEvent.id.desc())
                             ).startswith(f"技术经纪人 {broker.name} 资格审核未通过")
    told = db.session.scalar(select(Notification.text).where(Notification.user_id == broker.id,
                                                             Notification.kind == "broker_review"))
    assert "1 个对接已退回待认领" in told


def test_a_rejected_organisation_cannot_send_a_published_listing_back_to_review(app, world, objs):
    """Found by the review: editing a published need moves it to 待审核, into the officials' queue."""
    world.orgs.ent_a.status = "rejected"
    db.session.commit()
    p = Poster(client_for(app, world.users.enterprise))
    form = p.get(f"/demands/{objs.demand.id}/edit")
    assert form.status_code == 200
    from tests.test_access_matrix import POST_DATA

    resp = p.post(f"/demands/{objs.demand.id}/edit", dict(POST_DATA["listings.edit"](world), title="改头换面重新送审"))
    assert resp.status_code == 403 and "不能修改已发布的条目" in resp.get_data(as_text=True)
    db.session.refresh(objs.demand)
    assert objs.demand.status == "published" and objs.demand.title != "改头换面重新送审"
