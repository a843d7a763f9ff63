"""Where every deal came from (issue 19 section 4): the source each creation path records, the agency fixed when a
broker takes the deal, the broker's correction, and the dashboard's 成交来源 page whose tables add up to the
dashboard's totals to the fen (Hypothesis; the run's seed is printed by conftest)."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from market.dashboard import sources, stats
from market.deals import services
from market.extensions import db
from market.models import Contract, Deal, DealEvent, Interest, Region
from market.models.deal import DEAL_SOURCES
from market.models.happening import Happening
from tests import factories
from tests.helpers import count, form_token, is_login_redirect, post, published_pair


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    """Suggestions are inserted by hand here: keep the matching engine's after-commit refresh out."""
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


@pytest.fixture
def market(world):
    pair = published_pair(world)
    db.session.commit()
    return pair


def _interest_via_page(c, achievement_id: int, origin: str | None) -> Interest:
    data = {"message": "我们想把该技术用于光伏玻璃生产线。", "form_token": form_token()}
    if origin is not None:
        data["origin"] = origin
    assert post(c, f"/deals/interest/achievement/{achievement_id}", data).status_code == 302
    return db.session.scalar(select(Interest).order_by(Interest.id.desc()))


def _accept(login_as, interest: Interest) -> Deal:
    c = login_as("institution")
    assert post(c, f"/deals/interests/{interest.id}/decide", {"decision": "accept"}).status_code == 302
    return db.session.scalar(select(Deal).where(Deal.interest_id == interest.id))


# --- the source each creation path records ------------------------------------------------------------------

def test_the_interest_form_carries_the_page_it_was_reached_from(world, market, login_as):
    c = login_as("enterprise")
    page = c.get(f"/achievements/{market.achievement.id}?from=search").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="origin"[^>]*value="search"', page)
    odd = c.get(f"/achievements/{market.achievement.id}?from=<script>").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="origin"[^>]*value="direct"', odd)
    # the search results and the suggestion lists link with their origin
    assert "from=search" in c.get("/achievements").get_data(as_text=True)


@pytest.mark.parametrize("origin, source", [("search", "search"), ("suggestion", "suggestion"), (None, "direct"),
                                            ("campaign", "direct"), ("x" * 40, "direct")])
def test_an_accepted_interest_opens_a_deal_with_the_origin_as_its_source(world, market, login_as, origin, source):
    """Only search, suggestion and direct come from the form; anything else posted counts as direct."""
    c = login_as("enterprise")
    interest = _interest_via_page(c, market.achievement.id, origin)
    assert interest.origin == (origin if origin in ("search", "suggestion") else "direct")
    deal = _accept(login_as, interest)
    assert (deal.source, deal.happening_id, deal.broker_id, deal.agency_id) == (source, None, None, None)
    # a broker of an agency takes it: the agency is recorded with the broker
    b = login_as("broker")
    assert post(b, f"/deals/{deal.id}/claim", {"form_token": form_token()}).status_code == 302
    db.session.refresh(deal)
    assert (deal.broker_id, deal.agency_id, deal.source) == (world.users.broker.id, world.orgs.agency.id, source)


def test_an_interest_recorded_at_an_event_opens_an_event_deal(world, market, login_as):
    start = datetime(2026, 5, 1, 1, 0, tzinfo=timezone.utc)
    happening = Happening(kind="roadshow", title="成果路演", place="蚌埠", region_id=world.regions["city"].id,
                          organiser_id=world.users.city_official.id, starts_at=start, ends_at=start + timedelta(hours=3),
                          signup_deadline=start - timedelta(days=1), capacity=10)
    db.session.add(happening)
    db.session.flush()
    interest = services.interest_create(user=world.users.enterprise, listing=market.achievement, token=form_token(),
                                        message="路演现场表达合作意向", happening_id=happening.id, origin="search")
    db.session.commit()
    deal = _accept(login_as, interest)
    assert (deal.source, deal.happening_id) == ("event", happening.id)


def test_a_claimed_suggestion_is_an_engine_deal_of_the_brokers_agency_kept_after_the_broker_moves(world, market):
    suggestion = factories.suggestion(demand=market.demand, achievement=market.achievement)
    deal = services.deal_claim_suggestion(suggestion=suggestion, user=world.users.broker)
    db.session.commit()
    assert (deal.source, deal.agency_id) == ("suggestion", world.orgs.agency.id)
    # the broker changes employer: the deal's agency (and so past figures) stays
    other = factories.org(region=world.regions["city"], org_type="agency", name="另一家服务机构")
    world.users.broker.org_id = other.id
    db.session.commit()
    db.session.refresh(deal)
    assert deal.agency_id == world.orgs.agency.id
    # a broker outside an agency records none
    assert services.agency_of(world.users.enterprise) is None


