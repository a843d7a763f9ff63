"""Both libraries: the status transition table over HTTP, visibility, contacts, browsing filters, exact budgets."""
from __future__ import annotations

import itertools
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import LISTING_MODELS, Achievement, Demand, Field, ListingEvent
from tests import factories
from tests.helpers import Poster, achievement_form, assert_refused, client_for, count, demand_form, is_login_redirect

@pytest.fixture
def login_as(app, world):
    """Overrides the conftest fixture: a real server-side session without a scrypt check per sign-in."""
    return lambda name: client_for(app, getattr(world.users, name))


STATUSES = ("draft", "pending", "published", "returned", "done", "closed")

# The specification, written out independently of market.listings.services.TRANSITIONS:
# (from, to) -> who may make the move. "owner" is the publishing organisation; "reviewer" an official
# whose region contains the listing's, or an admin.
ALLOWED = {
    ("draft", "pending"): "owner",
    ("returned", "pending"): "owner",
    ("pending", "draft"): "owner",
    ("published", "draft"): "owner",
    ("pending", "published"): "reviewer",
    ("pending", "returned"): "reviewer",
    ("published", "done"): "owner",
    ("draft", "closed"): "owner",
    ("returned", "closed"): "owner",
    ("published", "closed"): "owner",
}
# every move a user can ask for over HTTP: action -> (target status, route kind, extra form data)
ACTIONS = {
    "submit": ("pending", "owner", {}),
    "withdraw": ("draft", "owner", {}),
    "close": ("closed", "owner", {}),
    "done": ("done", "owner", {}),
    "publish": ("published", "review", {"decision": "publish"}),
    "return": ("returned", "review", {"decision": "return"}),
}
PATH = {"demand": "demands", "achievement": "achievements"}


def _actors(world, kind):
    """Who plays which part for a listing of this kind (demands sit in county A's town, results on the city)."""
    u = world.users
    if kind == "demand":
        parts = {"owner": u.enterprise, "other_org": u.enterprise_b, "reviewer": u.official, "foreign_official": u.official_b}
    else:
        parts = {"owner": u.institution, "other_org": u.enterprise, "reviewer": u.city_official, "foreign_official": u.official}
    return {**parts, "admin": u.admin, "broker": u.broker, "unverified": u.unverified, "anonymous": None}


def _make(world, kind, status, **kw):
    owner = world.users.enterprise if kind == "demand" else world.users.institution
    maker = factories.demand if kind == "demand" else factories.achievement
    obj = maker(owner=owner, field=world.fields["materials"], status=status, **kw)
    db.session.commit()
    return obj


def _events(kind, listing_id):
    return db.session.scalars(
        select(ListingEvent).where(ListingEvent.kind == kind, ListingEvent.listing_id == listing_id).order_by(ListingEvent.id)
    ).all()


def _allowed(from_status, to, part):
    who = ALLOWED.get((from_status, to))
    if who == "owner":
        return part == "owner"
    if who == "reviewer":
        return part in ("reviewer", "admin")
    return False


@pytest.mark.parametrize("kind", ["demand", "achievement"])
def test_the_whole_transition_table_over_http(world, app, login_as, kind):
    actors = _actors(world, kind)
    names = {v.username: k for k, v in vars(world.users).items()}
    posters = {}
    for part, user in actors.items():
        client = login_as(names[user.username]) if user else app.test_client()
        posters[part] = Poster(client)
    model = LISTING_MODELS[kind]
    listings = {status: _make(world, kind, status) for status in STATUSES}
    done = refused = 0
    for from_status in STATUSES:
        for action, (to, route, extra) in ACTIONS.items():
            for part, p in posters.items():
                listing = listings[from_status]
                url = (f"/{PATH[kind]}/{listing.id}/{action}" if route == "owner"
                       else f"/review/{PATH[kind]}/{listing.id}")
                reason = f"理由：{action} by {part}"
                before_events = len(_events(kind, listing.id))
                resp = p.post(url, {**extra, "reason": reason})
                db.session.expire_all()
                row = db.session.get(model, listing.id)
                case = (kind, from_status, action, part, resp.status_code)
                if _allowed(from_status, to, part):
                    assert resp.status_code == 302 and not is_login_redirect(resp), case
                    assert row.status == to, case
                    events = _events(kind, listing.id)
                    assert len(events) == before_events + 1, case
                    e = events[-1]
                    user = actors[part]
                    assert (e.actor_id, e.from_status, e.to_status, e.reason) == (user.id, from_status, to, reason), case
                    if to == "published":
                        assert row.published_at is not None
                    if to == "returned":
                        assert row.return_reason == reason
                    done += 1
                    listings[from_status] = _make(world, kind, from_status)  # a fresh one for the next case
                else:
                    if part == "anonymous":
                        assert is_login_redirect(resp), case
                    else:
                        assert 400 <= resp.status_code < 500, case
                    assert row.status == from_status, case
                    assert len(_events(kind, listing.id)) == before_events, case
                    refused += 1
    # every allowed move was made by its actor: 10 moves, two of them by both the reviewer and the admin
    assert done == sum(2 if who == "reviewer" else 1 for who in ALLOWED.values()) == 12
    assert refused == len(STATUSES) * len(ACTIONS) * len(posters) - done


