"""Interest, the deal pipeline (transition table, concurrency, access) and the broker's queue and record."""
from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from market.deals import queries, services
from market.errors import Conflict, DomainError
from market.extensions import db
from market.models import Deal, DealEvent, FormSubmission, Interest, InterestEvent, Notification
from market.models.deal import DEAL_STAGES, DEAL_TRANSITIONS
from tests import factories
from tests.helpers import INSIDERS, OUTSIDER_REFUSALS, OUTSIDERS, count, form_token, is_login_redirect, login, post, \
    published_pair, statuses



@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    """Suggestions are inserted by hand here: keep the matching engine's after-commit refresh out."""
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


@pytest.fixture
def market(world):
    market = published_pair(world)
    db.session.commit()
    return market


def open_deal(world, market, *, stage="contacted", broker=True):
    deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=market.demand,
                          achievement=market.achievement, broker=world.users.broker if broker else None, stage=stage)
    db.session.commit()
    return deal


# --- interest ------------------------------------------------------------------------------------

def test_enterprise_expresses_interest_and_owner_is_notified(world, market, login_as):
    c = login_as("enterprise")
    url = f"/deals/interest/achievement/{market.achievement.id}"
    resp = post(c, url, {"message": "我们想把该技术用于光伏玻璃生产线。", "form_token": form_token("t")})
    assert resp.status_code == 302
    interest = db.session.scalar(select(Interest))
    assert (interest.kind, interest.status, interest.from_org_id, interest.to_org_id) == (
        "interest", "pending", world.orgs.ent_a.id, world.orgs.uni.id)
    assert count(InterestEvent) == 1
    note = db.session.scalar(select(Notification).where(Notification.user_id == world.users.institution.id))
    assert note is not None and "表达了合作意向" in note.text and note.read_at is None


def test_double_submitted_interest_creates_one_record(world, market, login_as):
    c = login_as("enterprise")
    url = f"/deals/interest/achievement/{market.achievement.id}"
    data = {"message": "我们想把该技术用于光伏玻璃生产线。", "form_token": form_token("t")}
    assert post(c, url, data).status_code == 302
    again = post(c, url, data)
    assert again.status_code == 409
    assert "请勿重复提交" in again.get_data(as_text=True)
    assert count(Interest) == 1
    assert count(FormSubmission, FormSubmission.token == form_token("t")) == 1
    # a fresh token while the first is still open is refused too
    other = post(c, url, {"message": "再次表达合作意向，请尽快联系。", "form_token": form_token("u")})
    assert other.status_code == 409 and count(Interest) == 1


def test_interest_refusals(world, market, login_as):
    msg = {"message": "希望进一步沟通合作细节。", "form_token": form_token("t")}
    # an enterprise cannot 揭榜 a need; an institution cannot express interest in a result
    assert post(login_as("enterprise_b"), f"/deals/interest/demand/{market.demand.id}", msg).status_code == 403
    assert post(login_as("institution"), f"/deals/interest/achievement/{market.achievement.id}", msg).status_code == 403
    # users of an unverified organisation, brokers and officials cannot either
    assert post(login_as("unverified"), f"/deals/interest/achievement/{market.achievement.id}", msg).status_code == 403
    assert post(login_as("broker"), f"/deals/interest/achievement/{market.achievement.id}", msg).status_code == 403
    # too short a message; no token
    c = login_as("enterprise_b")
    resp = post(c, f"/deals/interest/achievement/{market.achievement.id}", {"message": "好", "form_token": form_token("t")})
    assert resp.status_code == 400 and "5-1000" in resp.get_data(as_text=True)
    resp = post(c, f"/deals/interest/achievement/{market.achievement.id}", {"message": "希望进一步沟通合作细节。"})
    assert resp.status_code == 400 and "表单已失效" in resp.get_data(as_text=True)
    # a draft listing is not visible to others
    draft = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="draft")
    db.session.commit()
    assert post(c, f"/deals/interest/achievement/{draft.id}", msg).status_code == 404
    assert count(Interest) == 0


def test_institution_answers_a_need(world, market, login_as):
    c = login_as("institution")
    resp = post(c, f"/deals/interest/demand/{market.demand.id}", {"message": "我校有成熟的磁控溅射工艺方案。", "form_token": form_token("t")})
    assert resp.status_code == 302
    interest = db.session.scalar(select(Interest))
    assert interest.kind == "solution" and interest.demand_id == market.demand.id and interest.to_org_id == world.orgs.ent_a.id


