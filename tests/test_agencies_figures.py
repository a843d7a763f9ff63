"""The performance figures (market/agencies/queries.py) against a direct sum over the records: the reads start from
the deals side (deals.broker_id, deals.agency_id, contracts.broker_id) and must give what the attribution rule gives
when every contract is read and attributed in Python."""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from market.agencies import queries
from market.extensions import db
from market.models import Contract, Deal, Notification, Payment, User
from tests import factories

YEAR = date.today().year


def _records(world):
    """Two agencies, three brokers, deals with and without a broker or an agency, contracts with and without a
    deal (naming a broker or not), voided, submitted, other years: drawn from a fixed seed."""
    u, o = world.users, world.orgs
    agency_b = factories.org(region=world.regions["county_b"], org_type="agency", name="五河技术转移服务中心")
    broker_b = factories.user(role="broker", org=agency_b, region=world.regions["county_b"], username="broker_b")
    broker_c = factories.user(role="broker", org=o.agency, region=world.regions["city"], username="broker_c")
    brokers = [u.broker, broker_b, broker_c]
    rng = random.Random(19)
    deals = []
    for i in range(18):
        broker = rng.choice(brokers + [None])
        agency = rng.choice([o.agency.id, agency_b.id, None])
        need = factories.demand(owner=u.enterprise, field=world.fields["materials"], status="published",
                                title=f"需求{i:02d}寻求镀膜技术")
        deals.append(factories.deal(buyer=o.ent_a, seller=o.uni, demand=need, broker=broker, agency_id=agency,
                                    stage=rng.choice(["contacted", "signed"])))
    for i in range(60):
        deal = rng.choice(deals + [None, None])
        named = rng.choice(brokers + [None])
        kw = {}
        if rng.random() < 0.1:
            kw["reg_status"], kw["registration_no"] = "submitted", f"待登记-fig{i:06d}"
        contract = factories.contract(buyer=rng.choice([o.ent_a, o.ent_b]), seller=o.uni,
                           deal_id=deal.id if deal else None, broker_id=named.id if named else None,
                           amount=Decimal(rng.randint(1, 10 ** 9)) / 100, voided=rng.random() < 0.1,
                           signed_on=date(rng.choice([YEAR, YEAR, YEAR - 1]), rng.randint(1, 12), 1), **kw)
        for _ in range(rng.randint(0, 2)):  # payments, some in another year than the signing
            db.session.add(Payment(contract_id=contract.id, paid_on=date(rng.choice([YEAR, YEAR - 1]), 6, 1),
                                   amount=Decimal(rng.randint(1, 10 ** 7)) / 100,
                                   recorded_by_id=rng.choice([u.admin.id, u.official.id, u.broker.id])))
    db.session.commit()
    return brokers, [o.agency, agency_b]


def _direct(year: int | None):
    """{('broker', id) / ('agency', id): (n, amount, tech_amount, received, reported)} from every contract and
    payment, attributed in Python: contracts signed in the year, payments paid in the year (on a counted contract
    of any year), recorded by an official or administrator (received) or by anyone else (reported)."""
    deals = {d.id: d for d in db.session.scalars(select(Deal))}
    payments: dict = {}
    for p in db.session.scalars(select(Payment)):
        if year is None or p.paid_on.year == year:
            verified = db.session.get(User, p.recorded_by_id).role in ("official", "admin")
            got, told = payments.get(p.contract_id, (Decimal(0), Decimal(0)))
            payments[p.contract_id] = (got + p.amount, told) if verified else (got, told + p.amount)
    out: dict = {}
    for c in db.session.scalars(select(Contract)):
        if c.voided or c.reg_status != "registered":
            continue
        signed = year is None or c.signed_on.year == year
        deal = deals.get(c.deal_id)
        broker = deal.broker_id if deal is not None and deal.broker_id is not None else c.broker_id
        keys = [("broker", broker)] + ([("agency", deal.agency_id)] if deal is not None else [])
        for key in keys:
            n, amount, tech, received, reported = out.get(key, (0, Decimal("0.00"), Decimal("0.00"), Decimal("0.00"),
                                                                Decimal("0.00")))
            if signed:
                n, amount, tech = n + 1, amount + c.amount, tech + c.tech_amount
            got, told = payments.get(c.id, (Decimal(0), Decimal(0)))
            out[key] = (n, amount, tech, received + got, reported + told)
    return out