def test_the_table_matches_the_service(app):
    from market.listings.services import TRANSITIONS

    assert TRANSITIONS == ALLOWED


def test_create_both_kinds_over_http(world, login_as):
    p = Poster(login_as("enterprise"))
    resp = p.post("/demands/new", demand_form(world, contact_email="li@example.cn"))
    assert resp.status_code == 302, assert_refused(resp)
    d = db.session.scalar(select(Demand))
    assert (d.status, d.org_id, d.owner_id, d.region_id) == ("draft", world.orgs.ent_a.id, world.users.enterprise.id,
                                                             world.regions["town_a"].id)
    assert d.budget == Decimal("125000.00") and d.contact_email == "li@example.cn"
    assert [(e.from_status, e.to_status) for e in _events("demand", d.id)] == [(None, "draft")]
    p = Poster(login_as("institution"))
    resp = p.post("/achievements/new", {**achievement_form(world), "then": "submit"})
    assert resp.status_code == 302, assert_refused(resp)
    a = db.session.scalar(select(Achievement))
    assert a.status == "pending" and a.price == Decimal("800000.00") and a.maturity == 6 and a.mode_list == ["transfer", "license"]
    assert [(e.from_status, e.to_status) for e in _events("achievement", a.id)] == [(None, "draft"), ("draft", "pending")]


def test_only_the_owning_role_creates(world, login_as):
    for role, url in (("institution", "/demands/new"), ("broker", "/demands/new"), ("official", "/demands/new"),
                      ("enterprise", "/achievements/new"), ("admin", "/achievements/new")):
        p = Poster(login_as(role))
        data = demand_form(world) if "demands" in url else achievement_form(world)
        assert p.get(url).status_code == 403
        assert p.post(url, data).status_code == 403
    assert count(Demand) == count(Achievement) == 0


def test_unverified_org_saves_drafts_but_cannot_submit(world, login_as):
    p = Poster(login_as("unverified"))
    resp = p.post("/demands/new", {**demand_form(world), "then": "submit"})
    assert_refused(resp, "单位尚未通过认证", codes=(400,))
    assert count(Demand) == 0 and count(ListingEvent) == 0
    resp = p.post("/demands/new", demand_form(world))
    assert resp.status_code == 302
    d = db.session.scalar(select(Demand))
    assert d.status == "draft" and d.org_id == world.orgs.unverified.id
    resp = p.post(f"/demands/{d.id}/submit")
    assert_refused(resp, "单位尚未通过认证", codes=(403,))
    db.session.expire_all()
    assert db.session.get(Demand, d.id).status == "draft"
    assert "单位认证通过后可提交审核" in p.get(f"/demands/{d.id}").get_data(as_text=True)
    # once verified, the same draft goes to review
    world.orgs.unverified.status = "verified"
    db.session.commit()
    assert p.post(f"/demands/{d.id}/submit").status_code == 302
    db.session.expire_all()
    assert db.session.get(Demand, d.id).status == "pending"


