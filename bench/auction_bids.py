"""Bids per second one 竞价 lot sustains: gunicorn (4 sync workers by default) on a fresh database, one running lot,
N signed-in bidders each with a held deposit, every bidder in its own thread reading the lot's state.json and
posting a bid one to three increments above the price it saw (often stale: then refused with 409) for --seconds.

    .venv/bin/python bench/auction_bids.py                                  # SQLite in a temp folder
    .venv/bin/python bench/auction_bids.py --pg                             # PostgreSQL (a database made and dropped here)
    .venv/bin/python bench/auction_bids.py --bidders 50 --seconds 10 --workers 4

Prints bid POSTs per second (accepted and refused), p50/p95/max latency of the POSTs, the 5xx count, and checks
the lot afterwards: bid numbers contiguous, every bid at least one increment above the one before, the price the
last bid, the history one entry per bid.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import DEMO_PASSWORD, PG_ADMIN, SECRET_KEY, Http, Server, pg_admin  # noqa: E402

PASSWORD = DEMO_PASSWORD  # what load.Http signs in with
PG_DB = "market_bench_auction"


def seed(db_url: str, folder: Path, bidders: int) -> int:
    """Schema, a city, the seller (a university), `bidders` verified enterprises with one account each and a held
    deposit, an official's published session with one lot running for an hour. The lot's id."""
    from datetime import timedelta

    from werkzeug.security import generate_password_hash

    from market import create_app
    from market.extensions import db
    from market.models import Achievement, Field, Organization, Region, User
    from market.models.auction import AuctionDeposit, AuctionLot, AuctionSession
    from market.models.base import utcnow
    from market.uscc import check_char

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SEARCH_INDEX_DIR": str(folder / "index"),
                      "UPLOAD_DIR": str(folder / "uploads"), "SECRET_KEY": SECRET_KEY, "JOBS_BACKEND": "immediate"})
    with app.app_context():
        db.create_all()
        city = Region(code="340300", name="蚌埠市", level="city")
        db.session.add(city)
        field = Field(code="01", name="新材料")
        db.session.add(field)
        db.session.flush()
        city.path = f"/{city.id}/"
        pw = generate_password_hash(PASSWORD)

        def org(n: int, kind: str, name: str) -> Organization:
            body = "91340300" + f"{n:09d}"[-9:]
            o = Organization(name=name, uscc=body + check_char(body), org_type=kind, region_id=city.id,
                             contact_name="张三", contact_phone="0552-1234567", status="verified")
            db.session.add(o)
            db.session.flush()
            return o

        uni = org(1, "university", "蚌埠压测大学")
        seller = User(username="seller", name="卖方", phone="13800000000", role="institution", org_id=uni.id,
                      password_hash=pw)
        official = User(username="official", name="科技局", phone="13800000000", role="official", region_id=city.id,
                        password_hash=pw)
        db.session.add_all([seller, official])
        db.session.flush()
        a = Achievement(title="压测用磁控溅射透明导电膜技术", summary="压测" * 20, org_id=uni.id, owner_id=seller.id,
                        region_id=city.id, field_id=field.id, maturity=6, ip_type="invention", ip_numbers="",
                        ip_status="granted", price=Decimal("800000"), team_lead="王教授", status="published",
                        contact_name="王五", contact_phone="0551-1234567", keywords="导电膜")
        a.set_modes(["transfer"])
        db.session.add(a)
        session = AuctionSession(title="压测竞价专场", description="", region_id=city.id, organiser_id=official.id,
                                 state="published", published_at=utcnow())
        db.session.add(session)
        db.session.flush()
        now = utcnow()
        lot = AuctionLot(session_id=session.id, achievement_id=a.id, seller_org_id=uni.id,
                         starting_price=Decimal("100000.00"), reserve_price=Decimal("150000.00"),
                         increment=Decimal("100.00"), deposit_amount=Decimal("1000.00"),
                         starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1),
                         original_ends_at=now + timedelta(hours=1), snipe_window_minutes=0, extend_minutes=5,
                         state="open", bid_count=0, version=0)
        db.session.add(lot)
        db.session.flush()
        for i in range(bidders):
            o = org(100 + i, "enterprise", f"压测竞买企业{i:03d}有限公司")
            db.session.add(User(username=f"bidder{i:03d}", name=f"竞买人{i}", phone="13800000000", role="enterprise",
                                org_id=o.id, password_hash=pw))
            db.session.add(AuctionDeposit(lot_id=lot.id, org_id=o.id, amount=Decimal("1000.00"),
                                          recorded_by_id=official.id, status="held"))
        db.session.commit()
        lot_id = lot.id
        db.engine.dispose()
    return lot_id


def check(db_url: str, lot_id: int) -> str:
    from sqlalchemy import create_engine, select

    from market.models.auction import AuctionBid, AuctionLot, AuctionLotEvent

    engine = create_engine(db_url)
    with engine.connect() as conn:
        lot = conn.execute(select(AuctionLot).where(AuctionLot.id == lot_id)).one()
        bids = conn.execute(select(AuctionBid.seq, AuctionBid.amount, AuctionBid.org_id)
                            .where(AuctionBid.lot_id == lot_id).order_by(AuctionBid.seq)).all()
        events = conn.scalars(select(AuctionLotEvent.bid_seq).where(
            AuctionLotEvent.lot_id == lot_id, AuctionLotEvent.kind.in_(("bid", "proxy")))
            .order_by(AuctionLotEvent.bid_seq)).all()
    engine.dispose()
    problems = []
    if [b.seq for b in bids] != list(range(1, len(bids) + 1)):
        problems.append("bid numbers not contiguous")
    if any(y.amount < x.amount + lot.increment for x, y in zip(bids, bids[1:])):
        problems.append("a bid less than one increment above the one before")
    if bids and (lot.current_price != bids[-1].amount or lot.leader_org_id != bids[-1].org_id
                 or lot.bid_count != len(bids)):
        problems.append("the lot's price, leader or count is not its last bid's")
    if list(events) != [b.seq for b in bids]:
        problems.append("history entries differ from the bids")
    verdict = "consistent" if not problems else "INCONSISTENT: " + "; ".join(problems)
    return f"{len(bids)} bids stored, final price {lot.current_price}: {verdict}"


def run(base: str, lot_id: int, bidders: int, seconds: float) -> dict:
    sessions = [Http(base).login(f"bidder{i:03d}") for i in range(bidders)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start_barrier = threading.Barrier(bidders + 1)
    stop_at = [0.0]

    def bidder(n: int, http: Http) -> None:
        rnd = random.Random(n)
        start_barrier.wait()
        while time.monotonic() < stop_at[0]:
            state = http.get(f"/auctions/lots/{lot_id}/state.json")
            if state.status != 200:
                with lock:
                    statuses[-state.status] = statuses.get(-state.status, 0) + 1
                continue
            import json

            s = json.loads(state.text)
            if s["you_lead"]:
                time.sleep(0.01)
                continue
            amount = Decimal(s["next_amount"]) + Decimal("100") * rnd.choice((0, 0, 1, 2))
            t0 = time.perf_counter()
            resp = http.post(f"/auctions/lots/{lot_id}/bid", {"amount": str(amount)})
            took = time.perf_counter() - t0
            with lock:
                latencies.append(took)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

    threads = [threading.Thread(target=bidder, args=(n, h), daemon=True) for n, h in enumerate(sessions)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + seconds
    began = time.monotonic()
    start_barrier.wait()
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.monotonic() - began
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {"posts": len(latencies), "elapsed": elapsed, "statuses": statuses, "p50": q[49], "p95": q[94],
            "max": latencies[-1] if latencies else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--bidders", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL on 127.0.0.1:5432 instead of SQLite")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="auction-bench-"))
    if args.pg:
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{PG_DB}"')
        db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"
    else:
        db_url = f"sqlite:///{folder / 'market.db'}"
    import os

    env = {**os.environ, "DATABASE_URL": db_url, "MARKET_INSTANCE_DIR": str(folder), "SECRET_KEY": SECRET_KEY,
           "SEARCH_INDEX_DIR": str(folder / "index"), "UPLOAD_DIR": str(folder / "uploads")}
    lot_id = seed(db_url, folder, args.bidders)
    server = Server("app:app", args.workers, env, folder / "gunicorn.log")
    try:
        r = run(server.url, lot_id, args.bidders, args.seconds)
    finally:
        server.stop()
    ok = r["statuses"].get(302, 0)
    refused = r["statuses"].get(409, 0)
    errors = sum(n for s, n in r["statuses"].items() if s >= 500)
    print(f"{'PostgreSQL' if args.pg else 'SQLite'}, gunicorn {args.workers} sync workers, {args.bidders} bidders, "
          f"{r['elapsed']:.1f} s")
    print(f"  bid POSTs: {r['posts']} ({r['posts'] / r['elapsed']:.1f}/s): accepted {ok} ({ok / r['elapsed']:.1f}/s), "
          f"refused 409 {refused}, 5xx {errors}, all statuses {dict(sorted(r['statuses'].items()))}")
    print(f"  POST latency: p50 {r['p50'] * 1000:.0f} ms, p95 {r['p95'] * 1000:.0f} ms, max {r['max'] * 1000:.0f} ms")
    print("  " + check(db_url, lot_id))
    log = (folder / "gunicorn.log").read_text(errors="replace")
    if "Traceback" in log or "database is locked" in log:
        print("  gunicorn log has errors: " + str(folder / "gunicorn.log"))
    if args.pg:
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