def test_figures_equal_a_direct_sum_over_the_records(app, world):
    brokers, agencies = _records(world)
    for year in (YEAR, YEAR - 1, None):
        expected = _direct(year)
        figures = queries.broker_figures([b.id for b in brokers], year)
        for b in brokers:
            f = figures[b.id]
            assert (f.contracts, f.amount, f.tech_amount, f.received, f.reported) == expected.get(
                ("broker", b.id), (0, 0, 0, 0, 0)), (year, b.id)
            if year is not None:
                assert queries.broker_figures([b.id], year)[b.id] == f
                rows = db.session.scalars(queries.broker_contracts(b.id, year)).all()
                assert len(rows) == f.contracts and sum((c.amount for c in rows), Decimal(0)) == f.amount
        if year is None:
            continue
        for agency in agencies:
            sheet = queries.agency_sheet(agency, year)
            n, amount, tech, received, reported = expected.get(("agency", agency.id),
                                                               (0, Decimal(0), Decimal(0), Decimal(0), Decimal(0)))
            assert (sheet.total.contracts, sheet.total.amount, sheet.total.tech_amount) == (n, amount, tech)
            assert (sheet.total.received, sheet.total.reported) == (received, reported)
            assert sum(f.contracts for _, f in sheet.lines) == n
            assert sum((f.amount for _, f in sheet.lines), Decimal(0)) == amount
            assert sum((f.received for _, f in sheet.lines), Decimal(0)) == received
    drawn = _direct(YEAR)  # the draw has something to count
    assert any(v[0] for k, v in drawn.items() if k[0] == "agency") and any(v[3] for v in drawn.values())
    assert any(v[4] for v in drawn.values())  # and self-reported payments, kept apart


# --- 需求征集 -----------------------------------------------------------------------------------------------

def _published_need(world, owner=None, **kw):
    from market.models.base import utcnow

    owner = owner or world.users.enterprise
    return factories.demand(owner=owner, field=world.fields["materials"], status="published",
                            published_at=kw.pop("published_at", utcnow()), **kw)


def test_a_verified_broker_records_a_need_collected_once(app, world):
    """The broker of county A records a need of county A as collected: it counts for the broker and the broker's
    agency in the year; nobody records it twice; the need's page says who did."""
    from market.models import DemandCollection
    from tests.helpers import Poster, client_for

    u, o = world.users, world.orgs
    need = _published_need(world)
    db.session.commit()
    page = client_for(app, u.broker).get(f"/demands/{need.id}").get_data(as_text=True)
    assert 'id="collect-demand"' in page
    resp = Poster(client_for(app, u.broker)).post(f"/demands/{need.id}/collect")
    assert resp.status_code == 302
    row = db.session.get(DemandCollection, need.id)
    assert (row.broker_id, row.agency_id, row.confirmed_at) == (u.broker.id, o.agency.id, None)
    # the broker's claim counts once the enterprise confirms it; the enterprise is told to
    assert queries.broker_figures([u.broker.id], YEAR)[u.broker.id].collected == 0
    assert db.session.scalar(select(Notification.user_id).where(Notification.kind == "listing_collected")) == u.enterprise.id
    decide = f"/demands/{need.id}/collect/decide"
    for user in (u.broker, u.enterprise_b, u.official, u.admin, u.institution, u.unverified):
        # 403 for the unverified account: refused before the view (tests/test_verified_actors.py)
        assert Poster(client_for(app, user)).post(decide, {"decision": "confirm"}).status_code in (403, 404), user.username
    assert app.test_client().post(decide, data={"decision": "confirm"}).status_code in (302, 400)  # anonymous
    owner = Poster(client_for(app, u.enterprise))
    assert 'id="collection-confirm"' in owner.get(f"/demands/{need.id}").get_data(as_text=True)
    assert owner.post(decide, {"decision": "maybe"}).status_code == 400
    assert db.session.get(DemandCollection, need.id).confirmed_at is None
    assert owner.post(decide, {"decision": "confirm"}).status_code == 302
    db.session.expire_all()
    row = db.session.get(DemandCollection, need.id)
    assert row.confirmed_at is not None and row.confirmed_by_id == u.enterprise.id
    assert owner.post(decide, {"decision": "dispute"}).status_code == 409  # decided once
    assert db.session.scalar(select(Notification.user_id).where(
        Notification.kind == "listing_collection_decided")) == u.broker.id
    assert queries.broker_figures([u.broker.id], YEAR)[u.broker.id].collected == 1
    sheet = queries.agency_sheet(o.agency, YEAR)
    assert sheet.total.collected == 1 and dict((x.id, f.collected) for x, f in sheet.lines)[u.broker.id] == 1
    assert queries.agency_sheet(o.agency, YEAR - 1).total.collected == 0
    # a need taken down (closed, returned) is no evidence of collecting: it counts again only while public
    need.status = "closed"
    db.session.commit()
    assert queries.broker_figures([u.broker.id], YEAR)[u.broker.id].collected == 0
    assert queries.agency_sheet(o.agency, YEAR).total.collected == 0
    need.status = "published"
    db.session.commit()
    page = client_for(app, u.enterprise).get(f"/demands/{need.id}").get_data(as_text=True)
    assert "登记征集" in page and u.broker.name in page
    # a colleague of the same agency cannot take it over
    colleague = factories.user(role="broker", org=o.agency, region=world.regions["county_a"], username="colleague")
    db.session.commit()
    again = Poster(client_for(app, colleague)).post(f"/demands/{need.id}/collect")
    assert again.status_code == 409
    assert db.session.get(DemandCollection, need.id).broker_id == u.broker.id
    # the agency sheet's page and file show the figure
    admin = client_for(app, u.admin)
    html = admin.get(f"/agencies/{o.agency.id}/performance").get_data(as_text=True)
    assert 'id="total-collected">1<' in html