def test_accept_reveals_contacts_and_opens_a_deal(world, market, login_as):
    market.achievement.contact_public = False
    interest = services.interest_create(user=world.users.enterprise, listing=market.achievement,
                                        message="希望采购该技术。", token=form_token("t"))
    db.session.commit()
    ent = login_as("enterprise")
    page = ent.get(f"/achievements/{market.achievement.id}").get_data(as_text=True)
    assert market.achievement.contact_phone not in page
    assert "待处理" in page

    owner = login_as("institution")
    page = owner.get(f"/achievements/{market.achievement.id}").get_data(as_text=True)
    assert "希望采购该技术" in page and "接受（公开联系方式并开启对接）" in page
    resp = post(owner, f"/deals/interests/{interest.id}/decide", {"decision": "accept"})
    assert resp.status_code == 302
    db.session.refresh(interest)
    assert interest.status == "accepted" and interest.decided_by_id == world.users.institution.id
    deal = db.session.scalar(select(Deal))
    assert (deal.stage, deal.buyer_org_id, deal.seller_org_id, deal.achievement_id, deal.broker_id) == (
        "contacted", world.orgs.ent_a.id, world.orgs.uni.id, market.achievement.id, None)
    event = db.session.scalar(select(DealEvent).where(DealEvent.deal_id == deal.id))
    assert (event.from_stage, event.to_stage, event.actor_id) == (None, "contacted", world.users.institution.id)

    page = ent.get(f"/achievements/{market.achievement.id}").get_data(as_text=True)
    assert market.achievement.contact_phone in page
    # a third party still does not see it
    page = login_as("enterprise_b").get(f"/achievements/{market.achievement.id}").get_data(as_text=True)
    assert market.achievement.contact_phone not in page
    # the enterprise and the brokers of its region are told
    assert count(Notification, Notification.user_id == world.users.enterprise.id, Notification.kind == "interest_accepted") == 1
    assert count(Notification, Notification.user_id == world.users.broker.id, Notification.kind == "deal_unassigned") == 1
    # deciding again is refused
    assert post(owner, f"/deals/interests/{interest.id}/decide", {"decision": "decline", "reason_code": "price"}).status_code == 409


def test_decline_keeps_a_structured_reason(world, market, login_as):
    interest = services.interest_create(user=world.users.enterprise, listing=market.achievement,
                                        message="希望采购该技术。", token=form_token("t"))
    db.session.commit()
    owner = login_as("institution")
    url = f"/deals/interests/{interest.id}/decide"
    assert post(owner, url, {"decision": "decline"}).status_code == 400
    resp = post(owner, url, {"decision": "decline", "reason_code": "other"})
    assert resp.status_code == 400 and "请填写具体原因" in resp.get_data(as_text=True)
    assert post(owner, url, {"decision": "decline", "reason_code": "bogus"}).status_code == 400
    db.session.refresh(interest)
    assert interest.status == "pending"
    # someone else's organisation cannot decide
    assert post(login_as("enterprise_b"), url, {"decision": "accept"}).status_code == 404
    assert post(login_as("enterprise"), url, {"decision": "accept"}).status_code == 403
    assert post(owner, url, {"decision": "decline", "reason_code": "too_early"}).status_code == 302
    db.session.refresh(interest)
    assert (interest.status, interest.reason_code) == ("declined", "too_early")
    assert count(Deal) == 0
    counts = {label: declined for label, declined, _ in queries.fail_reason_counts(world.users.admin)}
    assert counts["技术尚不成熟（处于早期阶段）"] == 1
    page = login_as("city_official").get("/deals/").get_data(as_text=True)
    assert "对接未成的原因" in page


def test_withdraw_only_by_author(world, market, login_as):
    interest = services.interest_create(user=world.users.enterprise, listing=market.achievement,
                                        message="希望采购该技术。", token=form_token("t"))
    db.session.commit()
    assert post(login_as("institution"), f"/deals/interests/{interest.id}/withdraw").status_code == 403
    assert post(login_as("enterprise"), f"/deals/interests/{interest.id}/withdraw").status_code == 302
    db.session.refresh(interest)
    assert interest.status == "withdrawn"


# --- the transition table ------------------------------------------------------------------------

ALL_PAIRS = [(a, b) for a in DEAL_STAGES for b in DEAL_STAGES]


