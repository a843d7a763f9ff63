"""工作台 per role and the menu's badges (issue 17 item 3): each role's counts, nobody else's; 我的需求 with counts per
status and per row; the badges counted in one statement per family, once per request."""
from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select, update

from market.extensions import db
from market.matching.queries import for_listing, for_user
from market.models import Interest, Suggestion, Target, UserSession
from market.models.base import utcnow
from market.review.queries import china_today
from tests import factories
from tests.helpers import client_for, login

# what does not depend on the database kind runs once (the SQLite run); the counts themselves run on both
ONCE = pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                          reason="independent of the database kind: run once, in the SQLite run")


def _count(page: str, card_id: str) -> int:
    match = re.search(rf'id="{card_id}".*?class="[^"]*wb-count">(\d+)</div>', page, re.S)
    assert match, f"no card {card_id}"
    return int(match.group(1))


def _badges(page: str) -> dict[str, int]:
    """{menu label: badge number} of the navigation bar."""
    nav = page.split('<ul class="navbar-nav me-auto">', 1)[1].split("</ul>", 1)[0]
    return {label: int(n) for label, n in re.findall(
        r'<a class="nav-link"[^>]*>([^<]+?) <span class="badge[^"]*nav-badge" aria-hidden="true">(\d+)</span>', nav)}


def _previous_sign_in(user, days_ago: int) -> None:
    db.session.add(UserSession(id=f"old-{user.id}", user_id=user.id, ip="127.0.0.1",
                               created_at=utcnow() - timedelta(days=days_ago)))


def _age_suggestions(*new_pairs) -> None:
    """Every stored suggestion (the engine's too: jobs run at commit in the tests) made three days ago, except
    the given (need, result) pairs, made now."""
    db.session.execute(update(Suggestion).values(created_at=utcnow() - timedelta(days=3)))
    for demand, achievement in new_pairs:
        db.session.execute(update(Suggestion).where(Suggestion.demand_id == demand.id,
                                                    Suggestion.achievement_id == achievement.id)
                           .values(created_at=utcnow()))
    db.session.commit()


def _interest(*, to, from_user, achievement=None, demand=None, kind="interest", status="pending"):
    db.session.add(Interest(kind=kind, achievement_id=achievement.id if achievement else None,
                            demand_id=demand.id if demand else None, from_org_id=from_user.org_id,
                            from_user_id=from_user.id, to_org_id=to.id, message="希望合作", status=status))


@ONCE
def test_sign_in_lands_on_the_workbench_and_visitors_keep_the_home_page(app, world):
    client = app.test_client()
    assert client.get("/").status_code == 200
    resp = login(client, "ent_a")
    assert resp.headers["Location"].endswith("/workbench")
    assert client.get("/login").headers["Location"].endswith("/workbench")
    assert app.test_client().get("/workbench").status_code == 302  # anonymous: sign in first


def test_company_workbench_counts_its_own_listings_suggestions_and_interests(app, world):
    u, f = world.users, world.fields
    ent = u.enterprise
    published = factories.demand(owner=ent, field=f["materials"], status="published", title="已发布的需求")
    factories.demand(owner=ent, field=f["materials"], status="published", title="另一条已发布的需求")
    factories.demand(owner=ent, field=f["materials"], status="returned", title="被退回的需求")
    factories.demand(owner=ent, field=f["materials"], status="draft", title="草稿需求")
    theirs = factories.demand(owner=u.enterprise_b, field=f["materials"], status="returned", title="别家被退回的需求")
    old_result = factories.achievement(owner=u.institution, field=f["materials"], status="published", title="旧成果")
    new_result = factories.achievement(owner=u.institution, field=f["materials"], status="published", title="新成果")
    factories.suggestion(demand=published, achievement=old_result)
    factories.suggestion(demand=published, achievement=new_result)
    factories.suggestion(demand=theirs, achievement=new_result)  # another company's: not counted
    _interest(to=world.orgs.ent_a, from_user=u.institution, demand=published, kind="solution")
    _interest(to=world.orgs.ent_a, from_user=u.institution, demand=published, kind="solution", status="declined")
    _interest(to=world.orgs.uni, from_user=ent, achievement=new_result)  # waits for the university, not for ent_a
    _previous_sign_in(ent, days_ago=1)
    db.session.commit()
    _age_suggestions((published, new_result), (theirs, new_result))  # after the previous sign-in: new
    listed = db.session.scalar(select(func.count()).select_from(for_user(ent).subquery()))  # what /matching lists

    page = client_for(app, ent).get("/workbench").get_data(as_text=True)
    assert [_count(page, f"wb-status-{s}") for s in ("draft", "pending", "published", "returned", "done")] == [1, 0, 2, 1, 0]
    assert (_count(page, "wb-returned"), _count(page, "wb-new-suggestions"), _count(page, "wb-interests")) == (1, 1, 1)
    assert f"共 {listed} 条推荐" in page and listed >= 2 and "上次登录" in page
    assert _badges(page) == {"工作台": 3, "我的需求": 1, "推荐匹配": 1}

    # the other company and the university see their own figures only
    other = client_for(app, u.enterprise_b).get("/workbench").get_data(as_text=True)
    assert (_count(other, "wb-status-returned"), _count(other, "wb-status-published"), _count(other, "wb-interests")) == (1, 0, 0)
    uni = client_for(app, u.institution).get("/workbench").get_data(as_text=True)
    assert (_count(uni, "wb-status-published"), _count(uni, "wb-interests")) == (2, 1)
    assert "wb-review" not in uni and "wb-broker" not in uni