def test_only_a_verified_broker_of_the_needs_region_may_record_it(app, world):
    from market.models import DemandCollection
    from market.models.base import utcnow
    from datetime import timedelta
    from tests.helpers import Poster, client_for

    u, o = world.users, world.orgs
    need = _published_need(world)
    old = _published_need(world, title="三年前发布的镀膜需求", published_at=utcnow() - timedelta(days=31))
    draft = factories.demand(owner=u.enterprise, field=world.fields["materials"], status="draft")
    agency_b = factories.org(region=world.regions["county_b"], org_type="agency", name="五河技术转移服务中心")
    other_region = factories.user(role="broker", org=agency_b, region=world.regions["county_b"], username="broker_b")
    pending = factories.user(role="broker", org=o.agency, region=world.regions["county_a"], username="pending_b",
                             broker_status="pending")
    unverified_agency = factories.org(region=world.regions["county_a"], org_type="agency", status="pending",
                                      name="怀远待认证服务机构")
    of_unverified = factories.user(role="broker", org=unverified_agency, region=world.regions["county_a"],
                                   username="unverified_b")
    not_agency = factories.user(role="broker", org=o.uni, region=world.regions["county_a"], username="uni_b")
    db.session.commit()
    for user in (other_region, pending, of_unverified, not_agency):
        assert Poster(client_for(app, user)).post(f"/demands/{need.id}/collect").status_code == 403, user.username
    for user in (u.enterprise, u.official, u.admin, u.institution):
        assert Poster(client_for(app, user)).post(f"/demands/{need.id}/collect").status_code == 404, user.username
    assert app.test_client().post(f"/demands/{need.id}/collect").status_code in (302, 400)  # anonymous
    broker = Poster(client_for(app, u.broker))
    assert broker.post(f"/demands/{old.id}/collect").status_code == 403  # past COLLECT_DAYS
    assert broker.post(f"/demands/{draft.id}/collect").status_code == 403
    assert broker.post("/demands/99999999/collect").status_code == 404
    assert broker.post(f"/demands/{need.id}/collect", {"csrf_token": "x"}).status_code == 400
    assert db.session.scalars(select(DemandCollection)).all() == []
    assert 'id="collect-demand"' not in client_for(app, other_region).get(f"/demands/{need.id}").get_data(as_text=True)


def test_collected_needs_a_viewer_sees(app, world):
    """An agency's administrator counts on a broker's sheet only the needs recorded for their agency; an
    official only those of needs in their region."""
    from market.models import DemandCollection

    u, o = world.users, world.orgs
    agency_b = factories.org(region=world.regions["county_b"], org_type="agency", name="五河技术转移服务中心")
    admin_b = factories.user(role="broker", org=agency_b, region=world.regions["county_b"], username="admin_b")
    admin_b.org_admin = True
    a = _published_need(world)
    b = _published_need(world, owner=u.enterprise_b, title="五河企业的镀膜需求")
    from market.models.base import utcnow

    db.session.add_all([DemandCollection(demand_id=a.id, broker_id=u.broker.id, agency_id=o.agency.id,
                                         confirmed_at=utcnow(), confirmed_by_id=u.enterprise.id),
                        DemandCollection(demand_id=b.id, broker_id=u.broker.id, agency_id=agency_b.id,
                                         confirmed_at=utcnow(), confirmed_by_id=u.enterprise_b.id)])
    db.session.commit()
    one = lambda viewer: queries.broker_figures([u.broker.id], YEAR, viewer)[u.broker.id].collected  # noqa: E731
    assert (one(None), one(u.broker), one(admin_b), one(u.official), one(u.official_b)) == (2, 2, 1, 1, 1)
    assert queries.agency_sheet(agency_b, YEAR).total.collected == 1
    assert queries.agency_sheet(o.agency, YEAR, u.official_b).total.collected == 0