# --- the broker corrects the source -------------------------------------------------------------------------

def test_the_broker_corrects_the_source_with_a_note_in_the_history(world, market, login_as):
    deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=market.demand,
                          achievement=market.achievement, broker=world.users.broker, stage="negotiating", version=4)
    db.session.commit()
    url = f"/deals/{deal.id}/source"
    b = login_as("broker")
    assert 'id="source-form"' in b.get(f"/deals/{deal.id}").get_data(as_text=True)
    resp = post(b, url, {"source": "broker_visit", "note": "经纪人走访企业时收集的需求"})
    assert resp.status_code == 302
    db.session.refresh(deal)
    assert (deal.source, deal.version) == ("broker_visit", 4)  # not a stage move: open move forms stay valid
    event = db.session.scalar(select(DealEvent).where(DealEvent.deal_id == deal.id, DealEvent.kind == "source"))
    assert event.actor_id == world.users.broker.id and "直接对接 → 经纪人走访（经纪人走访企业时收集的需求）" in event.text
    # refused with a message, nothing changed: the reserved campaign, an event with no event on record, no note,
    # an unknown code
    for data, message in (({"source": "campaign", "note": "说明文字"}, "揭榜挂帅"),
                          ({"source": "event", "note": "说明文字"}, "对接活动"),
                          ({"source": "search", "note": ""}, "更正说明"),
                          ({"source": "nonsense", "note": "说明文字"}, "请选择来源")):
        resp = post(b, url, data)
        assert resp.status_code == 400 and message in resp.get_data(as_text=True), data
    db.session.refresh(deal)
    assert deal.source == "broker_visit" and count(DealEvent, DealEvent.kind == "source") == 1
    # the parties (a broker is responsible), an official, another region's official: refused
    for name in ("enterprise", "institution", "official", "official_b"):
        assert post(login_as(name), url, {"source": "search", "note": "说明文字"}).status_code in (403, 404), name
    db.session.refresh(deal)
    assert deal.source == "broker_visit"


def test_the_parties_never_correct_the_source_nor_anyone_a_campaigns(world, market, login_as):
    """Review finding: the parties of a deal without a broker could correct its source (can_work_deal lets them
    work it), e.g. move a 揭榜挂帅 deal to 经纪人走访. Only the deal's broker or an administrator may, and a campaign's
    deal keeps the source the campaign recorded."""
    unbrokered = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=market.demand,
                                achievement=market.achievement, stage="contacted")
    campaign = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=market.demand,
                              broker=world.users.broker, stage="contacted", source="campaign")
    db.session.commit()
    for name in ("enterprise", "institution"):
        client = login_as(name)
        assert 'id="source-form"' not in client.get(f"/deals/{unbrokered.id}").get_data(as_text=True)
        resp = post(client, f"/deals/{unbrokered.id}/source", {"source": "broker_visit", "note": "说明文字"})
        assert resp.status_code == 403, name
    for name in ("broker", "admin"):
        client = login_as(name)
        assert 'id="source-form"' not in client.get(f"/deals/{campaign.id}").get_data(as_text=True)
        resp = post(client, f"/deals/{campaign.id}/source", {"source": "direct", "note": "说明文字"})
        assert resp.status_code == 403, name
    db.session.refresh(unbrokered)
    db.session.refresh(campaign)
    assert (unbrokered.source, campaign.source) == ("direct", "campaign")
    assert count(DealEvent, DealEvent.kind == "source") == 0
    # an administrator may correct a deal without a broker
    resp = post(login_as("admin"), f"/deals/{unbrokered.id}/source", {"source": "search", "note": "核实后更正"})
    assert resp.status_code == 302
    db.session.refresh(unbrokered)
    assert unbrokered.source == "search"


# --- the dashboard page -------------------------------------------------------------------------------------

def test_the_sources_page_is_for_officials_of_the_region(world, client, login_as):
    assert is_login_redirect(client.get("/dashboard/sources"))
    for name in ("enterprise", "institution", "broker"):
        assert login_as(name).get("/dashboard/sources").status_code == 403, name
    official = login_as("official")
    page = official.get("/dashboard/sources")
    assert page.status_code == 200 and "成交来源" in page.get_data(as_text=True)
    assert official.get(f"/dashboard/sources?region={world.regions['county_b'].id}").status_code == 403
    assert official.get(f"/dashboard/sources?region={world.regions['town_a'].id}").status_code == 200
    assert login_as("admin").get("/dashboard/sources?side=b").status_code == 200
    # linked from the dashboard
    assert "/dashboard/sources" in official.get("/dashboard/").get_data(as_text=True)