@pytest.mark.parametrize("kind", ["demand", "achievement"])
def test_return_needs_a_reason_that_the_owner_sees(world, login_as, kind):
    listing = _make(world, kind, "pending")
    reviewer = Poster(login_as("official" if kind == "demand" else "city_official"))
    url = f"/review/{PATH[kind]}/{listing.id}"
    for blank in ("", "   ", "\n"):
        resp = reviewer.post(url, {"decision": "return", "reason": blank})
        assert_refused(resp, "请填写退回理由", codes=(400,))
    db.session.expire_all()
    assert db.session.get(LISTING_MODELS[kind], listing.id).status == "pending"
    assert reviewer.post(url, {"decision": "return", "reason": "请补充技术指标的测试条件"}).status_code == 302
    db.session.expire_all()
    row = db.session.get(LISTING_MODELS[kind], listing.id)
    assert row.status == "returned" and row.return_reason == "请补充技术指标的测试条件"
    owner = Poster(login_as("enterprise" if kind == "demand" else "institution"))
    page = owner.get(f"/{PATH[kind]}/{listing.id}").get_data(as_text=True)
    assert "退回理由：请补充技术指标的测试条件" in page
    assert "请补充技术指标的测试条件" in owner.get(f"/{PATH[kind]}/{listing.id}/edit").get_data(as_text=True)
    other = Poster(login_as("enterprise_b"))
    assert other.get(f"/{PATH[kind]}/{listing.id}").status_code == 404


def test_unknown_review_decision_is_refused(world, login_as):
    d = _make(world, "demand", "pending")
    resp = Poster(login_as("official")).post(f"/review/demands/{d.id}", {"decision": "approve-all"})
    assert_refused(resp, "请选择审核结果", codes=(400,))
    db.session.expire_all()
    assert db.session.get(Demand, d.id).status == "pending"


def test_editing_a_published_listing_keeps_it_public_until_the_change_is_approved(world, app, login_as):
    """The change waits for review (tests/test_pending_edits.py has the rest); the published text stays public."""
    d = _make(world, "demand", "published", title="已发布的导电膜玻璃需求")
    anon = app.test_client()
    p = Poster(login_as("enterprise"))
    resp = p.post(f"/demands/{d.id}/edit", demand_form(world, title="修改后的导电膜玻璃需求"))
    assert resp.status_code == 302, assert_refused(resp)
    db.session.expire_all()
    row = db.session.get(Demand, d.id)
    assert row.status == "published" and row.title == "已发布的导电膜玻璃需求"
    e = _events("demand", d.id)[-1]
    assert (e.from_status, e.to_status, e.actor_id) == ("published", "published", world.users.enterprise.id)
    assert "已发布的导电膜玻璃需求" in anon.get(f"/demands/{d.id}").get_data(as_text=True)
    assert "已发布的导电膜玻璃需求" in anon.get("/demands").get_data(as_text=True)


def test_editing_a_draft_keeps_it_a_draft_and_others_cannot_edit(world, login_as):
    d = _make(world, "demand", "draft")
    p = Poster(login_as("enterprise"))
    assert p.post(f"/demands/{d.id}/edit", demand_form(world, budget="", negotiable="y")).status_code == 302
    db.session.expire_all()
    row = db.session.get(Demand, d.id)
    assert row.status == "draft" and row.budget is None
    for role, code in (("enterprise_b", 404), ("institution", 404), ("official", 403), ("admin", 403), ("broker", 404)):
        intruder = Poster(login_as(role))
        assert intruder.get(f"/demands/{d.id}/edit").status_code == code, role
        assert intruder.post(f"/demands/{d.id}/edit", demand_form(world, title="被他人篡改的标题内容")).status_code == code, role
    db.session.expire_all()
    assert db.session.get(Demand, d.id).title != "被他人篡改的标题内容"


HIDDEN = ("draft", "pending", "returned", "closed")