def test_transition_table(world, market):
    """Every (from, to) pair: the allowed ones move and write one event, the others change nothing."""
    broker = world.users.broker
    for frm, to in ALL_PAIRS:
        deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, broker=broker, stage=frm,
                              achievement=factories.achievement(owner=world.users.institution, field=world.fields["materials"]))
        db.session.commit()
        before = count(DealEvent)
        if to == "signed":
            # 签约 is never a plain move: it records the contract (see test_contracts)
            with pytest.raises((DomainError, Conflict)):
                services.deal_move(deal=deal, user=broker, to=to, version=deal.version)
            db.session.rollback()
            assert db.session.get(Deal, deal.id).stage == frm, (frm, to)
        elif (frm, to) not in DEAL_TRANSITIONS:
            with pytest.raises(Conflict):
                services.deal_move(deal=deal, user=broker, to=to, version=deal.version, reason_code="price")
            db.session.rollback()
            assert db.session.get(Deal, deal.id).stage == frm and count(DealEvent) == before, (frm, to)
        else:
            services.deal_move(deal=deal, user=broker, to=to, version=deal.version, text="推进", reason_code="price")
            db.session.commit()
            fresh = db.session.get(Deal, deal.id)
            assert (fresh.stage, fresh.version) == (to, 2), (frm, to)
            event = db.session.scalar(select(DealEvent).where(DealEvent.deal_id == deal.id))
            assert (event.actor_id, event.from_stage, event.to_stage, event.kind) == (broker.id, frm, to, "move")
            assert count(DealEvent) == before + 1
    allowed = {(f, t) for f, t in ALL_PAIRS if (f, t) in DEAL_TRANSITIONS}
    assert allowed == {("recommended", "contacted"), ("contacted", "negotiating"), ("negotiating", "signed"),
                       ("recommended", "terminated"), ("contacted", "terminated"), ("negotiating", "terminated")}


def test_terminate_needs_a_reason(world, market):
    deal = open_deal(world, market)
    with pytest.raises(DomainError):
        services.deal_move(deal=deal, user=world.users.broker, to="terminated", version=1)
    with pytest.raises(DomainError):
        services.deal_move(deal=deal, user=world.users.broker, to="terminated", version=1, reason_code="other")
    services.deal_move(deal=deal, user=world.users.broker, to="terminated", version=1, reason_code="ip_unclear", text="专利权属有争议")
    db.session.commit()
    assert (deal.stage, deal.end_reason, deal.end_text) == ("terminated", "ip_unclear", "专利权属有争议")


def test_stale_version_is_refused_by_the_compare_and_set(world, market):
    """The row changed under a loaded object: the UPDATE ... WHERE version = :v matches nothing."""
    deal = open_deal(world, market)
    assert deal.version == 1
    db.session.execute(update(Deal).where(Deal.id == deal.id).values(version=Deal.version + 1)
                       .execution_options(synchronize_session=False))
    assert deal.version == 1  # the loaded object does not know
    with pytest.raises(Conflict):
        services.deal_move(deal=deal, user=world.users.broker, to="negotiating", version=1)
    db.session.rollback()
    assert db.session.get(Deal, deal.id).stage == "contacted"


def test_route_move_and_stale_form(world, market, login_as):
    deal = open_deal(world, market)
    c = login_as("broker")
    page = c.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert 'name="version" value="1"' in page
    assert post(c, f"/deals/{deal.id}/move", {"to": "negotiating", "version": "1"}).status_code == 302
    resp = post(c, f"/deals/{deal.id}/move", {"to": "negotiating", "version": "1"})
    assert resp.status_code == 409
    assert "请刷新页面后重试" in resp.get_data(as_text=True)
    resp = post(c, f"/deals/{deal.id}/move", {"to": "terminated", "version": "1", "reason_code": "price"})
    assert resp.status_code == 409
    for junk in ({"to": "negotiating", "version": "x"}, {"to": "nowhere", "version": "2"}, {}):
        assert post(c, f"/deals/{deal.id}/move", junk).status_code == 400, junk  # a bad form, not a stale one
    db.session.refresh(deal)
    assert deal.stage == "negotiating" and count(DealEvent, DealEvent.deal_id == deal.id) == 1
    # 签约 goes through the contract form
    resp = post(c, f"/deals/{deal.id}/move", {"to": "signed", "version": "2"})
    assert resp.status_code == 302 and f"/contracts/from-deal/{deal.id}" in resp.headers["Location"]
    assert db.session.get(Deal, deal.id).stage == "negotiating"


