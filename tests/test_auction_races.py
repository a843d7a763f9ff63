"""Bids decided together: many bidders in real threads, each with its own session and connection, bid on one lot
at once; the lot ends with one consistent highest bid and an intact history (the lot's row lock on PostgreSQL,
BEGIN IMMEDIATE on SQLite; the unique (lot, seq) and (lot, amount) constraints as the last guard)."""
from __future__ import annotations

import os
import random
import threading
import time
from decimal import Decimal

from sqlalchemy import select

from market import create_app
from market.auctions import services
from market.database import write_intent
from market.errors import DomainError
from market.extensions import db
from market.models import User
from market.models.auction import AuctionBid, AuctionLot, AuctionLotEvent
from tests.auction_helpers import bidder_accounts, make_lot
from tests.helpers import app_config, csrf_token, login, post_together

BIDDERS = int(os.environ.get("AUCTION_RACE_BIDDERS", "50"))
BIDS_EACH = int(os.environ.get("AUCTION_RACE_BIDS", "20"))


def _bidding_app(database_url, folder):
    """A second app on the test's database for the bidding threads. On SQLite, 50 threads of one process queue for
    one write lock (in production 4 workers do); the queue is served in no fixed order, so a thread may wait past
    the product's 10 s busy timeout: the threads wait up to 120 s instead."""
    return create_app({**app_config(database_url, folder), "DB_BUSY_TIMEOUT_MS": 120_000,
                       # a connection per thread, as each worker has its own
                       "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": BIDDERS + 2, "max_overflow": 2, "pool_timeout": 120}})


def _read(fn):
    """A read as a page does it: a deferred transaction on SQLite (no write lock), ended before the bid."""
    token = write_intent.set(False)
    try:
        return fn()
    finally:
        db.session.commit()
        write_intent.reset(token)


def _check_history(lot_id: int, increment: Decimal, starting: Decimal) -> list[AuctionBid]:
    db.session.expire_all()
    lot = db.session.get(AuctionLot, lot_id)
    bids = list(db.session.scalars(select(AuctionBid).where(AuctionBid.lot_id == lot_id).order_by(AuctionBid.seq)))
    assert [b.seq for b in bids] == list(range(1, len(bids) + 1))  # contiguous
    assert lot.bid_count == len(bids)
    assert bids[0].amount >= starting
    for before, after in zip(bids, bids[1:]):
        assert after.amount >= before.amount + increment, (before.seq, before.amount, after.amount)
    assert len({b.amount for b in bids}) == len(bids)
    assert lot.current_price == max(b.amount for b in bids) == bids[-1].amount
    assert lot.leader_org_id == bids[-1].org_id
    events = list(db.session.scalars(select(AuctionLotEvent.bid_seq).where(
        AuctionLotEvent.lot_id == lot_id, AuctionLotEvent.kind.in_(("bid", "proxy"))).order_by(AuctionLotEvent.bid_seq)))
    assert events == [b.seq for b in bids]  # one history entry per bid, none lost, none extra
    return bids


