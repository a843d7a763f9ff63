"""Review: officials act on their region and everything below it, admins everywhere, nobody else at all."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import Achievement, Demand, ListingEvent, Organization
from tests import factories
from tests.helpers import Poster, assert_refused, client_for, is_login_redirect, snapshot


@pytest.fixture
def login_as(app, world):
    """Overrides the conftest fixture: a real server-side session without a scrypt check per sign-in."""
    return lambda name: client_for(app, getattr(world.users, name))


@pytest.fixture
def queue(world):
    """Pending work in every corner of the city: county A, county A's town, county B, county B's town, the city."""
    r, u, f = world.regions, world.users, world.fields
    ent_town_b = factories.user(role="enterprise", org=factories.org(region=r["town_b"], name="城关镇丙企业"), username="ent_tb")
    ent_county_a = factories.user(role="enterprise", org=factories.org(region=r["county_a"], name="怀远县丁企业"), username="ent_ca")
    q = SimpleNamespace(
        d_town_a=factories.demand(owner=u.enterprise, field=f["materials"], status="pending", title="审核甲 榴城镇的需求"),
        d_county_a=factories.demand(owner=ent_county_a, field=f["materials"], status="pending", title="审核乙 怀远县的需求"),
        d_county_b=factories.demand(owner=u.enterprise_b, field=f["materials"], status="pending", title="审核丙 五河县的需求"),
        d_town_b=factories.demand(owner=ent_town_b, field=f["materials"], status="pending", title="审核丁 城关镇的需求"),
        a_city=factories.achievement(owner=u.institution, field=f["materials"], status="pending", title="审核戊 市里的成果"),
        o_county_a=world.orgs.unverified,  # 怀远待认证企业
        o_town_a=factories.org(region=r["town_a"], status="pending", name="榴城镇待认证企业"),
        o_county_b=factories.org(region=r["county_b"], status="pending", name="五河县待认证企业"),
        o_town_b=factories.org(region=r["town_b"], status="pending", name="城关镇待认证企业"),
        o_city=factories.org(region=r["city"], org_type="university", status="pending", name="市里待认证大学"),
    )
    db.session.commit()
    return q


LISTINGS_IN = {  # who sees which pending listings
    "official": {"d_town_a", "d_county_a"},
    "official_b": {"d_county_b", "d_town_b"},
    "city_official": {"d_town_a", "d_county_a", "d_county_b", "d_town_b", "a_city"},
    "admin": {"d_town_a", "d_county_a", "d_county_b", "d_town_b", "a_city"},
}
ORGS_IN = {
    "official": {"o_county_a", "o_town_a"},
    "official_b": {"o_county_b", "o_town_b"},
    "city_official": {"o_county_a", "o_town_a", "o_county_b", "o_town_b", "o_city"},
    "admin": {"o_county_a", "o_town_a", "o_county_b", "o_town_b", "o_city"},
}
ALL_LISTINGS = set(LISTINGS_IN["admin"])
ALL_ORGS = set(ORGS_IN["admin"])


def _url(obj) -> str:
    return f"/review/{'demands' if isinstance(obj, Demand) else 'achievements'}/{obj.id}"


@pytest.mark.parametrize("reviewer", sorted(LISTINGS_IN))
def test_queue_shows_exactly_the_region(world, queue, login_as, reviewer):
    c = login_as(reviewer)
    page = c.get("/review/?kind=demand").get_data(as_text=True) + c.get("/review/?kind=achievement").get_data(as_text=True)
    for key in ALL_LISTINGS:
        title = getattr(queue, key).title
        assert (title in page) is (key in LISTINGS_IN[reviewer]), (reviewer, key)
    orgs_page = c.get("/review/orgs").get_data(as_text=True)
    for key in ALL_ORGS:
        name = getattr(queue, key).name
        assert (name in orgs_page) is (key in ORGS_IN[reviewer]), (reviewer, key)


@pytest.mark.parametrize("reviewer", sorted(LISTINGS_IN))
def test_reviewer_decides_in_region_and_gets_404_outside(world, queue, login_as, reviewer):
    p = Poster(login_as(reviewer))
    user = getattr(world.users, reviewer)
    for i, key in enumerate(sorted(ALL_LISTINGS)):
        obj = getattr(queue, key)
        model = type(obj)
        decision = {"decision": "publish"} if i % 2 else {"decision": "return", "reason": "材料不全，请补充"}
        resp = p.post(_url(obj), decision)
        db.session.expire_all()
        row = db.session.get(model, obj.id)
        if key in LISTINGS_IN[reviewer]:
            assert resp.status_code == 302, (key, resp.status_code)
            assert row.status == ("published" if i % 2 else "returned")
            e = db.session.scalars(select(ListingEvent).where(ListingEvent.listing_id == obj.id,
                                                              ListingEvent.kind == obj.KIND)).all()[-1]
            assert e.actor_id == user.id and e.from_status == "pending"
        else:
            assert resp.status_code == 404, (key, resp.status_code)
            assert row.status == "pending"
            # nor can the reviewer see it
            path = f"/{'demands' if model is Demand else 'achievements'}/{obj.id}"
            assert p.get(path).status_code == 404
    for key in sorted(ALL_ORGS):
        obj = getattr(queue, key)
        resp = p.post(f"/review/orgs/{obj.id}", {"decision": "verify", "note": "营业执照已核验"})
        db.session.expire_all()
        row = db.session.get(Organization, obj.id)
        if key in ORGS_IN[reviewer]:
            assert resp.status_code == 302, (key, resp.status_code)
            assert (row.status, row.verified_by_id, row.review_note) == ("verified", user.id, "营业执照已核验")
            assert row.verified_at is not None
        else:
            assert resp.status_code == 404, (key, resp.status_code)
            assert (row.status, row.verified_by_id) == ("pending", None)


def test_reject_needs_a_note_and_verification_unlocks_submission(world, queue, login_as):
    p = Poster(login_as("official"))
    org_id = queue.o_county_a.id
    resp = p.post(f"/review/orgs/{org_id}", {"decision": "reject", "note": " "})
    assert_refused(resp, "请填写理由", codes=(400,))
    resp = p.post(f"/review/orgs/{org_id}", {"decision": "maybe"})
    assert_refused(resp, "请选择认证结果", codes=(400,))
    db.session.expire_all()
    assert db.session.get(Organization, org_id).status == "pending"
    assert p.post(f"/review/orgs/{org_id}", {"decision": "reject", "note": "营业执照已过期"}).status_code == 302
    db.session.expire_all()
    org = db.session.get(Organization, org_id)
    assert (org.status, org.review_note) == ("rejected", "营业执照已过期")
    assert "营业执照已过期" in p.get("/review/orgs?status=rejected").get_data(as_text=True)
    # the organisation's user still cannot submit; after verification it can
    d = factories.demand(owner=world.users.unverified, field=world.fields["materials"], status="draft")
    db.session.commit()
    owner = Poster(login_as("unverified"))
    assert owner.post(f"/demands/{d.id}/submit").status_code == 403
    assert p.post(f"/review/orgs/{org_id}", {"decision": "verify"}).status_code == 302
    assert owner.post(f"/demands/{d.id}/submit").status_code == 302
    db.session.expire_all()
    assert db.session.get(Demand, d.id).status == "pending"
    # and the county official now finds it in the queue
    assert d.title in p.get("/review/?kind=demand").get_data(as_text=True)


NOT_REVIEWERS = ["enterprise", "enterprise_b", "institution", "broker", "unverified"]


@pytest.mark.parametrize("role", NOT_REVIEWERS + ["anonymous"])
def test_everyone_else_is_refused_on_every_review_route(world, app, queue, login_as, role):
    c = app.test_client() if role == "anonymous" else login_as(role)
    p = Poster(c)
    before = snapshot()
    requests = [
        ("GET", "/review/", None),
        ("GET", "/review/?kind=achievement", None),
        ("GET", "/review/orgs", None),
        ("GET", "/review/orgs?status=verified", None),
        ("POST", _url(queue.d_town_a), {"decision": "publish"}),
        ("POST", _url(queue.d_county_b), {"decision": "return", "reason": "不行"}),
        ("POST", _url(queue.a_city), {"decision": "publish"}),
        ("POST", f"/review/orgs/{queue.o_county_a.id}", {"decision": "verify"}),
        ("POST", f"/review/orgs/{queue.o_county_b.id}", {"decision": "reject", "note": "不行"}),
        ("POST", f"/review/orgs/{world.orgs.ent_a.id}", {"decision": "reject", "note": "不行"}),
    ]
    # the review routes a role must never reach, whatever the object
    review_rules = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("review.")}
    assert review_rules >= {"review.queue", "review.orgs", "review.decide", "review.verify_org"}
    for method, url, data in requests:
        resp = c.get(url) if method == "GET" else p.post(url, data)
        if role == "anonymous":
            assert is_login_redirect(resp), (method, url, resp.status_code)
        else:
            assert resp.status_code == 403, (role, method, url, resp.status_code)
    assert snapshot() == before


def test_a_reviewer_cannot_act_on_listings_that_are_not_pending(world, queue, login_as):
    p = Poster(login_as("official"))
    draft = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="draft")
    db.session.commit()
    resp = p.post(_url(draft), {"decision": "publish"})
    assert resp.status_code == 409  # the listing is not in the state the decision applies to
    db.session.expire_all()
    assert db.session.get(Demand, draft.id).status == "draft"
    # the owner's transition routes are not a back door for reviewers either
    resp = p.post(f"/demands/{queue.d_town_a.id}/withdraw")
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(Demand, queue.d_town_a.id).status == "pending"


def test_review_queue_survives_odd_arguments(world, queue, login_as):
    c = login_as("city_official")
    for query in ("kind=bogus", "kind=", "page=-1", "page=abc", "page=999999", "status=%00", "kind=achievement&page=2"):
        assert c.get(f"/review/?{query}").status_code == 200, query
        assert c.get(f"/review/orgs?{query}").status_code == 200, query
    assert queue.a_city.title in c.get("/review/?kind=achievement").get_data(as_text=True)
    assert db.session.scalar(select(Achievement.status).where(Achievement.id == queue.a_city.id)) == "pending"