def test_concurrent_stage_moves_one_wins(app, world, market):
    """Two requests move the same deal from the same version at once: exactly one wins."""
    for attempt in range(3):
        deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, broker=world.users.broker,
                              achievement=factories.achievement(owner=world.users.institution, field=world.fields["materials"],
                                                                status="published"), stage="contacted")
        db.session.commit()
        deal_id, broker_id = deal.id, world.users.broker.id
        db.session.commit()  # reading the ids began a transaction: release it (SQLite write lock)
        targets = ["negotiating", "terminated"] if attempt == 1 else ["negotiating", "negotiating"]
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def worker(to: str) -> None:
            with app.app_context():
                from market.models import User

                barrier.wait()
                try:
                    d = db.session.get(Deal, deal_id)
                    services.deal_move(deal=d, user=db.session.get(User, broker_id), to=to, version=1, reason_code="price")
                    db.session.commit()
                    outcomes.append("won")
                except Conflict:
                    db.session.rollback()
                    outcomes.append("conflict")
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=worker, args=(t,)) for t in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["conflict", "won"], outcomes
        db.session.expire_all()
        fresh = db.session.get(Deal, deal_id)
        assert fresh.version == 2
        assert count(DealEvent, DealEvent.deal_id == deal_id, DealEvent.kind == "move") == 1


# --- who may see and act -------------------------------------------------------------------------

def test_deal_access_by_role(app, world, market, login_as):
    deal = open_deal(world, market, broker=False)
    url = f"/deals/{deal.id}"
    assert statuses(login_as, url, INSIDERS) == dict.fromkeys(INSIDERS, 200)
    assert statuses(login_as, url, OUTSIDERS) == OUTSIDER_REFUSALS
    other_broker = factories.user(role="broker", org=world.orgs.agency, region=world.regions["county_b"])
    db.session.commit()
    cb = app.test_client()
    login(cb, other_broker.username)
    assert cb.get(url).status_code == 404
    # foreign users cannot act either
    assert post(login_as("enterprise_b"), f"{url}/note", {"text": "看看", "form_token": form_token()}).status_code == 404
    assert post(login_as("official_b"), f"{url}/move", {"to": "negotiating", "version": "1"}).status_code == 404
    assert post(cb, f"{url}/claim", {"form_token": form_token()}).status_code == 404
    assert db.session.get(Deal, deal.id).broker_id is None and count(DealEvent) == 0


def test_broker_claims_an_unassigned_deal_once(world, market, login_as):
    deal = open_deal(world, market, broker=False)
    c = login_as("broker")
    page = c.get("/deals/").get_data(as_text=True)
    assert "本区域待认领的对接" in page and f'data-deal-id="{deal.id}"' in page
    assert post(c, f"/deals/{deal.id}/claim", {"form_token": form_token()}).status_code == 302
    db.session.refresh(deal)
    assert deal.broker_id == world.users.broker.id
    assert post(c, f"/deals/{deal.id}/claim", {"form_token": form_token()}).status_code == 403
    # now only the broker moves it; the parties no longer can
    assert post(login_as("enterprise"), f"/deals/{deal.id}/move", {"to": "negotiating", "version": str(deal.version)}).status_code == 403
    # an official sees it but does not move it
    assert post(login_as("official"), f"/deals/{deal.id}/move", {"to": "negotiating", "version": str(deal.version)}).status_code == 403


def test_parties_work_a_deal_without_broker(world, market, login_as):
    deal = open_deal(world, market, broker=False)
    c = login_as("institution")
    assert post(c, f"/deals/{deal.id}/move", {"to": "negotiating", "version": "1"}).status_code == 302
    assert post(c, f"/deals/{deal.id}/note", {"text": "双方已约定下周现场交流", "form_token": form_token()}).status_code == 302
    assert db.session.get(Deal, deal.id).stage == "negotiating"
    notes = db.session.scalars(select(DealEvent.text).where(DealEvent.kind == "note")).all()
    assert notes == ["双方已约定下周现场交流"]