def test_the_page_shows_another_regions_contracts_nowhere(world, login_as):
    deal = factories.deal(buyer=world.orgs.ent_b, seller=world.orgs.ent_b, broker=world.users.broker,
                          demand=factories.demand(owner=world.users.enterprise_b, field=world.fields["materials"],
                                                  status="published"))
    factories.contract(buyer=world.orgs.ent_b, seller=world.orgs.ent_b, amount=Decimal("123456.78"), deal_id=deal.id,
                       signed_on=date.today())
    db.session.commit()
    page = login_as("official").get("/dashboard/sources").get_data(as_text=True)
    assert "12.35" not in page and "123456.78" not in page
    other = login_as("official_b").get("/dashboard/sources").get_data(as_text=True)
    assert 'data-yuan="123456.78"' in other


# --- every table adds up to the dashboard's total -----------------------------------------------------------

REGION_KEYS = ("city", "county_a", "county_b", "town_a", "town_b")
FIRST, LAST = date(2025, 1, 1), date(2025, 12, 31)

contract_specs = st.fixed_dictionaries({
    "buyer": st.sampled_from(REGION_KEYS),
    "seller": st.sampled_from(REGION_KEYS),
    "fen": st.one_of(st.integers(min_value=0, max_value=10**13), st.sampled_from([0, 1, 99, 10**13])),
    "tech_share": st.sampled_from([Decimal(1), Decimal("0.5"), Decimal(0), Decimal("0.333")]),
    "signed_on": st.one_of(st.dates(min_value=FIRST, max_value=LAST),
                           st.sampled_from([date(2025, 3, 31), date(2025, 4, 1), date(2025, 12, 31)])),
    "voided": st.booleans(),
    "reg_status": st.sampled_from(["registered", "registered", "submitted", "returned"]),
    # None: no deal; else (source, broker index or None, agency index or None)
    "deal": st.one_of(st.none(), st.tuples(st.sampled_from(sorted(DEAL_SOURCES)), st.sampled_from([None, 0, 1, 2]),
                                           st.sampled_from([None, 0, 1]))),
})
periods = st.one_of(
    st.just(stats.Period.year(2025)),
    st.integers(1, 4).map(lambda q: stats.Period.quarter(2025, q)),
    st.integers(1, 12).map(lambda m: stats.Period.month(2025, m)),
    st.tuples(st.dates(min_value=FIRST, max_value=LAST), st.integers(0, 200)).map(
        lambda t: stats.Period.between(t[0], min(t[0] + timedelta(days=t[1]), LAST))),
)