def test_my_listings_show_counts_per_status_and_per_row(app, world):
    u, f = world.users, world.fields
    need = factories.demand(owner=u.enterprise, field=f["materials"], status="published", title="有推荐的需求")
    factories.demand(owner=u.enterprise, field=f["materials"], status="returned", title="被退回的需求",
                     return_reason="联系方式缺失")
    factories.demand(owner=u.enterprise_b, field=f["materials"], status="published", title="别家的需求")
    for i in range(3):
        result = factories.achievement(owner=u.institution, field=f["materials"], status="published", title=f"成果{i}")
        factories.suggestion(demand=need, achievement=result)
    for author in (u.institution, u.enterprise_b):  # one 揭榜应答 per organisation
        _interest(to=world.orgs.ent_a, from_user=author, demand=need, kind="solution")
    draft = factories.achievement(owner=u.institution, field=f["materials"], status="draft", title="草稿成果")
    factories.suggestion(demand=need, achievement=draft)  # a private result is never counted as a suggestion
    db.session.commit()

    client = client_for(app, u.enterprise)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        page = client.get("/my/demands").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    tabs = dict(re.findall(r'data-status="(\w+)">(\d+)</span>', page))
    assert tabs == {"all": "2", "draft": "0", "pending": "0", "published": "1", "returned": "1", "closed": "0", "done": "0"}
    row = page.split(f'data-id="{need.id}"', 1)[1].split('class="card card-listing', 1)[0]
    panel = db.session.scalar(select(func.count()).select_from(for_listing(need).subquery()))  # its panel lists
    assert panel >= 3 and re.search(rf'count-suggestions">{panel}<', row) and re.search(r'count-interests">2<', row)
    assert '<span class="badge text-bg-success status-badge">已发布</span>' in row
    assert "别家的需求" not in page and "退回理由：联系方式缺失" in page
    # one statement for the rows of the page, whatever their number (the menu's badges count apart, once)
    assert sum(1 for s in statements if s.startswith("SELECT demands.id, (SELECT count(*)")) == 1
    assert sum(1 for s in statements if "FROM suggestions" in s) == 2


def test_broker_workbench_counts_overdue_deals_new_suggestions_and_stages(app, world):
    u, o, f = world.users, world.orgs, world.fields
    other_broker = factories.user(role="broker", org=o.agency, region=world.regions["county_a"],
                                  username="broker_two", broker_status="approved")
    need = factories.demand(owner=u.enterprise, field=f["materials"], status="published")
    results = [factories.achievement(owner=u.institution, field=f["materials"], status="published", title=f"成果{i}")
               for i in range(5)]
    yesterday = china_today() - timedelta(days=1)
    factories.deal(buyer=o.ent_a, seller=o.uni, demand=need, achievement=results[0], broker=u.broker,
                   stage="contacted", next_action_on=yesterday)
    factories.deal(buyer=o.ent_a, seller=o.uni, demand=need, achievement=results[1], broker=u.broker,
                   stage="negotiating", next_action_on=china_today())  # due today: not overdue
    factories.deal(buyer=o.ent_a, seller=o.uni, demand=need, achievement=results[2], broker=other_broker,
                   stage="contacted", next_action_on=yesterday)  # another broker's
    factories.deal(buyer=o.ent_a, seller=o.uni, achievement=results[4], broker=u.broker, stage="terminated",
                   next_action_on=yesterday)  # ended: nothing to follow up
    factories.suggestion(demand=need, achievement=results[3])
    _previous_sign_in(u.broker, days_ago=2)
    db.session.commit()
    _age_suggestions((need, results[3]))

    page = client_for(app, u.broker).get("/workbench").get_data(as_text=True)
    assert (_count(page, "wb-overdue"), _count(page, "wb-new-suggestions")) == (1, 1)
    stages = {s: _count(page, f"wb-stage-{s}") for s in ("recommended", "contacted", "negotiating", "signed", "terminated")}
    assert stages == {"recommended": 0, "contacted": 1, "negotiating": 1, "signed": 0, "terminated": 1}
    assert _badges(page) == {"工作台": 2, "对接": 1}

    two = client_for(app, other_broker).get("/workbench").get_data(as_text=True)
    assert _count(two, "wb-overdue") == 1 and _count(two, "wb-stage-negotiating") == 0