def test_lists_are_scoped(world, market, login_as):
    mine = open_deal(world, market)
    other = factories.deal(buyer=world.orgs.ent_b, seller=world.orgs.uni, stage="contacted",
                           achievement=factories.achievement(owner=world.users.institution, field=world.fields["materials"],
                                                             status="published", title="另一项成果用于五河企业"))
    db.session.commit()

    def ids(name):
        page = login_as(name).get("/deals/?stage=open").get_data(as_text=True)
        return {int(x) for x in re.findall(r'data-deal-id="(\d+)"', page)}

    assert ids("enterprise") == {mine.id}
    assert ids("enterprise_b") == {other.id}
    assert ids("institution") == {mine.id, other.id}
    assert ids("official") == {mine.id}
    assert ids("official_b") == {other.id}
    assert ids("city_official") == {mine.id, other.id}
    assert ids("admin") == {mine.id, other.id}
    assert mine.id in ids("broker") and other.id not in ids("broker")
    for junk in ("?stage=%00", "?page=-1", "?stage=signed&page=99999", "?page=abc"):
        assert login_as("official").get("/deals/" + junk).status_code == 200


# --- the broker's queue, plan, record ------------------------------------------------------------

def test_suggestion_queue_and_claim(world, market, login_as):
    u, f = world.users, world.fields
    local = factories.suggestion(demand=market.demand, achievement=market.achievement)
    far_demand = factories.demand(owner=u.enterprise_b, field=f["materials"], status="published", title="五河县企业的需求")
    far = factories.suggestion(demand=far_demand, achievement=market.achievement)
    hidden = factories.suggestion(demand=market.demand,
                                  achievement=factories.achievement(owner=u.institution, field=f["materials"], status="draft"))
    db.session.commit()
    c = login_as("broker")
    page = c.get("/deals/queue").get_data(as_text=True)
    shown = {int(x) for x in re.findall(r'data-suggestion-id="(\d+)"', page)}
    assert shown == {local.id}
    assert "关键词重合：导电膜" in page
    # outside the broker's region, or a draft: not claimable
    assert post(c, f"/deals/queue/{far.id}/claim", {"form_token": form_token()}).status_code == 404
    assert post(c, f"/deals/queue/{hidden.id}/claim", {"form_token": form_token()}).status_code == 400
    assert post(c, f"/deals/queue/{local.id}/claim", {"form_token": form_token()}).status_code == 302
    deal = db.session.scalar(select(Deal))
    assert (deal.stage, deal.broker_id, deal.demand_id, deal.achievement_id, deal.source) == (
        "recommended", u.broker.id, market.demand.id, market.achievement.id, "suggestion")
    assert post(c, f"/deals/queue/{local.id}/claim", {"form_token": form_token()}).status_code == 409
    assert count(Deal) == 1
    page = c.get("/deals/queue").get_data(as_text=True)
    assert f'data-suggestion-id="{local.id}"' not in page
    for name in ("enterprise", "official", "admin"):
        assert login_as(name).get("/deals/queue").status_code == 403


def test_two_brokers_claim_the_same_suggestion(world, market):
    s = factories.suggestion(demand=market.demand, achievement=market.achievement)
    other = factories.user(role="broker", org=world.orgs.agency, region=world.regions["city"])
    db.session.commit()
    services.deal_claim_suggestion(suggestion=s, user=world.users.broker)
    db.session.commit()
    with pytest.raises(Conflict):
        services.deal_claim_suggestion(suggestion=s, user=other)
    db.session.rollback()
    assert count(Deal) == 1


def test_suggestion_pair_is_unique_in_the_database(world, market):
    from sqlalchemy.exc import IntegrityError

    open_deal(world, market)
    with pytest.raises(IntegrityError):
        factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=market.demand, achievement=market.achievement)
    db.session.rollback()


def test_plan_and_overdue(world, market, login_as):
    deal = open_deal(world, market)
    c = login_as("broker")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert post(c, f"/deals/{deal.id}/plan", {"next_action_on": yesterday, "next_action": "电话回访企业"}).status_code == 302
    assert post(c, f"/deals/{deal.id}/plan", {"next_action_on": "明天", "next_action": "x"}).status_code == 400
    page = c.get("/deals/").get_data(as_text=True)
    assert "下一步已逾期" in page and "电话回访企业" in page
    assert [d.id for d in db.session.scalars(queries.overdue_deals(world.users.broker))] == [deal.id]
    assert db.session.scalar(select(DealEvent.kind).where(DealEvent.deal_id == deal.id)) == "plan"
    assert post(login_as("enterprise"), f"/deals/{deal.id}/plan", {"next_action_on": yesterday, "next_action": "x"}).status_code == 403