@pytest.mark.parametrize("kind", ["demand", "achievement"])
def test_unpublished_listings_are_invisible_to_the_public_and_other_orgs(world, app, login_as, kind):
    rows = {s: _make(world, kind, s, title=f"状态为{s}的条目标题") for s in STATUSES}
    owner_name = "enterprise" if kind == "demand" else "institution"
    others = ["enterprise_b", "broker", "unverified", "institution" if kind == "demand" else "enterprise"]
    viewers = {"anonymous": app.test_client(), **{name: login_as(name) for name in others}}
    for name, c in viewers.items():
        browse = c.get(f"/{PATH[kind]}").get_data(as_text=True)
        for status, row in rows.items():
            resp = c.get(f"/{PATH[kind]}/{row.id}")
            if status in HIDDEN:
                assert resp.status_code == 404, (name, status)
                assert f"状态为{status}的条目标题" not in browse, (name, status)
            else:
                assert resp.status_code == 200, (name, status)
                assert f"状态为{status}的条目标题" in browse, (name, status)
        assert c.get(f"/{PATH[kind]}/999999").status_code == 404
    owner = login_as(owner_name)
    mine = owner.get(f"/my/{PATH[kind]}").get_data(as_text=True)
    for status, row in rows.items():
        assert owner.get(f"/{PATH[kind]}/{row.id}").status_code == 200
        assert f"状态为{status}的条目标题" in mine
    # another organisation's "mine" list never shows them (an enterprise has no list of results at all)
    other_owner = login_as("enterprise_b" if kind == "demand" else "enterprise")
    resp = other_owner.get(f"/my/{PATH[kind]}")
    assert resp.status_code == (200 if kind == "demand" else 403)
    assert "状态为draft的条目标题" not in resp.get_data(as_text=True)


CONTACT = "0552-7654321"


@pytest.mark.parametrize("kind", ["demand", "achievement"])
def test_private_contacts(world, app, login_as, kind):
    phone = CONTACT if kind == "demand" else "0551-1234567"
    private = _make(world, kind, "published", contact_public=False)
    public = _make(world, kind, "published", contact_public=True)
    sees = {"owner": "enterprise" if kind == "demand" else "institution",
            "reviewer": "official" if kind == "demand" else "city_official", "admin": "admin"}
    hidden = ["enterprise_b", "broker", "official_b" if kind == "demand" else "official",
              "institution" if kind == "demand" else "enterprise"]
    anon = app.test_client()
    for c, name, should_see in [(anon, "anonymous", False)] + [(login_as(n), n, False) for n in hidden] + \
                               [(login_as(n), n, True) for n in sees.values()]:
        page = c.get(f"/{PATH[kind]}/{private.id}").get_data(as_text=True)
        assert (phone in page) is should_see, name
        if not should_see:
            assert "联系方式在发布方接受您的意向后显示" in page
        assert phone in c.get(f"/{PATH[kind]}/{public.id}").get_data(as_text=True), name
        assert phone not in c.get(f"/{PATH[kind]}").get_data(as_text=True)  # never on the list


def _titles(resp) -> set[str]:
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    results = page.split('id="results"', 1)[1]
    return set(re.findall(r'<h5 class="mb-1"><a href="[^"]+">([^<]+)</a>', results))


def test_browse_filters_demands(world, app):
    u, f = world.users, world.fields
    specs = {
        "需求甲 镇里五万": dict(owner=u.enterprise, field=f["materials"], budget=Decimal("50000"), modes=["development"]),
        "需求乙 五河一百二十万": dict(owner=u.enterprise_b, field=f["software"], budget=Decimal("1200000"), modes=["transfer"]),
        "需求丙 五河面议": dict(owner=u.enterprise_b, field=f["materials"], budget=None, modes=["consulting"]),
        "需求丁 正好十万": dict(owner=u.enterprise, field=f["software"], budget=Decimal("100000"), modes=["development", "transfer"]),
        "需求戊 五百万": dict(owner=u.enterprise, field=f["materials"], budget=Decimal("5000000"), modes=["service"]),
        "需求己 草稿不显示": dict(owner=u.enterprise, field=f["materials"], budget=Decimal("50000"), status="draft"),
    }
    for title, spec in specs.items():
        modes = spec.pop("modes", ["development"])
        d = factories.demand(title=title, status=spec.pop("status", "published"), **spec)
        d.set_modes(modes)
    db.session.commit()
    c = app.test_client()
    r = world.regions
    expect = {
        "": {"需求甲 镇里五万", "需求乙 五河一百二十万", "需求丙 五河面议", "需求丁 正好十万", "需求戊 五百万"},
        "?field=04": {"需求甲 镇里五万", "需求丙 五河面议", "需求戊 五百万"},
        "?field=04.01": {"需求甲 镇里五万", "需求丙 五河面议", "需求戊 五百万"},
        "?field=01": {"需求乙 五河一百二十万", "需求丁 正好十万"},
        "?field=0": set(),
        f"?region={r['county_a'].id}": {"需求甲 镇里五万", "需求丁 正好十万", "需求戊 五百万"},  # town below the county
        f"?region={r['town_a'].id}": {"需求甲 镇里五万", "需求丁 正好十万", "需求戊 五百万"},
        f"?region={r['county_b'].id}": {"需求乙 五河一百二十万", "需求丙 五河面议"},
        f"?region={r['town_b'].id}": set(),
        f"?region={r['city'].id}": {"需求甲 镇里五万", "需求乙 五河一百二十万", "需求丙 五河面议", "需求丁 正好十万", "需求戊 五百万"},
        "?mode=transfer": {"需求乙 五河一百二十万", "需求丁 正好十万"},
        "?mode=service": {"需求戊 五百万"},
        "?band=negotiable": {"需求丙 五河面议"},
        "?band=0-10": {"需求甲 镇里五万"},
        "?band=10-50": {"需求丁 正好十万"},
        "?band=100-500": {"需求乙 五河一百二十万"},
        "?band=500%2B": {"需求戊 五百万"},
        f"?field=04&region={r['county_b'].id}&band=negotiable": {"需求丙 五河面议"},
        f"?field=04&region={r['county_a'].id}&mode=development": {"需求甲 镇里五万"},
    }
    for query, titles in expect.items():
        assert _titles(c.get("/demands" + query)) == titles, query