def test_official_workbench_shows_the_queue_with_its_oldest_wait_and_the_target_pace(app, world, frozen_today):
    u, f = world.users, world.fields
    factories.demand(owner=u.enterprise, field=f["materials"], status="pending", title="县内待审需求")
    factories.demand(owner=u.enterprise_b, field=f["materials"], status="pending", title="五河县待审需求")
    factories.org(region=world.regions["town_a"], status="pending", name="榴城待认证企业")
    factories.broker_accounts(world)  # one pending broker of county A (its agency pending too)
    db.session.add(Target(region_id=world.regions["county_a"].id, year=frozen_today.year, metric="count",
                          value_count=10, set_by_id=u.city_official.id))
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, signed_on=date(frozen_today.year, 3, 1))
    db.session.commit()

    page = client_for(app, u.official).get("/workbench").get_data(as_text=True)
    # county A: its need, its two organisations waiting (the unverified company and the pending agency), its broker
    assert (_count(page, "wb-queue"), _count(page, "wb-orgs"), _count(page, "wb-brokers")) == (1, 3, 1)
    assert "最长已等待 0 天" in page
    pace = page.split('id="wb-pace"', 1)[1]
    assert "合同份数" in pace or "份" in pace
    assert re.search(r"1份 / 目标 10份（完成 10\.0%，应完成 4[0-9]\.[0-9]%）", pace), pace[:600]
    assert "进度滞后" in pace
    assert _badges(page) == {"工作台": 5, "审核": 5}

    b = client_for(app, u.official_b).get("/workbench").get_data(as_text=True)
    assert (_count(b, "wb-queue"), _count(b, "wb-orgs"), _count(b, "wb-brokers")) == (1, 0, 0)
    assert "本年度尚未设定目标任务" in b

    # item 9: the dashboard's ranking is titled for the level it ranks
    city = client_for(app, world.users.city_official).get("/dashboard/targets").get_data(as_text=True)
    county = client_for(app, world.users.official).get("/dashboard/targets").get_data(as_text=True)
    assert re.search(r'id="ranking-title">县区排名 · 各县区按', city)
    assert re.search(r'id="ranking-title">镇街道排名 · 各镇街道按', county)
    chart = json.loads(re.search(r'<script type="application/json" id="chart-ranking">(.*?)</script>', city).group(1))
    assert chart["title"] == "各县区合同成交额完成率（%）" and "镇办竞赛 ·" not in city


def test_admin_and_unverified_workbenches(app, world):
    factories.failed_job()
    factories.failed_job()
    db.session.commit()
    page = client_for(app, world.users.admin).get("/workbench").get_data(as_text=True)
    assert (_count(page, "wb-orgs"), _count(page, "wb-failed-jobs")) == (1, 2)
    assert _badges(page) == {"工作台": 3, "审核": 1, "系统管理": 3}
    # nobody else sees the jobs card or the queue
    for name in ("enterprise", "broker", "official"):
        other = client_for(app, getattr(world.users, name)).get("/workbench").get_data(as_text=True)
        assert "wb-failed-jobs" not in other and "系统管理" not in _badges(other)

    # an account nobody verified yet: why it waits, its drafts, no badges
    factories.demand(owner=world.users.unverified, field=world.fields["materials"], status="draft", title="待认证单位的草稿")
    db.session.commit()
    resp = client_for(app, world.users.unverified).get("/workbench")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "正在等待单位认证" in page
    assert _count(page, "wb-status-draft") == 1 and "wb-owner" not in page
    assert _badges(page) == {}


