"""Subscriptions (issue 17 item 2): a saved search, or a field and region, receives new published listings as a
notice (and in the digest); not an unpublished one, not one outside its region or words; one's own only."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from market.database import write_intent
from market.extensions import db
from market.listings.services import listing_transition
from market.models import Notification, Subscription
from tests import factories
from tests.helpers import post


@pytest.fixture(autouse=True)
def _reads_do_not_lock(app):
    """The test's own reads begin deferred (SQLite): jobs write from sessions of their own meanwhile."""
    token = write_intent.set(False)
    yield
    write_intent.reset(token)



def hits(user) -> list[Notification]:
    db.session.commit()
    return list(db.session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.kind == "subscription_new").order_by(Notification.id)))


def publish(listing, official):
    listing_transition(listing=listing, user=official, to="published")
    db.session.commit()


def test_a_saved_search_receives_new_published_needs_of_its_region_only(world, login_as, app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False
    users, materials = world.users, world.fields["materials"]
    c = login_as("institution")
    page = c.get("/search?q=导电膜&kind=demand").get_data(as_text=True)
    assert 'id="subscribe-form"' in page
    resp = post(c, "/notifications/subscriptions/new",
                {"q": "导电膜", "kind": "demand", "region": str(world.regions["county_a"].id)})
    assert resp.status_code == 302
    assert post(c, "/notifications/subscriptions/new",  # saved twice: kept once
                {"q": "导电膜", "kind": "demand", "region": str(world.regions["county_a"].id)}).status_code == 302
    [sub] = db.session.scalars(select(Subscription)).all()
    assert sub.user_id == users.institution.id
    assert "“导电膜” · 怀远县（技术需求）" in c.get("/notifications/subscriptions").get_data(as_text=True)

    inside = factories.demand(owner=users.enterprise, field=materials, status="pending", title="寻求高透光导电膜镀膜技术")
    unpublished = factories.demand(owner=users.enterprise, field=materials, status="pending",
                                   title="寻求柔性导电膜量产工艺")
    outside = factories.demand(owner=users.enterprise_b, field=materials, status="pending",
                               title="寻求导电膜玻璃切割设备")
    other_words = factories.demand(owner=users.enterprise, field=materials, status="pending", title="寻求锂电池隔膜涂覆工艺",
                                   keywords="锂电池,隔膜", description="隔膜涂覆均匀性差。", indicators="厚度偏差≤1μm")
    db.session.commit()
    publish(inside, users.official)
    [hit] = hits(users.institution)
    assert "寻求高透光导电膜镀膜技术" in hit.text and hit.url == f"/demands/{inside.id}"
    assert hit.mail == ""  # no mail server configured here: in the site only

    listing_transition(listing=unpublished, user=users.official, to="returned", reason="请补充指标")
    db.session.commit()
    publish(outside, users.official_b)
    publish(other_words, users.official)
    assert len(hits(users.institution)) == 1
    # the owner's own organisation is not told about its own listing
    assert not db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "subscription_new", Notification.user_id == users.enterprise.id))


def test_a_field_and_region_from_the_list_page(world, login_as, app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False
    c = login_as("enterprise_b")
    page = c.get(f"/achievements?field=04&region={world.regions['city'].id}").get_data(as_text=True)
    assert 'id="subscribe-form"' in page
    assert post(c, "/notifications/subscriptions/new",
                {"kind": "achievement", "field": "04", "region": str(world.regions["city"].id)}).status_code == 302
    result = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="pending")
    software = factories.achievement(owner=world.users.institution, field=world.fields["software"], status="pending",
                                     title="工业软件低代码平台")
    db.session.commit()
    publish(result, world.users.city_official)
    publish(software, world.users.city_official)
    [hit] = hits(world.users.enterprise_b)
    assert result.title in hit.text


def test_subscriptions_are_ones_own(world, login_as, client):
    mine = Subscription(user_id=world.users.enterprise.id, kind="all", q="导电膜", field_code="")
    db.session.add(mine)
    db.session.commit()
    other = login_as("enterprise_b")
    assert "导电膜" not in other.get("/notifications/subscriptions").get_data(as_text=True)
    assert post(other, f"/notifications/subscriptions/{mine.id}/delete").status_code == 404
    assert db.session.get(Subscription, mine.id) is not None
    # nothing to subscribe to, an unknown field: a clear 400, nothing stored
    for form in ({"q": " "}, {"field": "zz"}, {"region": "999999"}):
        resp = post(other, "/notifications/subscriptions/new", form)
        assert resp.status_code == 400 and 'id="form-errors"' in resp.get_data(as_text=True), form
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 1
    owner = login_as("enterprise")
    mine_id = mine.id
    assert post(owner, f"/notifications/subscriptions/{mine_id}/delete").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 0
    # anonymous visitors get a sign-in link, not a form (the page stays cacheable)
    page = client.get("/search?q=导电膜").get_data(as_text=True)
    assert 'id="subscribe-form"' not in page and 'id="subscribe"' in page