def test_browse_filters_achievements_by_maturity_and_price(world, app):
    u, f = world.users, world.fields
    a1 = factories.achievement(owner=u.institution, field=f["materials"], status="published", title="成果一 成熟度六", maturity=6,
                               price=Decimal("80000"))
    a2 = factories.achievement(owner=u.institution, field=f["software"], status="published", title="成果二 成熟度三", maturity=3,
                               price=None)
    a2.set_modes(["equity"])
    db.session.commit()
    c = app.test_client()
    assert _titles(c.get("/achievements?maturity=3")) == {"成果二 成熟度三"}
    assert _titles(c.get("/achievements?maturity=6&band=0-10")) == {"成果一 成熟度六"}
    assert _titles(c.get("/achievements?band=negotiable")) == {"成果二 成熟度三"}
    assert _titles(c.get("/achievements?mode=equity")) == {"成果二 成熟度三"}
    assert _titles(c.get("/achievements?mode=license")) == {"成果一 成熟度六"}
    assert _titles(c.get("/achievements?field=01")) == {"成果二 成熟度三"}
    assert a1.id and a2.id


def _field_options(page) -> list[str]:
    select_html = re.search(r'<select name="field".*?</select>', page.get_data(as_text=True), re.S).group(0)
    return re.findall(r'<option value="([^"]+)"', select_html)


@pytest.mark.parametrize("path", ["/demands", "/achievements"])
def test_browse_lists_top_level_fields_in_the_admins_order(world, app, path):
    materials, software = world.fields["root_materials"], world.fields["software"].parent
    materials.sort, software.sort = 1, 2  # by code 01 would come before 04
    db.session.add(Field(code="09", name="现代农业", sort=0))
    db.session.commit()
    c = app.test_client()
    assert _field_options(c.get(path)) == ["09", "04", "01"]
    materials.sort = 3
    db.session.commit()
    assert _field_options(c.get(path)) == ["09", "01", "04"]


ODD_QUERIES = [
    "page=-1", "page=abc", "page=999999", "page=0", "page=1.5", "page=", "page=99999999999999999999", "page=%00",
    "region=abc", "region=-3", "region=99999999999999", "field=%27%3B--", "band=xx", "maturity=abc", "mode=%E4%B8%AD",
    "page=2&page=3", "field=" + "0" * 5000, "region=%ED%A0%80", "status=%00", "kind=x", "listing_id=1",
    "_scheme=javascript", "_external=1", "_anchor=x", "_method=POST", "endpoint=x", "page=2&kind=achievement",
]