def test_broker_record_sums_exactly(world, market, login_as):
    signed = open_deal(world, market, stage="signed")
    amounts = [Decimal("0.10"), Decimal("0.20"), Decimal("123456789.99"), Decimal("0.01")]
    for i, amount in enumerate(amounts):
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=amount, broker_id=world.users.broker.id,
                           deal_id=signed.id if i == 0 else None)
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("999.99"),
                       broker_id=world.users.broker.id, voided=True)
    db.session.commit()
    record = queries.broker_record(world.users.broker)
    assert record["amount"] == sum(amounts) == Decimal("123456790.30")
    assert isinstance(record["amount"], Decimal)
    assert (record["signed"], record["contracts"], record["deals"]) == (1, 4, 1)
    page = login_as("broker").get("/deals/record").get_data(as_text=True)
    assert "123,456,790.30元" in page
    assert login_as("enterprise").get("/deals/record").status_code == 403


def test_anonymous_is_sent_to_login(client, world, market):
    deal = open_deal(world, market)
    for url in ("/deals/", f"/deals/{deal.id}", "/deals/queue", "/deals/record", "/deals/interests"):
        assert is_login_redirect(client.get(url)), url


def test_listing_page_panels(client, world, market, login_as):
    page = client.get(f"/achievements/{market.achievement.id}").get_data(as_text=True)
    assert "登录</a>后表达合作意向" in page
    c = login_as("enterprise")
    page = c.get(f"/achievements/{market.achievement.id}").get_data(as_text=True)
    token = re.search(r'name="form_token"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="form_token"', page)
    assert token, "the interest form carries an idempotency token"
    data = {"message": "页面上的表单提交两次。", "form_token": token.group(1)}
    url = f"/deals/interest/achievement/{market.achievement.id}"
    assert post(c, url, data).status_code == 302
    assert post(c, url, data).status_code == 409
    assert count(Interest) == 1
    page = c.get(f"/achievements/{market.achievement.id}").get_data(as_text=True)
    assert 'id="my-interest-status"' in page and 'id="interest-form"' not in page
    # a second page load gives a different token
    other = login_as("enterprise_b").get(f"/achievements/{market.achievement.id}").get_data(as_text=True)
    assert token.group(1) not in other
    # institutions get the 揭榜 form on needs, not on results
    inst = login_as("institution")
    assert "提交揭榜应答" in inst.get(f"/demands/{market.demand.id}").get_data(as_text=True)
    assert 'id="interest-form"' not in login_as("official").get(f"/achievements/{market.achievement.id}").get_data(as_text=True)


def test_a_second_open_interest_of_one_organisation_is_refused_by_the_database(app, world):
    """The service checks first; the partial unique index holds even when two posts race past that check."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from market.models import Interest

    ach = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
    db.session.commit()
    row = dict(kind="interest", achievement_id=ach.id, from_org_id=world.orgs.ent_a.id,
               from_user_id=world.users.enterprise.id, to_org_id=ach.org_id, message="希望合作", status="pending")
    db.session.add(Interest(**row))
    db.session.commit()
    db.session.add(Interest(**row))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # once the first is withdrawn, a new one may be opened
    first = db.session.scalar(db.select(Interest))
    first.status = "withdrawn"
    db.session.commit()
    db.session.add(Interest(**row))
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count()).select_from(Interest)) == 2


def test_reopen_by_void_only_from_signed(world, market):
    """签约 -> 洽谈 is not a move anyone may choose (the transition table refuses it); only a voided contract
    makes it, from 签约 only, with an event row."""
    official = world.users.official
    deal = open_deal(world, market, stage="negotiating")
    with pytest.raises(Conflict):
        services.deal_reopen_by_void(deal=deal, user=official, text="合同作废")
    db.session.rollback()
    db.session.execute(update(Deal).where(Deal.id == deal.id).values(stage="signed", version=5))
    db.session.commit()
    db.session.refresh(deal)
    services.deal_reopen_by_void(deal=deal, user=official, text="技术合同 X 作废：录入错误，对接退回洽谈")
    db.session.commit()
    db.session.expire_all()
    fresh = db.session.get(Deal, deal.id)
    assert (fresh.stage, fresh.version) == ("negotiating", 6)
    event = db.session.scalar(select(DealEvent).where(DealEvent.deal_id == deal.id))
    assert (event.kind, event.from_stage, event.to_stage, event.actor_id) == ("move", "signed", "negotiating", official.id)
    assert count(Notification, Notification.kind == "deal_reopened", Notification.user_id == world.users.broker.id) == 1
