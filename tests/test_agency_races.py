"""Two first saves of a broker's profile or an agency's service list at the same moment: each used to add the
profile row, and the second insert's unique violation was a 500 on PostgreSQL. The owner's row lock serialises
them (market/agencies/services.py); both answers are the normal redirect and one row is kept."""
from __future__ import annotations

from sqlalchemy import delete, select

from market.extensions import db
from market.models import AgencyProfile, BrokerProfile
from tests.helpers import Poster, client_for, count, post_together

ROUNDS = 6


def test_two_first_saves_of_a_broker_profile_keep_one(app, world):
    broker = world.users.broker
    posters = [Poster(client_for(app, broker)) for _ in range(2)]
    for n in range(ROUNDS):
        db.session.execute(delete(BrokerProfile).where(BrokerProfile.user_id == broker.id))
        got = post_together(app, posters, "/brokers/me", {"public": "y", "intro": f"第{n + 1}轮简介"})
        assert got == [302, 302], (n, got)
        assert count(BrokerProfile, BrokerProfile.user_id == broker.id) == 1
    assert db.session.scalar(select(BrokerProfile.intro).where(BrokerProfile.user_id == broker.id)) == f"第{ROUNDS}轮简介"


def test_two_first_saves_of_an_agency_service_list_keep_one(app, world):
    agency = world.orgs.agency
    posters = [Poster(client_for(app, world.users.broker)) for _ in range(2)]
    for n in range(ROUNDS):
        db.session.execute(delete(AgencyProfile).where(AgencyProfile.org_id == agency.id))
        got = post_together(app, posters, "/agencies/services", {"services": ["transfer", "ip"], "note": f"第{n + 1}轮"})
        assert got == [302, 302], (n, got)
        assert count(AgencyProfile, AgencyProfile.org_id == agency.id) == 1