def test_a_disputed_collection_is_withdrawn_and_counts_for_nobody(app, world):
    from market.models import DemandCollection
    from tests.helpers import Poster, client_for

    u, o = world.users, world.orgs
    need = _published_need(world)
    db.session.commit()
    assert Poster(client_for(app, u.broker)).post(f"/demands/{need.id}/collect").status_code == 302
    owner = Poster(client_for(app, u.enterprise))
    assert owner.post(f"/demands/{need.id}/collect/decide", {"decision": "dispute"}).status_code == 302
    assert db.session.get(DemandCollection, need.id) is None
    assert queries.agency_sheet(o.agency, YEAR).total.collected == 0
    told = db.session.scalars(select(Notification.text).where(Notification.user_id == u.broker.id)).all()
    assert any("并非由您征集" in t for t in told)
    assert owner.post(f"/demands/{need.id}/collect/decide", {"decision": "confirm"}).status_code == 409


# --- 承办活动 -----------------------------------------------------------------------------------------------

def _event(world, organiser, **kw):
    from datetime import timedelta

    from market.models import Happening
    from market.models.base import utcnow

    now = utcnow()
    h = Happening(kind="roadshow", title=kw.pop("title", "机构承办路演"), place="蚌埠",
                  region_id=kw.pop("region", world.regions["city"]).id, organiser_id=organiser.id,
                  starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=2),  # under way: held
                  signup_deadline=now - timedelta(hours=1), capacity=5, **kw)
    db.session.add(h)
    db.session.flush()
    return h


def test_the_organiser_names_the_agency_that_runs_an_event(app, world):
    from market.models import Happening
    from tests.helpers import Poster, client_for

    u, o = world.users, world.orgs
    event = _event(world, u.city_official)
    called_off = _event(world, u.city_official, title="已取消的路演", agency_id=o.agency.id, status="cancelled")
    agency_b = factories.org(region=world.regions["county_b"], org_type="agency", name="五河技术转移服务中心")
    pending_agency = factories.org(region=world.regions["city"], org_type="agency", status="pending", name="待认证机构")
    db.session.commit()
    url = f"/events/{event.id}/agency"
    organiser = Poster(client_for(app, u.city_official))
    form = organiser.get(url).get_data(as_text=True)
    assert o.agency.name in form and agency_b.name in form and pending_agency.name not in form
    assert organiser.post(url, {"agency_id": str(pending_agency.id)}).status_code == 400
    assert db.session.get(Happening, event.id).agency_id is None
    county_b_official = factories.user(role="official", region=world.regions["county_b"], username="off_b2")
    db.session.commit()
    # the county-B official manages no city event; a broker, the agency's members and others get 404
    for user in (u.official, county_b_official, u.broker, u.enterprise):
        client = Poster(client_for(app, user))
        assert client.get(url).status_code == 404 and client.post(url, {"agency_id": str(o.agency.id)}).status_code == 404
    assert app.test_client().get(url).status_code == 302
    assert db.session.get(Happening, event.id).agency_id is None
    assert organiser.post(url, {"agency_id": str(o.agency.id)}).status_code == 302
    assert db.session.get(Happening, event.id).agency_id == o.agency.id
    assert o.agency.name in client_for(app, u.enterprise).get(f"/events/{event.id}").get_data(as_text=True)
    sheet = queries.agency_sheet(o.agency, YEAR)  # the called-off one does not count
    assert sheet.total.events == sum(f.events for _, f in sheet.lines) == 1
    assert dict((x.id, f.events) for x, f in sheet.lines)[None] == 1
    # one planned for later is not held yet (the sheet says 举行)
    later = _event(world, u.city_official, title="下月的路演", agency_id=o.agency.id)
    later.starts_at, later.ends_at = later.starts_at + timedelta(days=3), later.ends_at + timedelta(days=3)
    later.signup_deadline = later.starts_at - timedelta(hours=1)
    db.session.commit()
    assert queries.agency_sheet(o.agency, YEAR).total.events == 1
    assert organiser.post(f"/events/{called_off.id}/agency", {"agency_id": "0"}).status_code == 400
    assert organiser.post(url, {"agency_id": "0"}).status_code == 302
    assert queries.agency_sheet(o.agency, YEAR).total.events == 0