def test_odd_query_parameters_give_a_page(world, app, login_as):
    app.config["PAGE_SIZE"] = 1  # so that the pager (which rebuilds the URL from the query) is on the page
    for i in range(3):
        factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published")
    db.session.commit()
    clients = {"anonymous": app.test_client(), "enterprise": login_as("enterprise"), "official": login_as("official")}
    # the answer without odd parameters, which they must not change: the page, or sign in (302), or not this role's
    # page (403)
    expected = {
        "anonymous": {"/demands": 200, "/achievements": 200, "/review/": 302, "/my/demands": 302},
        "enterprise": {"/demands": 200, "/achievements": 200, "/review/": 403, "/my/demands": 200},
        "official": {"/demands": 200, "/achievements": 200, "/review/": 200, "/my/demands": 403},
    }
    problems = []
    for (name, c), path, query in itertools.product(clients.items(), ("/demands", "/achievements", "/review/", "/my/demands"),
                                                    ODD_QUERIES):
        resp = c.get(f"{path}?{query}")
        if resp.status_code != expected[name][path]:
            problems.append(f"{name} {path}?{query[:40]} -> {resp.status_code}")
    assert not problems, "\n".join(problems)


def test_pagination_pages_through_every_item(world, app):
    app.config["PAGE_SIZE"] = 2
    for i in range(5):
        factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published", title=f"分页需求{i}")
    db.session.commit()
    c = app.test_client()
    seen = set()
    for page in (1, 2, 3):
        titles = _titles(c.get(f"/demands?page={page}"))
        assert len(titles) == (2 if page < 3 else 1)
        seen |= titles
    assert seen == {f"分页需求{i}" for i in range(5)}
    assert _titles(c.get("/demands?page=999999")) == set()
    assert _titles(c.get("/demands?page=-1")) == _titles(c.get("/demands?page=1"))


def test_budget_in_wan_is_exact(world, login_as):
    p = Poster(login_as("enterprise"))
    resp = p.post("/demands/new", demand_form(world, budget="12.345678"))
    assert resp.status_code == 302, assert_refused(resp)
    d = db.session.scalar(select(Demand))
    assert d.budget == Decimal("123456.78")
    page = p.get(f"/demands/{d.id}").get_data(as_text=True)
    # 万元 with two decimals, and the exact yuan beside it in the detail view and in the tooltip
    assert 'title="123,456.78元">12.35万元' in page and "（123,456.78元）" in page
    assert p.post(f"/demands/{d.id}/edit", demand_form(world, budget="0.000001")).status_code == 302
    db.session.expire_all()
    assert db.session.get(Demand, d.id).budget == Decimal("0.01")
    assert db.session.scalar(select(func.sum(Demand.budget))) == Decimal("0.01")
    # the edit form shows the stored amount back in 万元, exactly
    assert 'value="0.000001"' in p.get(f"/demands/{d.id}/edit").get_data(as_text=True)


def test_extra_fields_cannot_move_a_listing(world, login_as):
    """org_id, owner_id, region_id, status and version in the body are ignored."""
    p = Poster(login_as("enterprise"))
    extra = {"org_id": world.orgs.ent_b.id, "owner_id": world.users.enterprise_b.id, "region_id": world.regions["county_b"].id,
             "status": "published", "version": "99", "published_at": "2020-01-01", "id": "777"}
    assert p.post("/demands/new", {**demand_form(world), **extra}).status_code == 302
    d = db.session.scalar(select(Demand))
    assert (d.org_id, d.owner_id, d.region_id, d.status, d.version) == (
        world.orgs.ent_a.id, world.users.enterprise.id, world.regions["town_a"].id, "draft", 1)
    assert d.id != 777 and d.published_at is None
    assert p.post(f"/demands/{d.id}/edit", {**demand_form(world, title="修改后的标题足够长"), **extra}).status_code == 302
    db.session.expire_all()
    d = db.session.get(Demand, d.id)
    assert (d.org_id, d.owner_id, d.region_id, d.status) == (world.orgs.ent_a.id, world.users.enterprise.id,
                                                           world.regions["town_a"].id, "draft")
    assert d.version == 2 and d.title == "修改后的标题足够长"


def test_listing_events_are_shown_only_to_owner_and_reviewer(world, login_as):
    d = _make(world, "demand", "pending")
    db.session.add(ListingEvent(kind="demand", listing_id=d.id, actor_id=world.users.enterprise.id, from_status="draft",
                                to_status="pending", reason="内部备注文字"))
    d.status = "published"
    db.session.commit()
    assert "内部备注文字" in login_as("enterprise").get(f"/demands/{d.id}").get_data(as_text=True)
    assert "内部备注文字" in login_as("official").get(f"/demands/{d.id}").get_data(as_text=True)
    assert "内部备注文字" not in login_as("enterprise_b").get(f"/demands/{d.id}").get_data(as_text=True)