def test_many_bidders_bidding_at_once_leave_one_consistent_highest_bid(app, world, database_url, tmp_path):
    users = bidder_accounts(world, BIDDERS)
    lot = make_lot(world, bidders=[u.org for u in users], starting=Decimal("100000.00"), increment=Decimal("1000.00"))
    lot_id, user_ids = lot.id, [u.id for u in users]
    inc, starting = lot.increment, lot.starting_price
    accepted: list[tuple[int, Decimal]] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(user_ids))
    lock = threading.Lock()
    bidding = _bidding_app(database_url, tmp_path)

    def bidder(user_id: int, seed: int) -> None:
        rnd = random.Random(seed)
        try:
            with bidding.app_context():
                barrier.wait(timeout=60)
                for _ in range(BIDS_EACH):
                    # what the bidder last saw: often stale
                    user, seen = _read(lambda: (db.session.get(User, user_id), db.session.get(AuctionLot, lot_id)))
                    base = seen.current_price if seen.current_price is not None else starting - inc
                    amount = base + inc * rnd.choice((1, 1, 2, 3)) + rnd.choice((Decimal("0"), Decimal("0.01")))
                    try:
                        services.bid_place(user=user, lot=seen, amount=amount)
                        db.session.commit()
                        with lock:
                            accepted.append((user_id, amount))
                    except DomainError as err:
                        db.session.rollback()
                        with lock:
                            refused.append(err.message)
                    db.session.expire_all()
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    db.session.commit()  # the test's own transaction ends: it holds no lock while the threads bid
    started = time.monotonic()
    threads = [threading.Thread(target=bidder, args=(uid, n)) for n, uid in enumerate(user_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    elapsed = time.monotonic() - started
    assert not errors, errors[:3]
    assert len(accepted) + len(refused) == BIDDERS * BIDS_EACH
    assert len(accepted) >= 20, (len(accepted), refused[:5])  # the race did happen and many bids went through
    bids = _check_history(lot_id, inc, starting)
    assert len(bids) == len(accepted)
    assert sorted(b.amount for b in bids) == sorted(a for _, a in accepted)
    assert all(m.startswith(("出价不能低于", "贵单位已是当前最高出价方")) for m in refused), set(refused)
    with bidding.app_context():
        db.engine.dispose()
    print(f"{BIDDERS}x{BIDS_EACH} bids in {elapsed:.1f}s: {len(accepted)} accepted, {len(refused)} refused")


def test_proxies_and_bids_at_once_keep_the_history_intact(app, world, database_url, tmp_path):
    """Proxy ceilings set while others bid: every answer of a proxy is still one increment above the bid before."""
    users = bidder_accounts(world, 12)
    lot = make_lot(world, bidders=[u.org for u in users], increment=Decimal("500.00"))
    lot_id, user_ids = lot.id, [u.id for u in users]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(user_ids))
    bidding = _bidding_app(database_url, tmp_path)

    def bidder(n: int, user_id: int) -> None:
        rnd = random.Random(n)
        try:
            with bidding.app_context():
                barrier.wait(timeout=60)
                for i in range(10):
                    user, seen = _read(lambda: (db.session.get(User, user_id), db.session.get(AuctionLot, lot_id)))
                    base = seen.current_price or seen.starting_price
                    try:
                        if n % 3 == 0 and i % 3 == 0:
                            services.proxy_set(user=user, lot=seen, ceiling=base + Decimal(500 * rnd.randint(2, 40)))
                        else:
                            services.bid_place(user=user, lot=seen, amount=base + Decimal(500 * rnd.randint(1, 3)))
                        db.session.commit()
                    except DomainError:
                        db.session.rollback()
                    db.session.expire_all()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    db.session.commit()
    threads = [threading.Thread(target=bidder, args=(n, uid)) for n, uid in enumerate(user_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    with bidding.app_context():
        db.engine.dispose()
    assert not errors, errors[:3]
    bids = _check_history(lot_id, Decimal("500.00"), Decimal("100000.00"))
    assert any(b.kind == "proxy" for b in bids)


def test_the_same_bid_posted_by_several_bidders_at_once_is_accepted_once(app, world):
    users = bidder_accounts(world, 6)
    lot = make_lot(world, bidders=[u.org for u in users])
    clients = []
    for u in users:
        c = app.test_client()
        login(c, u.username)
        clients.append(c)
    tokens = [csrf_token(c) for c in clients]

    class Poster:
        def __init__(self, client, token):
            self.client, self.token = client, token

        def post(self, url, data):
            return self.client.post(url, data={**data, "csrf_token": self.token})

    statuses = post_together(app, [Poster(c, t) for c, t in zip(clients, tokens)],
                             f"/auctions/lots/{lot.id}/bid", {"amount": "100000"})
    assert statuses.count(302) == 1 and statuses.count(409) == 5, statuses
    bids = _check_history(lot.id, lot.increment, lot.starting_price)
    assert len(bids) == 1 and bids[0].amount == Decimal("100000.00")
