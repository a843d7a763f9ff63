"""Listing transitions are read-then-write: concurrent decisions on one listing make exactly one move.

On PostgreSQL the services lock the row (SELECT ... FOR UPDATE) and re-read it; on SQLite a writing
request holds the write lock from its first read (BEGIN IMMEDIATE). Either way the second of two
simultaneous decisions sees the first one's outcome and is refused.
"""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import select

from market.errors import DomainError
from market.extensions import db
from market.models import Demand, ListingEvent
from market.review.services import listing_review
from tests import factories
from tests.helpers import app_config, csrf_token

ON_POSTGRES = os.environ.get("MARKET_TEST_DB") == "postgres"


def _events(listing_id: int) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [tuple(r) for r in db.session.execute(
        select(ListingEvent.from_status, ListingEvent.to_status)
        .where(ListingEvent.kind == "demand", ListingEvent.listing_id == listing_id)
        .order_by(ListingEvent.id)
    )]


def test_two_officials_deciding_at_once_make_one_decision(app, world, login_as):
    listings = [factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="pending",
                                 title=f"同时审核测试需求{i}号：高导热陶瓷基板") for i in range(6)]
    db.session.commit()
    ids = [d.id for d in listings]
    officials = {"publish": login_as("official"), "return": login_as("city_official")}
    tokens = {decision: csrf_token(client) for decision, client in officials.items()}
    results: dict[tuple[int, str], int] = {}
    barrier = threading.Barrier(2)

    def decide(listing_id: int, decision: str) -> None:
        with app.app_context():  # each thread: its own session, as in a worker
            barrier.wait(timeout=30)
            resp = officials[decision].post(f"/review/demands/{listing_id}", data={
                "decision": decision, "reason": "资料不全，请补充技术指标", "csrf_token": tokens[decision]})
            results[(listing_id, decision)] = resp.status_code

    for listing_id in ids:
        threads = [threading.Thread(target=decide, args=(listing_id, d)) for d in ("publish", "return")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        barrier.reset()

    for listing_id in ids:
        statuses = sorted([results[(listing_id, "publish")], results[(listing_id, "return")]])
        assert statuses == [302, 409], (listing_id, statuses)
        events = _events(listing_id)
        assert len(events) == 1 and events[0][0] == "pending", events
        row = db.session.get(Demand, listing_id)
        assert row.status == events[0][1]  # the one decision recorded is the one that stands
        assert (row.published_at is not None) == (row.status == "published")


@pytest.mark.skipif(not ON_POSTGRES, reason="on SQLite a writing request holds the write lock from its first read "
                                            "(BEGIN IMMEDIATE), so another decision cannot commit in between")
def test_a_decision_made_on_a_stale_read_is_refused(app, world, database_url, tmp_path):
    """Session A read the listing as pending; session B published it and committed; A's return is refused."""
    from market import create_app
    listing = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="pending",
                               title="过期读取测试需求：高导热陶瓷基板")
    db.session.commit()
    official_id, city_official_id, listing_id = world.users.official.id, world.users.city_official.id, listing.id

    stale = db.session.get(Demand, listing_id)  # A's read, no lock
    assert stale.status == "pending"

    other = create_app(app_config(database_url, tmp_path / "b"))
    with other.app_context():  # B: another worker, another connection
        from market.models import User

        listing_review(listing=db.session.get(Demand, listing_id), user=db.session.get(User, city_official_id),
                       decision="publish")
        db.session.commit()

    from market.models import User

    with pytest.raises(DomainError) as refused:
        listing_review(listing=stale, user=db.session.get(User, official_id), decision="return", reason="资料不全")
    assert refused.value.status_code == 409
    db.session.rollback()
    assert _events(listing_id) == [("pending", "published")]
    assert db.session.get(Demand, listing_id).status == "published"
