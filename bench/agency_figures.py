"""The performance sheets' reads (market/agencies/queries.py) on a database bench/dashboard.py loaded (1,000,000
contracts by default): one broker of one agency gets a few hundred deals and contracts, then broker_figures and
agency_sheet are timed, beside the former read that scanned every counted contract (coalesce(deal's broker,
contract's broker) over contracts LEFT JOIN deals), kept here only to compare.

    .venv/bin/python bench/dashboard.py --load-only --database-url postgresql+psycopg://postgres@127.0.0.1:5432/market_bench_x
    .venv/bin/python bench/agency_figures.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/market_bench_x

    .venv/bin/python bench/dashboard.py --load-only --keep /tmp/market_bench_x.db
    .venv/bin/python bench/agency_figures.py --database-url sqlite:////tmp/market_bench_x.db

The database's name (a SQLite file's name) must start with market_bench_ (rows are added to it; nothing else is
touched).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from market.extensions import db  # noqa: E402
from market.models import Contract, Deal, Demand, Organization, User  # noqa: E402
from market.models.stats import counted  # noqa: E402
from market.money import exact_sum  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from dashboard import make_app  # noqa: E402


def _ms(fn, rounds: int) -> tuple[float, float]:
    fn()
    runs = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs), max(runs)


def _setup(deals: int) -> tuple[int, int]:
    """A broker of an agency with `deals` deals, each with one registered contract of the register: (broker, agency)."""
    agency = db.session.scalar(select(Organization).where(Organization.name == "基准技术转移中心"))
    if agency is None:
        region_id = db.session.scalar(select(Organization.region_id).where(Organization.region_id.is_not(None)).limit(1))
        agency = Organization(name="基准技术转移中心", uscc="91340300MA2BENCH19", org_type="agency", region_id=region_id,
                              contact_name="张三", contact_phone="0552-1234567", status="verified")
        db.session.add(agency)
        db.session.flush()
        broker = User(username="bench_broker19", name="基准经纪人", phone="13800000000", role="broker",
                      org_id=agency.id, region_id=region_id, broker_cert_no="JJR-2026-9919", broker_status="approved",
                      password_hash="x")
        db.session.add(broker)
        db.session.flush()
        owner = broker  # the bench loads no enterprise accounts: the needs are only there for the deals to name
        contracts = db.session.scalars(select(Contract).where(Contract.deal_id.is_(None), counted())
                                       .order_by(Contract.id).limit(deals)).all()
        for i, c in enumerate(contracts):
            need = Demand(title=f"基准需求{i}", description="", indicators="", org_id=c.buyer_org_id, owner_id=owner.id,
                          region_id=c.buyer_region_id or c.seller_region_id, field_id=c.field_id or 1,
                          status="published", contact_name="李四", contact_phone="0552-7654321", keywords="")
            db.session.add(need)
            db.session.flush()
            deal = Deal(demand_id=need.id, buyer_org_id=c.buyer_org_id, seller_org_id=c.seller_org_id,
                        buyer_region_id=c.buyer_region_id, seller_region_id=c.seller_region_id, broker_id=broker.id,
                        agency_id=agency.id, stage="signed", source="broker_visit")
            db.session.add(deal)
            db.session.flush()
            c.deal_id = deal.id
        db.session.execute(update(Contract).where(Contract.id.in_(
            select(Contract.id).where(Contract.deal_id.is_(None)).order_by(Contract.id.desc()).limit(deals // 2)))
            .values(broker_id=broker.id))
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    broker_id = db.session.scalar(select(User.id).where(User.username == "bench_broker19"))
    return broker_id, agency.id


def _former_broker_read(broker_id: int, year: int | None):
    """The read before: every counted contract (of the year), attributed by coalesce, filtered afterwards."""
    key = func.coalesce(Deal.broker_id, Contract.broker_id)
    stmt = (select(key, func.count(Contract.id), *exact_sum(Contract.amount, "amount"))
            .select_from(Contract).outerjoin(Deal, Deal.id == Contract.deal_id)
            .where(counted(), key.in_([broker_id])).group_by(key))
    if year is not None:
        stmt = stmt.where(Contract.signed_on >= date(year, 1, 1), Contract.signed_on < date(year + 1, 1, 1))
    return db.session.execute(stmt).all()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--deals", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not Path(make_url(args.database_url).database or "").name.startswith("market_bench_"):
        sys.exit("the database's name (a SQLite file's name) must start with market_bench_")
    from market.agencies import queries

    with tempfile.TemporaryDirectory() as folder:
        app = make_app(args.database_url, Path(folder))
        with app.app_context():
            broker_id, agency_id = _setup(args.deals)
            agency = db.session.get(Organization, agency_id)
            total = db.session.scalar(select(func.count(Contract.id)))
            years = db.session.execute(select(func.min(Contract.signed_on), func.max(Contract.signed_on))).one()
            year = years[1].year
            f = queries.broker_figures([broker_id], None)[broker_id]
            print(f"{total:,} contracts; the broker: {f.contracts} counted contracts, {f.deals} deals (all years)")
            for label, fn in [
                ("former broker read, a year", lambda: _former_broker_read(broker_id, year)),
                ("former broker read, the record", lambda: _former_broker_read(broker_id, None)),
                ("broker_figures, a year", lambda: queries.broker_figures([broker_id], year)),
                ("broker_figures, the record", lambda: queries.broker_figures([broker_id], None)),
                ("broker_contracts, first page", lambda: db.session.scalars(
                    queries.broker_contracts(broker_id, year).limit(20)).all()),
                ("agency_sheet, a year", lambda: queries.agency_sheet(agency, year)),
            ]:
                median, worst = _ms(fn, args.rounds)
                print(f"{label:32s} median {median:8.1f} ms   slowest {worst:8.1f} ms")
            db.session.rollback()


if __name__ == "__main__":
    main()