def _people(world):
    """Three brokers and two agencies, made once per test (the contracts and deals are made per example)."""
    if getattr(world, "_people", None) is None:
        agencies = [world.orgs.agency, factories.org(region=world.regions["city"], org_type="agency", name="第二服务机构")]
        brokers = [world.users.broker] + [factories.user(role="broker", org=agencies[1], region=world.regions["city"],
                                                         username=f"broker_x{i}") for i in range(2)]
        db.session.commit()
        world._people = ([a.id for a in agencies], [b.id for b in brokers])
    return world._people


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(specs=st.lists(contract_specs, max_size=12), period=periods, data=st.data())
def test_by_source_agency_and_broker_add_up_to_the_dashboard_total(world, specs, period, data):
    db.session.execute(Contract.__table__.delete())
    db.session.execute(DealEvent.__table__.delete())
    db.session.execute(Deal.__table__.delete())
    db.session.commit()
    agencies, brokers = _people(world)
    for spec in specs:
        amount = Decimal(spec["fen"]) / 100
        tech = (amount * spec["tech_share"]).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
        deal_id = None
        if spec["deal"] is not None:
            source, broker, agency = spec["deal"]
            # each contract its own deal (a deal's pair is unique; deals without listings are not allowed)
            demand = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published")
            deal_id = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=demand, stage="signed",
                                     source=source, agency_id=agencies[agency] if agency is not None else None).id
            if broker is not None:
                db.session.get(Deal, deal_id).broker_id = brokers[broker]
        factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, buyer_region=world.regions[spec["buyer"]],
                           seller_region=world.regions[spec["seller"]], amount=amount, tech_amount=tech,
                           signed_on=spec["signed_on"], voided=spec["voided"], reg_status=spec["reg_status"],
                           deal_id=deal_id)
    db.session.commit()
    scope_key = data.draw(st.sampled_from((None,) + REGION_KEYS), label="scope")
    scope = db.session.get(Region, world.regions[scope_key].id) if scope_key else None
    side = data.draw(st.sampled_from(sorted(sources.SIDES)), label="side")
    total = stats.totals(scope=scope, period=period)[side]
    want = (total.n, total.amount, total.tech_amount)
    top = data.draw(st.sampled_from([None, 1, 2]), label="top")
    rows = sources.grouped(scope=scope, period=period, side=side)
    tables = {"source": sources.by_source(rows), "agency": sources.by_agency(rows, top=top),
              "broker": sources.by_broker(rows, top=top)}
    for name, table in tables.items():
        # the total row is the dashboard's total, and the rows add up to it, to the fen
        assert (table.total.n, table.total.amount, table.total.tech_amount) == want, (name, period, scope_key, side)
        assert sum(r.n for r in table.rows) == total.n
        assert sum((r.amount for r in table.rows), Decimal("0.00")) == total.amount, name
        assert sum((r.tech_amount for r in table.rows), Decimal("0.00")) == total.tech_amount, name
        assert all(isinstance(r.amount, Decimal) and r.amount == r.amount.quantize(Decimal("0.01")) for r in table.rows)
    # every source of the set has its row, and 无对接记录 holds exactly the contracts without a deal
    assert [r.key for r in tables["source"].rows] == list(DEAL_SOURCES) + [None]
    no_deal = next(r for r in tables["source"].rows if r.key is None)
    assert no_deal.n == next((r.n for r in tables["broker"].rows if r.key == sources.NO_DEAL_KEY), 0)


# --- 经纪人走访: a broker opens a deal a visit brought about ---------------------------------------------------

def test_a_broker_records_a_deal_from_a_visit_and_it_counts_under_that_source(app, world, market, client, login_as):
    """The broker claims a suggested pair choosing 走访促成: the deal's source is broker_visit, the broker's agency
    recorded; its contract counts under 经纪人走访 on /dashboard/sources. A non-broker, an unverified or refused
    broker, a broker of another region, an anonymous visitor and a source outside the two are refused, and no
    deal is made."""
    from tests.helpers import client_for

    u = world.users
    suggestion = factories.suggestion(demand=market.demand, achievement=market.achievement)
    agency_b = factories.org(region=world.regions["county_b"], org_type="agency", name="五河技术转移服务中心")
    broker_b = factories.user(role="broker", org=agency_b, region=world.regions["county_b"], username="broker_b")
    pending, rejected = factories.broker_accounts(world)
    db.session.commit()
    url = f"/deals/queue/{suggestion.id}/claim"
    data = {"source": "broker_visit", "form_token": form_token()}
    assert is_login_redirect(post(client, url, data))
    for user in (u.enterprise, u.institution, u.official, u.admin):
        assert post(client_for(app, user), url, {**data, "form_token": form_token()}).status_code in (403, 404)
    for user in (pending, rejected, broker_b):
        assert post(client_for(app, user), url, {**data, "form_token": form_token()}).status_code in (403, 404), \
            user.username
    assert post(login_as("broker"), url, {"source": "campaign", "form_token": form_token()}).status_code == 400
    assert count(Deal) == 0
    queue = login_as("broker").get("/deals/queue").get_data(as_text=True)
    assert 'value="broker_visit"' in queue and "走访促成" in queue
    assert post(login_as("broker"), url, data).status_code == 302
    deal = db.session.scalar(select(Deal))
    assert (deal.source, deal.broker_id, deal.agency_id) == ("broker_visit", u.broker.id, world.orgs.agency.id)
    assert "走访" in db.session.scalar(select(DealEvent.text).where(DealEvent.deal_id == deal.id))
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, deal_id=deal.id, amount=Decimal("4321.09"),
                       signed_on=date.today())
    db.session.commit()
    rows = sources.grouped(scope=world.regions["county_a"], period=stats.Period.year(date.today().year), side="e")
    visit = next(r for r in sources.by_source(rows).rows if r.key == "broker_visit")
    assert (visit.n, visit.amount) == (1, Decimal("4321.09"))
    page = login_as("official").get("/dashboard/sources").get_data(as_text=True)
    assert "经纪人走访" in page and 'data-yuan="4321.09"' in page
    assert "自行申报的来源" in page  # the page says whose word the source is

