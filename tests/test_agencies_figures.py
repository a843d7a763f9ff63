"""The performance figures (market/agencies/queries.py) against a direct sum over the records: the reads start from
the deals side (deals.broker_id, deals.agency_id, contracts.broker_id) and must give what the attribution rule gives
when every contract is read and attributed in Python."""
from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from market.agencies import queries
from market.extensions import db
from market.models import Contract, Deal
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
        factories.contract(buyer=rng.choice([o.ent_a, o.ent_b]), seller=o.uni,
                           deal_id=deal.id if deal else None, broker_id=named.id if named else None,
                           amount=Decimal(rng.randint(1, 10 ** 9)) / 100, voided=rng.random() < 0.1,
                           signed_on=date(rng.choice([YEAR, YEAR, YEAR - 1]), rng.randint(1, 12), 1), **kw)
    db.session.commit()
    return brokers, [o.agency, agency_b]


def _direct(year: int | None):
    """{('broker', id) / ('agency', id): (n, amount, tech_amount)} from every contract, attributed in Python."""
    deals = {d.id: d for d in db.session.scalars(select(Deal))}
    out: dict = {}
    for c in db.session.scalars(select(Contract)):
        if c.voided or c.reg_status != "registered" or (year is not None and c.signed_on.year != year):
            continue
        deal = deals.get(c.deal_id)
        broker = deal.broker_id if deal is not None and deal.broker_id is not None else c.broker_id
        keys = [("broker", broker)] + ([("agency", deal.agency_id)] if deal is not None else [])
        for key in keys:
            n, amount, tech = out.get(key, (0, Decimal("0.00"), Decimal("0.00")))
            out[key] = (n + 1, amount + c.amount, tech + c.tech_amount)
    return out


def test_figures_equal_a_direct_sum_over_the_records(app, world):
    brokers, agencies = _records(world)
    for year in (YEAR, YEAR - 1, None):
        expected = _direct(year)
        figures = queries.broker_figures([b.id for b in brokers], year)
        for b in brokers:
            f = figures[b.id]
            assert (f.contracts, f.amount, f.tech_amount) == expected.get(("broker", b.id), (0, 0, 0)), (year, b.id)
            if year is not None:
                assert queries.broker_figures([b.id], year)[b.id] == f
                rows = db.session.scalars(queries.broker_contracts(b.id, year)).all()
                assert len(rows) == f.contracts and sum((c.amount for c in rows), Decimal(0)) == f.amount
        if year is None:
            continue
        for agency in agencies:
            sheet = queries.agency_sheet(agency, year)
            n, amount, tech = expected.get(("agency", agency.id), (0, Decimal(0), Decimal(0)))
            assert (sheet.total.contracts, sheet.total.amount, sheet.total.tech_amount) == (n, amount, tech)
            assert sum(f.contracts for _, f in sheet.lines) == n
            assert sum((f.amount for _, f in sheet.lines), Decimal(0)) == amount
    assert any(v[0] for k, v in _direct(YEAR).items() if k[0] == "agency")  # the draw has something to count