def _statements(call) -> list[str]:
    seen: list[str] = []

    def listener(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return seen


@ONCE
def test_badges_cost_one_statement_per_family_once_per_request(app, world):
    """The menu counts with one statement per role (two for an administrator: the queue and the jobs), and a
    page whose panels render templates of their own still counts once."""
    from market.main.workbench import nav_badges

    u, f = world.users, world.fields
    need = factories.demand(owner=u.enterprise, field=f["materials"], status="published")
    factories.suggestion(demand=need, achievement=factories.achievement(owner=u.institution, field=f["materials"],
                                                                        status="published"))
    db.session.commit()
    _point, registrar = _registrar_at(world)
    db.session.commit()
    u.registrar = registrar
    for name, expected in (("enterprise", 1), ("institution", 1), ("broker", 1), ("official", 1), ("admin", 2),
                           ("registrar", 1)):
        user = getattr(u, name)
        with app.test_request_context("/"):
            user.org, user.region  # the verified-actor and scope checks read these: loaded before counting
            assert len(_statements(lambda: nav_badges(user))) == expected, name
    client = client_for(app, u.enterprise)
    page_statements = _statements(lambda: client.get(f"/demands/{need.id}"))
    assert sum(1 for s in page_statements if "max(user_sessions.created_at)" in s) == 1


def _registrar_at(world):
    from market.models import RegPoint, User

    point = RegPoint(name="怀远县技术合同登记点", kind="bureau", region_id=world.regions["county_a"].id,
                     division="340321", serial=1)
    db.session.add(point)
    db.session.flush()
    user = User(username="reg_wb", name="登记员甲", role="registrar", reg_point_id=point.id)
    user.set_password(factories.PASSWORD)
    db.session.add(user)
    db.session.flush()
    return point, user


def test_registrar_workbench_shows_the_point_s_queue_against_the_deadline(app, world):
    """A 登记员: submissions waiting at the point with the longest wait in working days against the 15-day
    deadline, the overdue ones, returned ones awaiting resubmission, the oldest as next actions, and the badge;
    another point's submissions are not counted."""
    from market.models import Contract, RegPoint

    point, registrar = _registrar_at(world)
    other = RegPoint(name="蚌埠市技术合同登记中心", kind="agency", region_id=world.regions["city"].id,
                     division="340300", serial=1)
    db.session.add(other)
    db.session.flush()
    o = world.orgs

    def submission(title, *, days_ago, status="submitted", at=point):
        c = factories.contract(buyer=o.ent_a, seller=o.uni, title=title, signed_on=date(2025, 1, 5))
        db.session.flush()
        db.session.execute(update(Contract).where(Contract.id == c.id).values(
            reg_status=status, reg_request="new" if status == "submitted" else None, reg_point_id=at.id,
            submitted_at=utcnow() - timedelta(days=days_ago), submitted_by_id=world.users.enterprise.id))
        return c

    submission("四十天前提交的合同", days_ago=40)
    submission("今天提交的合同", days_ago=0)
    submission("退回待改的合同", days_ago=5, status="returned")
    submission("别的登记点的合同", days_ago=60, at=other)
    db.session.commit()

    page = client_for(app, registrar).get("/workbench").get_data(as_text=True)
    assert (_count(page, "wb-reg-waiting"), _count(page, "wb-reg-overdue"), _count(page, "wb-reg-returned")) == (2, 1, 1)
    assert re.search(r"最长已等待 (\d+) 个工作日（时限 15 个工作日）", page)
    assert int(re.search(r"最长已等待 (\d+) 个工作日", page).group(1)) > 15
    nxt = page.split('id="wb-reg-next"', 1)[1].split("</ul>", 1)[0]
    assert nxt.index("四十天前提交的合同") < nxt.index("今天提交的合同") and "已超期" in nxt
    assert "别的登记点的合同" not in page and "退回待改的合同" not in nxt
    assert _badges(page) == {"工作台": 2, "合同登记": 2}
    # an official or a company has no registrar panel
    assert "wb-registrar" not in client_for(app, world.users.official).get("/workbench").get_data(as_text=True)


def test_changes_of_published_listings_count_in_the_review_badge_and_workbench(app, world):
    """Issue 17 items 3 and 5: a change of a published listing waiting for review counts in the 审核 badge and on
    the official's workbench, in the official's region only."""
    from market.models import ListingRevision

    u, f = world.users, world.fields
    mine = factories.demand(owner=u.enterprise, field=f["materials"], status="published", title="县内已发布需求")
    theirs = factories.demand(owner=u.enterprise_b, field=f["materials"], status="published", title="五河已发布需求")
    db.session.commit()
    before = _badges(client_for(app, u.official).get("/workbench").get_data(as_text=True)).get("审核", 0)
    for listing, owner in ((mine, u.enterprise), (theirs, u.enterprise_b)):
        db.session.add(ListingRevision(kind="demand", listing_id=listing.id, data="{}", submitted_by_id=owner.id,
                                       submitted_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    page = client_for(app, u.official).get("/workbench").get_data(as_text=True)
    assert _count(page, "wb-revisions") == 1 and "最长已等待 2 天" in page.split('id="wb-revisions"', 1)[1][:400]
    assert _badges(page)["审核"] == before + 1
    admin = client_for(app, u.admin).get("/workbench").get_data(as_text=True)
    assert _count(admin, "wb-revisions") == 2
