"""Events (路演, 对接会, 成果巡展; market/happenings): creation by the region's official, sign-up with a waiting list
that never passes the capacity (real concurrent requests), single-use check-in codes that cannot be forged, 意向
recorded on the spot as ordinary interests, and the outcome figures following interest -> deal -> contract."""
from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market.errors import DomainError
from market.extensions import db
from market.happenings import services
from market.models import Contract, Happening, HappeningSignup, Interest, Notification, Payment, User
from market.models.base import utcnow
from tests import factories
from tests.helpers import Poster, client_for, diff, form_token, same_day_start, snapshot

CHINA = timedelta(hours=8)


def _local(dt) -> str:
    return (dt + CHINA).strftime("%Y-%m-%dT%H:%M")


def make_event(world, *, capacity: int = 3, pair=None, organiser=None, hours_ahead: int = 2):
    """An event of county A's official starting `hours_ahead` from now (check-in open), sign-up open for an hour."""
    start = same_day_start(timedelta(hours=hours_ahead), timedelta(hours=3))
    keys = []
    if pair is not None:
        keys = [f"demand:{pair.demand.id}", f"achievement:{pair.achievement.id}"]
    h = services.happening_create(
        user=organiser or world.users.official, kind="roadshow", title="怀远县新材料成果路演", place="怀远县科技局三楼会议室",
        description="", starts_at=start, ends_at=start + timedelta(hours=3), signup_deadline=start - timedelta(hours=1),
        capacity=capacity, sessions_text=f"{(start + CHINA):%Y-%m-%d %H:%M}-{(start + CHINA + timedelta(hours=1)):%H:%M} 成果路演",
        listing_keys=keys, token=form_token())
    db.session.commit()
    return h


def valid_event_form() -> dict:
    """A valid new-event form (the inventory tests post it with one field spoiled)."""
    start = same_day_start(timedelta(days=5), timedelta(hours=3))
    local = start + CHINA
    return {"kind": "roadshow", "title": "新材料成果路演", "place": "怀远县科技局三楼会议室", "capacity": "30",
            "starts_at": _local(start), "ends_at": _local(start + timedelta(hours=3)),
            "signup_deadline": _local(start - timedelta(days=1)),
            "sessions": f"{local:%Y-%m-%d %H:%M}-{local + timedelta(hours=1):%H:%M} 成果路演", "form_token": form_token()}


def event_objects(world, o) -> None:
    """For the inventory tests: county A's official's 路演 presenting o.demand and o.achievement, starting in two
    hours; the enterprise signed up and checked in, the university signed up (its code unused). Sets o.happening,
    o.happening_spare (a second event, nobody signed up) and, for the denied posts' data, world.happening_code, world.happening_signup_id, world.happening_achievement_id,
    world.happening_edit (the edit form as its page fills it)."""
    start = same_day_start(timedelta(hours=2), timedelta(hours=2))
    local = start + CHINA
    h = services.happening_create(
        user=world.users.official, kind="roadshow", title="权限测试路演", place="怀远县科技局", description="",
        starts_at=start, ends_at=start + timedelta(hours=2), signup_deadline=start - timedelta(hours=1), capacity=10,
        sessions_text=f"{local:%Y-%m-%d %H:%M}-{local + timedelta(hours=1):%H:%M} 路演",
        listing_keys=[f"demand:{o.demand.id}", f"achievement:{o.achievement.id}"], token=form_token())
    ent = services.signup(user=world.users.enterprise, happening=h)
    uni = services.signup(user=world.users.institution, happening=h)
    ent.checked_in_at = utcnow()
    db.session.commit()
    o.happening = h
    # another event of the same official, for the posts that would call o.happening off (the form fuzz)
    o.happening_spare = services.happening_create(
        user=world.users.official, kind="matchmaking", title="权限测试对接会", place="怀远县科技局", description="",
        starts_at=start, ends_at=start + timedelta(hours=2), signup_deadline=start - timedelta(hours=1), capacity=10,
        sessions_text=f"{local:%Y-%m-%d %H:%M}-{local + timedelta(hours=1):%H:%M} 对接", listing_keys=[],
        token=form_token())
    db.session.commit()
    world.happening_edit = edit_form(h)  # the edit page's fields, at the version it shows
    world.happening_code = services.checkin_code(uni)
    world.happening_signup_id, world.happening_achievement_id = ent.id, o.achievement.id


def _pair(world):
    u, f = world.users, world.fields
    pair = type("Pair", (), {})()
    pair.demand = factories.demand(owner=u.enterprise, field=f["materials"], status="published", title="路演展示的镀膜技术需求")
    pair.achievement = factories.achievement(owner=u.institution, field=f["materials"], status="published",
                                             title="路演展示的导电膜成果")
    db.session.commit()
    return pair


def _enterprise_users(world, n: int):
    users = [factories.user(role="enterprise", org=world.orgs.ent_a, username=f"ev_ent_{i}") for i in range(n)]
    db.session.commit()
    return users


# --- creation ----------------------------------------------------------------------------------------------

def test_official_creates_an_event_from_the_form(app, world):
    pair = _pair(world)
    official = Poster(client_for(app, world.users.official))
    page = official.client.get("/events/new")
    assert page.status_code == 200 and "发布活动" in page.get_data(as_text=True)
    start = same_day_start(timedelta(days=3), timedelta(hours=4))
    data = {"kind": "matchmaking", "title": "五月新材料对接会", "place": "蚌埠市科技大市场一楼",
            "starts_at": _local(start), "ends_at": _local(start + timedelta(hours=4)),
            "signup_deadline": _local(start - timedelta(days=1)), "capacity": "50",
            "sessions": f"{(start + CHINA):%Y-%m-%d %H:%M}-{(start + CHINA + timedelta(hours=2)):%H:%M} 需求发布\n"
                        f"{(start + CHINA + timedelta(hours=2)):%Y-%m-%d %H:%M}-{(start + CHINA + timedelta(hours=4)):%H:%M} 一对一洽谈",
            "listing_keys": [f"demand:{pair.demand.id}", f"achievement:{pair.achievement.id}"],
            "form_token": form_token()}
    resp = official.post("/events/new", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    h = db.session.scalar(select(Happening))
    assert h.region_id == world.users.official.region_id and h.capacity == 50 and len(h.sessions) == 2
    assert len(h.presented) == 2
    assert h.starts_at == start  # typed in Beijing time, stored as UTC
    for url in ("/events", f"/events/{h.id}"):
        body = app.test_client().get(url).get_data(as_text=True)
        assert "五月新材料对接会" in body
    # the same form posted again saves nothing more
    assert official.post("/events/new", data).status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Happening)) == 1


@pytest.mark.parametrize("change, message", [
    ({"starts_at": "2001-01-01T09:00", "ends_at": "2001-01-01T12:00", "signup_deadline": "2000-12-31T09:00"}, "开始时间应晚于现在"),
    ({"ends_at": "bad"}, "时间格式不对"),
    ({"capacity": "0"}, "名额应在1至100000之间"),
    ({"sessions": "明天上午 开幕"}, "第1行格式不对"),
    ({"sessions": "2001-01-01 09:00-10:00 开幕"}, "不在活动时间之内"),
    ({"listing_keys": ["demand:999999"]}, "不存在或未公开发布"),
    ({"kind": "party"}, "请选择活动类型"),
    ({"starts_at": "0001-01-01T00:00"}, "年份应在2000至2100年之间"),  # year 1 in Beijing is before year 1 UTC
    ({"signup_deadline": "9999-12-31T23:59"}, "年份应在2000至2100年之间"),
    ({"sessions": "0001-01-01 00:00-01:00 开幕"}, "第1行的年份应在2000至2100年之间"),
])
def test_bad_event_input_is_refused_in_chinese_and_nothing_is_stored(app, world, change, message):
    official = Poster(client_for(app, world.users.official))
    start = same_day_start(timedelta(days=3), timedelta(hours=4))
    data = {"kind": "roadshow", "title": "有问题的路演活动", "place": "某地", "starts_at": _local(start),
            "ends_at": _local(start + timedelta(hours=2)), "signup_deadline": _local(start - timedelta(hours=5)),
            "capacity": "10", "sessions": f"{(start + CHINA):%Y-%m-%d %H:%M}-{(start + CHINA + timedelta(hours=1)):%H:%M} 路演",
            "form_token": form_token(), **change}
    before = snapshot()
    resp = official.post("/events/new", data)
    assert resp.status_code == 400, resp.status_code
    assert message in resp.get_data(as_text=True)
    assert not diff(before, snapshot())


def test_years_out_of_range_are_refused_by_the_service_too(world):
    from datetime import datetime

    year_one = datetime(1, 1, 1)
    with pytest.raises(DomainError, match="年份应在2000至2100年之间"):
        services.happening_create(user=world.users.official, kind="roadshow", title="公元一年的路演", place="某地",
                                  description="", starts_at=year_one, ends_at=year_one, signup_deadline=year_one,
                                  capacity=1, sessions_text="", listing_keys=[], token=form_token())


@pytest.mark.parametrize("name", ["enterprise", "institution", "broker", "registrar_user", "admin", "unverified"])
def test_only_officials_create_events(app, world, name):
    if name == "registrar_user":
        from market.models import RegPoint

        point = RegPoint(name="怀远县技术合同登记点", kind="bureau", region_id=world.regions["county_a"].id,
                         division="340321", serial=1)
        db.session.add(point)
        db.session.flush()
        from market.models import User

        user = User(username="ev_registrar", name="怀远登记员", role="registrar", reg_point_id=point.id,
                    password_hash=factories._password_hash())
        db.session.add(user)
        db.session.commit()
    else:
        user = getattr(world.users, name)
    c = Poster(client_for(app, user))
    assert c.client.get("/events/new").status_code == 403
    assert c.post("/events/new", {"title": "越权活动", "form_token": form_token()}).status_code == 403
    assert app.test_client().get("/events/new").status_code == 302  # anonymous: sign in


# --- sign-up, waiting list, cancel -------------------------------------------------------------------------

def test_over_capacity_waits_and_is_promoted_in_order(app, world):
    h = make_event(world, capacity=2)
    users = _enterprise_users(world, 4)
    posters = [Poster(client_for(app, u)) for u in users]
    for p in posters:
        assert p.post(f"/events/{h.id}/signup").status_code == 302
    rows = {r.user_id: r.status for r in db.session.scalars(select(HappeningSignup))}
    assert [rows[u.id] for u in users] == ["confirmed", "confirmed", "waiting", "waiting"]
    assert posters[0].post(f"/events/{h.id}/signup").status_code == 409  # twice: refused
    ticket = posters[3].client.get(f"/events/{h.id}/ticket").get_data(as_text=True)
    assert "候补名单第 2 位" in ticket
    assert posters[1].post(f"/events/{h.id}/cancel").status_code == 302  # the first waiting takes the seat
    db.session.expire_all()
    rows = {r.user_id: r.status for r in db.session.scalars(select(HappeningSignup))}
    assert [rows[u.id] for u in users] == ["confirmed", "cancelled", "confirmed", "waiting"]
    assert db.session.get(Happening, h.id).confirmed_count == 2
    # the promoted one is told, with a link to the ticket; the one still waiting is not
    told = {n.user_id: n for n in db.session.scalars(select(Notification).where(Notification.kind == "event_promoted"))}
    assert set(told) == {users[2].id}
    assert told[users[2].id].url == f"/events/{h.id}/ticket" and h.title in told[users[2].id].text
    assert posters[2].post(f"/events/{h.id}/cancel").status_code == 302
    assert posters[0].post(f"/events/{h.id}/cancel").status_code == 302
    db.session.expire_all()
    rows = {r.user_id: r.status for r in db.session.scalars(select(HappeningSignup))}
    assert [rows[u.id] for u in users] == ["cancelled", "cancelled", "cancelled", "confirmed"]
    assert db.session.get(Happening, h.id).confirmed_count == 1
    assert posters[0].post(f"/events/{h.id}/cancel").status_code == 409  # nothing left to cancel
    assert posters[0].post(f"/events/{h.id}/signup").status_code == 302  # may sign up again: a free seat
    db.session.expire_all()
    assert db.session.get(Happening, h.id).confirmed_count == 2


def test_signup_after_the_deadline_is_refused(app, world):
    h = make_event(world)
    h.signup_deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    p = Poster(client_for(app, world.users.enterprise))
    before = snapshot()
    resp = p.post(f"/events/{h.id}/signup")
    assert resp.status_code == 400 and "报名已截止" in resp.get_data(as_text=True)
    assert not diff(before, snapshot())


@pytest.mark.parametrize("name, status", [("official", 403), ("admin", 403), ("unverified", 403)])
def test_who_may_not_sign_up(app, world, name, status):
    h = make_event(world)
    assert Poster(client_for(app, getattr(world.users, name))).post(f"/events/{h.id}/signup").status_code == status
    assert Poster(app.test_client()).post(f"/events/{h.id}/signup").status_code == 302  # anonymous: sign in
    assert db.session.scalar(select(func.count()).select_from(HappeningSignup)) == 0


def test_concurrent_signups_never_pass_the_capacity(app, world):
    capacity, n = 3, 10
    h = make_event(world, capacity=capacity)
    users = _enterprise_users(world, n)
    posters = [Poster(client_for(app, u)) for u in users]
    url = f"/events/{h.id}/signup"  # read here: the threads must not touch this session's objects
    barrier = threading.Barrier(n)
    results: list[int] = []

    def go(p):
        with app.app_context():
            barrier.wait(timeout=30)
            results.append(p.post(url).status_code)

    threads = [threading.Thread(target=go, args=(p,)) for p in posters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == [302] * n, results
    db.session.rollback()  # end this session's read snapshot (SQLite WAL): see what the threads committed
    statuses = list(db.session.scalars(select(HappeningSignup.status)))
    assert statuses.count("confirmed") == capacity and statuses.count("waiting") == n - capacity
    assert db.session.scalar(select(Happening.confirmed_count)) == capacity


def _in_threads(app, *fns):
    # this session's own transaction (begun by reading an expired attribute after a commit) would hold SQLite's
    # write lock (BEGIN IMMEDIATE) while the threads wait for it
    db.session.rollback()
    threads = [threading.Thread(target=fn) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    db.session.rollback()  # end this session's read snapshot (SQLite WAL): see what the threads committed


def test_concurrent_re_signups_of_one_account_take_one_seat(app, world):
    """The same account signing up twice at once after a cancel: one seat taken, the other refused; the counter
    equals the confirmed rows (no seat lost for good)."""
    h = make_event(world, capacity=5)
    uid, hid = world.users.enterprise.id, h.id
    services.signup(user=world.users.enterprise, happening=h)
    db.session.commit()
    services.cancel(user=world.users.enterprise, happening=h)
    db.session.commit()
    first_done = threading.Event()
    results: list[str] = []

    def run(first: bool):
        with app.test_request_context():
            if not first:
                first_done.wait(10)
            try:
                services.signup(user=db.session.get(User, uid), happening=db.session.get(Happening, hid))
                if first:
                    first_done.set()
                    time.sleep(0.5)  # the second one arrives while this one's transaction is open
                db.session.commit()
                results.append("ok")
            except DomainError as exc:
                db.session.rollback()
                results.append(exc.status_code)
            finally:
                first_done.set()

    _in_threads(app, lambda: run(True), lambda: run(False))
    assert sorted(results, key=str) == [409, "ok"], results
    confirmed = db.session.scalar(select(func.count()).select_from(HappeningSignup).where(
        HappeningSignup.happening_id == hid, HappeningSignup.status == "confirmed"))
    assert confirmed == 1 and db.session.get(Happening, hid).confirmed_count == 1


def test_a_sign_up_racing_a_cancel_takes_the_freed_seat(app, world):
    h = make_event(world, capacity=1)
    services.signup(user=world.users.enterprise, happening=h)
    db.session.commit()
    hid, ent_id, uni_id = h.id, world.users.enterprise.id, world.users.institution.id
    cancelled = threading.Event()
    out = {}

    def cancel():
        with app.test_request_context():
            try:
                services.cancel(user=db.session.get(User, ent_id), happening=db.session.get(Happening, hid))
                cancelled.set()
                time.sleep(0.5)  # the sign-up arrives before this commits
                db.session.commit()
            finally:
                cancelled.set()

    def signup():
        with app.test_request_context():
            cancelled.wait(10)
            row = services.signup(user=db.session.get(User, uni_id), happening=db.session.get(Happening, hid))
            db.session.commit()
            out["status"] = row.status

    _in_threads(app, cancel, signup)
    assert out == {"status": "confirmed"}
    assert db.session.get(Happening, hid).confirmed_count == 1


# --- check-in ----------------------------------------------------------------------------------------------

def _signed_up(app, world, h, user=None):
    user = user or world.users.enterprise
    p = Poster(client_for(app, user))
    assert p.post(f"/events/{h.id}/signup").status_code == 302
    page = p.client.get(f"/events/{h.id}/ticket").get_data(as_text=True)
    code = re.search(r'id="checkin-code">([^<]+)<', page).group(1)
    assert "<svg" in page  # the QR code, inline SVG
    return p, code


def test_check_in_once_and_forged_codes_refused(app, world):
    h = make_event(world)
    other = make_event(world)
    _, code = _signed_up(app, world, h)
    _, other_code = _signed_up(app, world, other)
    desk = Poster(client_for(app, world.users.official))
    sid, mac = code.split("-")
    forged = [f"{sid}-{'A' * 16}", f"{sid}-{mac[:-1]}{'B' if mac[-1] != 'B' else 'C'}", "abc", other_code,
              f"{int(sid) + 1}-{mac}", ""]
    for bad in forged:
        resp = desk.post(f"/events/{h.id}/checkin", {"code": bad})
        assert resp.status_code == 400, (bad, resp.status_code)
        assert "签到码" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(HappeningSignup).where(
        HappeningSignup.checked_in_at.is_not(None))) == 0
    resp = desk.post(f"/events/{h.id}/checkin", {"code": code.lower()})  # typed in lower case: same code
    assert resp.status_code == 200 and "签到成功" in resp.get_data(as_text=True)
    resp = desk.post(f"/events/{h.id}/checkin", {"code": code})
    assert resp.status_code == 409 and "已使用" in resp.get_data(as_text=True)
    # another region's official cannot use the desk; the city's official (above county A) can read it
    assert Poster(client_for(app, world.users.official_b)).post(f"/events/{h.id}/checkin", {"code": code}).status_code == 403
    assert client_for(app, world.users.city_official).get(f"/events/{h.id}/checkin").status_code == 200


def test_concurrent_double_check_in_succeeds_once(app, world):
    h = make_event(world)
    _, code = _signed_up(app, world, h)
    desks = [Poster(client_for(app, u)) for u in (world.users.official, world.users.city_official)]
    url = f"/events/{h.id}/checkin"
    barrier = threading.Barrier(2)
    results: list[int] = []

    def go(p):
        with app.app_context():
            barrier.wait(timeout=30)
            results.append(p.post(url, {"code": code}).status_code)

    threads = [threading.Thread(target=go, args=(p,)) for p in desks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [200, 409], results


def test_a_checked_in_attendee_may_not_cancel(app, world):
    """Cancelling after check-in would give the used seat to the waiting list: more attended than the capacity."""
    h = make_event(world, capacity=1)
    ent, code = _signed_up(app, world, h)
    uni = Poster(client_for(app, world.users.institution))
    assert uni.post(f"/events/{h.id}/signup").status_code == 302  # waiting
    desk = Poster(client_for(app, world.users.official))
    assert desk.post(f"/events/{h.id}/checkin", {"code": code}).status_code == 200
    assert "cancel-signup" not in ent.client.get(f"/events/{h.id}").get_data(as_text=True)
    before = snapshot()
    resp = ent.post(f"/events/{h.id}/cancel")
    assert resp.status_code == 409 and "已签到入场，不能再取消报名" in resp.get_data(as_text=True)
    assert not diff(before, snapshot())
    from market.happenings.queries import outcome

    o = outcome(h.id)
    assert (o.confirmed, o.waiting, o.attended) == (1, 1, 1)
    # a row checked in and then cancelled (data from before this rule) is not counted as attended
    row = db.session.scalar(select(HappeningSignup).where(HappeningSignup.user_id == world.users.enterprise.id))
    row.status = "cancelled"
    db.session.commit()
    assert outcome(h.id).attended == 0


def test_a_cancelled_then_promoted_code_changes(app, world):
    """A cancelled sign-up's code is dead: signing up again issues a new one."""
    h = make_event(world)
    p, code = _signed_up(app, world, h)
    assert p.post(f"/events/{h.id}/cancel").status_code == 302
    desk = Poster(client_for(app, world.users.official))
    assert desk.post(f"/events/{h.id}/checkin", {"code": code}).status_code == 409
    assert p.post(f"/events/{h.id}/signup").status_code == 302
    new = re.search(r'id="checkin-code">([^<]+)<', p.client.get(f"/events/{h.id}/ticket").get_data(as_text=True)).group(1)
    assert new != code
    assert desk.post(f"/events/{h.id}/checkin", {"code": code}).status_code == 400
    assert desk.post(f"/events/{h.id}/checkin", {"code": new}).status_code == 200


# --- 意向 on the spot and the outcome ----------------------------------------------------------------------

def test_spot_interest_to_contract_and_outcome_figures(app, world):
    pair = _pair(world)
    h = make_event(world, pair=pair)
    ent, code = _signed_up(app, world, h)
    desk = Poster(client_for(app, world.users.official))
    # before check-in the attendee may not record
    assert ent.client.get(f"/events/{h.id}/interest").status_code == 403
    assert desk.post(f"/events/{h.id}/checkin", {"code": code}).status_code == 200
    signup_id = int(code.split("-")[0])
    # the organiser records it for the attendee: a result presented, the enterprise's interest
    from market import events

    sent = []

    def _made(sender, interest, user):
        sent.append(user.id)

    events.interest_made.connect(_made, sender=app)
    try:
        resp = desk.post(f"/events/{h.id}/interest", {"signup_id": str(signup_id), "listing_key": f"achievement:{pair.achievement.id}",
                                                      "message": "现场洽谈，希望获得导电膜技术许可", "form_token": form_token()})
    finally:
        events.interest_made.disconnect(_made, sender=app)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert sent == [world.users.official.id]  # the event names who typed it in
    interest = db.session.scalar(select(Interest))
    assert interest.happening_id == h.id and interest.from_org_id == world.orgs.ent_a.id and interest.kind == "interest"
    # the attendee's organisation expressed it; its history names the organiser who typed it in
    from market.models import InterestEvent

    history = db.session.scalars(select(InterestEvent).where(InterestEvent.interest_id == interest.id)).all()
    assert [e.actor_id for e in history] == [world.users.official.id]
    # a listing not presented, and an institution's kind of interest for an enterprise, are refused
    resp = desk.post(f"/events/{h.id}/interest", {"signup_id": str(signup_id), "listing_key": "achievement:999999",
                                                  "message": "不在展示范围内的条目", "form_token": form_token()})
    assert resp.status_code == 400 and "本活动展示" in resp.get_data(as_text=True)
    resp = ent.post(f"/events/{h.id}/interest", {"listing_key": f"demand:{pair.demand.id}",
                                                 "message": "对自己的需求表达意向", "form_token": form_token()})
    assert resp.status_code in (400, 403)
    # the university accepts: a deal; two contracts from it are registered (one voided), payments received
    uni = Poster(client_for(app, world.users.institution))
    assert uni.post(f"/deals/interests/{interest.id}/decide", {"decision": "accept"}).status_code == 302
    from market.models import Deal

    deal = db.session.scalar(select(Deal).where(Deal.interest_id == interest.id))
    c1 = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("1234567.89"), deal_id=deal.id)
    c2 = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("0.11"), deal_id=deal.id)
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("999.00"), deal_id=deal.id, voided=True)
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, amount=Decimal("5.00"))  # not from the event
    for c, amount in ((c1, "100000.01"), (c1, "0.99"), (c2, "0.11")):
        db.session.add(Payment(contract_id=c.id, paid_on=utcnow().date(), amount=Decimal(amount),
                               recorded_by_id=world.users.admin.id))
    db.session.commit()
    # the independent sum: every registered, unvoided contract whose deal came from this event's interests
    rows = db.session.execute(select(Contract.id, Contract.amount).join(
        Interest, Interest.id == select(Deal.interest_id).where(Deal.id == Contract.deal_id).scalar_subquery())
        .where(Interest.happening_id == h.id, Contract.voided.is_(False), Contract.reg_status == "registered")).all()
    expected_amount = sum((r.amount for r in rows), Decimal(0))
    expected_received = sum(db.session.scalars(select(Payment.amount).where(Payment.contract_id.in_([r.id for r in rows]))),
                            Decimal(0))
    assert expected_amount == Decimal("1234568.00") and expected_received == Decimal("100001.11")
    from market.happenings.queries import outcome

    o = outcome(h.id)
    assert (o.confirmed, o.attended, o.interests, o.deals, o.contracts) == (1, 1, 1, 1, 2)
    assert o.amount == expected_amount and o.received == expected_received
    page = desk.client.get(f"/events/{h.id}/outcome").get_data(as_text=True)
    assert "1,234,568.00元" in page and "123.46万元" in page and "100,001.11元" in page
    assert pair.achievement.title in page.split('id="event-interests"')[1]  # the interests' list first
    deals_page = desk.client.get(f"/events/{h.id}/outcome?list=deals").get_data(as_text=True)
    table = deals_page.split('id="event-deals"')[1].split("</table>")[0]
    assert c1.registration_no in table and c2.registration_no in table and "共 1 条" in deals_page
    # who may read the outcome
    assert client_for(app, world.users.city_official).get(f"/events/{h.id}/outcome").status_code == 200
    assert client_for(app, world.users.admin).get(f"/events/{h.id}/outcome").status_code == 200
    for name in ("official_b", "enterprise", "institution", "broker", "unverified"):
        assert client_for(app, getattr(world.users, name)).get(f"/events/{h.id}/outcome").status_code == 403, name
    assert app.test_client().get(f"/events/{h.id}/outcome").status_code == 302


@pytest.mark.parametrize("name", ["official_b", "enterprise_b", "institution", "broker"])
def test_others_may_not_record_interests_or_use_the_desk(app, world, name):
    h = make_event(world)
    c = client_for(app, getattr(world.users, name))
    for url in (f"/events/{h.id}/interest", f"/events/{h.id}/checkin"):
        assert c.get(url).status_code == 403, url
    assert c.get(f"/events/{h.id}/ticket").status_code == 404  # no sign-up of theirs
    assert c.get("/events/999999").status_code == 404


def test_ids_beyond_the_integer_range_are_not_found(app, world):
    """The app's `int` URL converter stops at 2**31-1: a larger id is a 404, never the database's overflow (500)."""
    h = make_event(world)
    for client in (app.test_client(), client_for(app, world.users.official), client_for(app, world.users.enterprise)):
        for url in ("/events/2147483648", "/events/99999999999999999999", "/events/2147483648/ticket",
                    "/events/2147483648/outcome", "/contracts/2147483648", "/deals/2147483648",
                    "/contracts/99999999999999999999"):
            resp = client.get(url)
            assert resp.status_code in (404, 302), (url, resp.status_code)  # anonymous: sign in first, or 404
    assert app.test_client().get("/events/2147483647").status_code == 404  # the largest id: looked up, not there
    assert app.test_client().get(f"/events/{h.id}").status_code == 200
    desk = Poster(client_for(app, world.users.official))
    for code in ("999999999999-AAAAAAAAAAAAAAAA", "2147483648-AAAAAAAAAAAAAAAA", "99999999999-AAAAAAAAAAAAAAAA"):
        resp = desk.post(f"/events/{h.id}/checkin", {"code": code})
        assert resp.status_code == 400 and "签到码无效" in resp.get_data(as_text=True), code


def test_a_withdrawn_presented_listing_is_named_to_the_organiser_only(app, world):
    pair = _pair(world)
    h = make_event(world, pair=pair)
    pair.demand.status = "closed"
    db.session.commit()
    for client in (app.test_client(), client_for(app, world.users.enterprise), client_for(app, world.users.official_b)):
        body = client.get(f"/events/{h.id}").get_data(as_text=True)
        assert pair.demand.title not in body and "已不再公开" not in body
        assert pair.achievement.title in body
    body = client_for(app, world.users.official).get(f"/events/{h.id}").get_data(as_text=True)
    assert pair.demand.title in body and "已不再公开，仅组织方可见" in body


def test_outcome_list_is_paged_and_the_waiting_place_counted(app, world, monkeypatch):
    h = make_event(world, capacity=3)
    users = _enterprise_users(world, 5)
    for u in users:
        services.signup(user=u, happening=h)
        db.session.commit()
    from market.happenings.queries import waiting_position

    waiting = db.session.scalars(select(HappeningSignup).where(HappeningSignup.status == "waiting")
                                 .order_by(HappeningSignup.queued_at, HappeningSignup.id)).all()
    assert [waiting_position(w) for w in waiting] == [1, 2]
    ticket = client_for(app, users[4]).get(f"/events/{h.id}/ticket").get_data(as_text=True)
    assert "候补名单第 2 位" in ticket
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    desk = client_for(app, world.users.official)
    names = []
    for page in (1, 2, 3):
        body = desk.get(f"/events/{h.id}/outcome?list=signups&page={page}").get_data(as_text=True)
        assert "共 5 条" in body
        table = body.split('id="event-signups"')[1].split("</table>")[0]
        names.append(table.count("<tr>") - 1)  # less the header row
    assert names == [2, 2, 1]
    last = desk.get(f"/events/{h.id}/outcome?list=signups&page=3").get_data(as_text=True)
    assert "候补" in last.split('id="event-signups"')[1]  # the waiting come after the confirmed



# --- the organiser edits -----------------------------------------------------------------------------------

def edit_form(h, **change) -> dict:
    """The edit form as its page fills it for `h` (the version it was loaded at), with `change` applied."""
    data = {"kind": h.kind, "title": h.title, "place": h.place, "description": h.description,
            "starts_at": _local(h.starts_at), "ends_at": _local(h.ends_at), "signup_deadline": _local(h.signup_deadline),
            "capacity": str(h.capacity),
            "sessions": "\n".join(f"{(s.starts_at + CHINA):%Y-%m-%d %H:%M}-{(s.ends_at + CHINA):%H:%M} {s.title}"
                                  for s in h.sessions),
            "listing_keys": [f"{p.kind}:{p.listing_id}" for p in h.presented], "version": services.happening_version(h)}
    return {**data, **change}


def test_organiser_edits_an_event_and_those_signed_up_are_told(app, world):
    pair = _pair(world)
    h = make_event(world, capacity=2, pair=pair)
    users = _enterprise_users(world, 3)
    for u in users:
        services.signup(user=u, happening=h)
        db.session.commit()
    official = Poster(client_for(app, world.users.official))
    page = official.client.get(f"/events/{h.id}/edit").get_data(as_text=True)
    assert "修改活动" in page and h.title in page and services.happening_version(h) in page
    assert 'id="edit-event"' in official.client.get(f"/events/{h.id}").get_data(as_text=True)
    stale = edit_form(h)
    later = h.starts_at + timedelta(days=1)
    data = edit_form(h, title="改期后的新材料成果路演", place="蚌埠市科技大市场二楼", capacity="3",
                     starts_at=_local(later), ends_at=_local(later + timedelta(hours=3)),
                     sessions=f"{(later + CHINA):%Y-%m-%d %H:%M}-{(later + CHINA + timedelta(hours=2)):%H:%M} 改期后的路演",
                     listing_keys=[f"achievement:{pair.achievement.id}"])
    resp = official.post(f"/events/{h.id}/edit", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.expire_all()
    h = db.session.get(Happening, h.id)
    assert (h.title, h.place, h.capacity, h.starts_at) == ("改期后的新材料成果路演", "蚌埠市科技大市场二楼", 3, later)
    assert [s.title for s in h.sessions] == ["改期后的路演"] and [p.kind for p in h.presented] == ["achievement"]
    # the added seat went to the first waiting; everyone signed up or waiting is told of the new time and place
    statuses = {r.user_id: r.status for r in db.session.scalars(select(HappeningSignup))}
    assert [statuses[u.id] for u in users] == ["confirmed"] * 3 and h.confirmed_count == 3
    moved = db.session.scalars(select(Notification).where(Notification.kind == "event_moved")).all()
    assert sorted(n.user_id for n in moved) == sorted(u.id for u in users)
    assert all("时间和地点" in n.text and n.url == f"/events/{h.id}" for n in moved)
    assert f"{(later + CHINA):%Y-%m-%d %H:%M}" in moved[0].text  # in Beijing time
    promoted = db.session.scalars(select(Notification.user_id).where(Notification.kind == "event_promoted")).all()
    assert promoted == [users[2].id]
    # a form loaded before that save is refused whole: it would undo it
    before = snapshot()
    resp = official.post(f"/events/{h.id}/edit", {**stale, "title": "旧页面提交的名称"})
    assert resp.status_code == 409 and "已被修改" in resp.get_data(as_text=True)
    assert not diff(before, snapshot())


@pytest.mark.parametrize("change, message", [
    ({"capacity": "1"}, "名额不能少于已确认报名的2人"),
    ({"capacity": "0"}, "名额应在1至100000之间"),
    ({"starts_at": "2001-01-01T09:00"}, "开始时间应晚于现在"),
    ({"sessions": "明天 开幕"}, "第1行格式不对"),
    ({"listing_keys": [f"demand:{n}" for n in range(1, 52)]}, "不能超过50项"),
    ({"kind": "party"}, "请选择活动类型"),
])
def test_bad_edits_are_refused_and_nothing_changes(app, world, change, message):
    h = make_event(world, capacity=3)
    for u in _enterprise_users(world, 2):
        services.signup(user=u, happening=h)
        db.session.commit()
    official = Poster(client_for(app, world.users.official))
    before = snapshot()
    resp = official.post(f"/events/{h.id}/edit", edit_form(h, **change))
    assert resp.status_code == 400, resp.status_code
    assert message in resp.get_data(as_text=True)
    assert not diff(before, snapshot())


def test_an_ended_event_is_not_edited(app, world):
    h = make_event(world)
    h.starts_at, h.ends_at = utcnow() - timedelta(hours=5), utcnow() - timedelta(hours=1)
    h.signup_deadline = h.starts_at - timedelta(hours=1)
    db.session.commit()
    resp = Poster(client_for(app, world.users.official)).post(f"/events/{h.id}/edit", edit_form(h, title="结束后改名的路演"))
    assert resp.status_code == 400 and "活动已结束，不能再修改" in resp.get_data(as_text=True)


@pytest.mark.parametrize("name", ["enterprise", "institution", "broker", "official_b", "admin", "unverified"])
def test_only_the_regions_officials_edit(app, world, name):
    h = make_event(world)
    data = edit_form(h, title="越权修改的活动名称")
    c = Poster(client_for(app, getattr(world.users, name)))
    assert c.client.get(f"/events/{h.id}/edit").status_code == 403
    assert "edit-event" not in c.client.get(f"/events/{h.id}").get_data(as_text=True)
    assert c.post(f"/events/{h.id}/edit", data).status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(f"/events/{h.id}/edit").status_code == 302
    db.session.expire_all()
    assert db.session.get(Happening, h.id).title == "怀远县新材料成果路演"
    # the city's official (above the county) may
    assert Poster(client_for(app, world.users.city_official)).post(f"/events/{h.id}/edit", data).status_code == 302


def test_an_edit_lowering_the_capacity_and_a_sign_up_at_once(app, world):
    """The edit holds the event row: a sign-up arriving meanwhile sees the new capacity (it waits), and the
    capacity is never below the confirmed sign-ups."""
    h = make_event(world, capacity=3)
    services.signup(user=world.users.enterprise, happening=h)
    db.session.commit()
    hid, official_id, uni_id, data = h.id, world.users.official.id, world.users.institution.id, edit_form(h, capacity="1")
    locked = threading.Event()
    out = {}

    def edit():
        with app.test_request_context():
            try:
                happening = db.session.get(Happening, hid)
                services.happening_update(
                    user=db.session.get(User, official_id), happening=happening, kind=data["kind"], title=data["title"],
                    place=data["place"], description="", starts_at=happening.starts_at, ends_at=happening.ends_at,
                    signup_deadline=happening.signup_deadline, capacity=1, sessions_text=data["sessions"],
                    listing_keys=[], version=data["version"])
                locked.set()
                time.sleep(0.5)  # the sign-up arrives before this commits
                db.session.commit()
            finally:
                locked.set()

    def signup():
        with app.test_request_context():
            locked.wait(10)
            row = services.signup(user=db.session.get(User, uni_id), happening=db.session.get(Happening, hid))
            db.session.commit()
            out["status"] = row.status

    db.session.rollback()  # this session's own transaction would hold SQLite's write lock
    _in_threads(app, edit, signup)
    h = db.session.get(Happening, hid)
    assert out == {"status": "waiting"} and (h.capacity, h.confirmed_count) == (1, 1)


def test_deadlines_typed_are_beijing_time(app, world):
    """A deadline typed 30 minutes ago in Beijing is past (it would be 7.5 hours ahead if read as UTC)."""
    official = Poster(client_for(app, world.users.official))
    past_in_beijing = utcnow() + CHINA - timedelta(minutes=30)
    data = {**valid_event_form(), "signup_deadline": past_in_beijing.strftime("%Y-%m-%dT%H:%M")}
    resp = official.post("/events/new", data)
    assert resp.status_code == 400 and "报名截止时间应晚于现在" in resp.get_data(as_text=True)


def test_the_interest_page_and_the_outcome_lists_are_paged(app, world, monkeypatch):
    """No page of an event loads all its attendees or interests: the organiser's attendee choice and the outcome's
    interests come a page at a time; the figures are counted in SQL."""
    pair = _pair(world)
    h = make_event(world, capacity=5, pair=pair)
    users = [factories.user(role="enterprise", org=factories.org(region=world.regions["county_a"]), username=f"ev_page_{i}")
             for i in range(3)]  # three companies: one interest each in the presented result
    rows = []
    for n, u in enumerate(users):
        row = services.signup(user=u, happening=h)
        row.checked_in_at = utcnow() + timedelta(seconds=n)
        rows.append(row)
    db.session.commit()
    for row in rows:
        services.record_interest(user=world.users.official, happening=h, signup_id=row.id,
                                 listing_key=f"achievement:{pair.achievement.id}", message="现场洽谈，希望获得许可",
                                 token=form_token())
        db.session.commit()
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    desk = client_for(app, world.users.official)

    def options(page):
        body = desk.get(f"/events/{h.id}/interest?page={page}").get_data(as_text=True)
        select_ = body.split('name="signup_id"')[1].split("</select>")[0]
        return [int(v) for v in re.findall(r'value="(\d+)"', select_) if v != "0"]

    assert options(1) == [rows[0].id, rows[1].id] and options(2) == [rows[2].id]
    sizes = []
    for page in (1, 2):
        body = desk.get(f"/events/{h.id}/outcome?page={page}").get_data(as_text=True)
        assert 'id="fig-interests">3<' in body and "共 3 条" in body
        sizes.append(body.split('id="event-interests"')[1].split("</table>")[0].count("<tr>") - 1)
    assert sizes == [2, 1]


# --- the organiser cancels (calls off) an event -------------------------------------------------------------

CALL_OFF = {"reason": "台风预警，场馆关闭，活动取消", "confirm": "y"}


def _with_sign_ups(world, capacity: int = 1):
    """make_event with the enterprise confirmed and the institution waiting."""
    h = make_event(world, capacity=capacity)
    for u in (world.users.enterprise, world.users.institution):
        services.signup(user=u, happening=h)
        db.session.commit()
    return h


def test_organiser_calls_off_an_event_and_those_signed_up_are_told(app, world):
    h = _with_sign_ups(world)
    official = Poster(client_for(app, world.users.official))
    assert 'id="call-off-event"' in official.client.get(f"/events/{h.id}").get_data(as_text=True)
    page = official.client.get(f"/events/{h.id}/call-off").get_data(as_text=True)
    assert re.search(r'id="notify-confirmed">1<', page) and re.search(r'id="notify-waiting">1<', page)
    resp = official.post(f"/events/{h.id}/call-off", CALL_OFF)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.expire_all()
    h = db.session.get(Happening, h.id)
    assert (h.status, h.cancel_reason, h.cancelled_by_id) == ("cancelled", CALL_OFF["reason"], world.users.official.id)
    assert h.cancelled_at is not None
    told = db.session.scalars(select(Notification).where(Notification.kind == "event_cancelled")).all()
    assert sorted(n.user_id for n in told) == sorted([world.users.enterprise.id, world.users.institution.id])
    assert all(CALL_OFF["reason"] in n.text and h.title in n.text and n.url == f"/events/{h.id}" for n in told)
    # the sign-ups are kept as they were (who was affected); the pages say 已取消 and offer nothing more
    assert sorted(db.session.scalars(select(HappeningSignup.status))) == ["confirmed", "waiting"]
    detail = app.test_client().get(f"/events/{h.id}").get_data(as_text=True)
    assert 'id="event-cancelled"' in detail and CALL_OFF["reason"] in detail and "登录</a>后报名" not in detail
    listing = app.test_client().get("/events").get_data(as_text=True)
    assert "已取消" in listing
    broker_page = client_for(app, world.users.broker).get(f"/events/{h.id}").get_data(as_text=True)
    assert 'id="signup"' not in broker_page
    assert 'id="call-off-event"' not in official.client.get(f"/events/{h.id}").get_data(as_text=True)
    ticket = client_for(app, world.users.enterprise).get(f"/events/{h.id}/ticket").get_data(as_text=True)
    assert "签到码不再有效" in ticket and 'id="checkin-code"' not in ticket


@pytest.mark.parametrize("data, field, message", [
    ({"confirm": "y"}, "reason", "请填写取消原因"),
    ({"reason": "   ", "confirm": "y"}, "reason", "请填写取消原因"),
    ({"reason": "场馆关闭"}, "confirm", "请勾选确认取消活动"),
    ({"reason": "长" * 501, "confirm": "y"}, "reason", "取消原因不超过500字"),
])
def test_calling_off_needs_a_reason_and_the_confirmation(app, world, data, field, message):
    h = _with_sign_ups(world)
    official = Poster(client_for(app, world.users.official))
    before = snapshot()
    resp = official.post(f"/events/{h.id}/call-off", data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True) and f'data-field="{field}"' in resp.get_data(as_text=True)
    assert not diff(before, snapshot())
    with pytest.raises(DomainError) as err:  # the service asks again
        services.happening_cancel(user=world.users.official, happening=h, reason=data.get("reason"),
                                  confirmed=bool(data.get("confirm")))
    assert err.value.status_code == 400 and message in err.value.fields[field]


@pytest.mark.parametrize("name", ["enterprise", "institution", "broker", "official_b", "admin", "unverified"])
def test_only_the_regions_officials_call_off(app, world, name):
    h = _with_sign_ups(world)
    c = Poster(client_for(app, getattr(world.users, name)))
    assert c.client.get(f"/events/{h.id}/call-off").status_code == 403
    assert "call-off-event" not in c.client.get(f"/events/{h.id}").get_data(as_text=True)
    before = snapshot()
    assert c.post(f"/events/{h.id}/call-off", CALL_OFF).status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(f"/events/{h.id}/call-off").status_code == 302
    assert not diff(before, snapshot())
    # the city's official (above the county) may
    assert Poster(client_for(app, world.users.city_official)).post(f"/events/{h.id}/call-off", CALL_OFF).status_code == 302


def test_an_ended_event_is_not_called_off(app, world):
    h = make_event(world)
    h.starts_at, h.ends_at = utcnow() - timedelta(hours=5), utcnow() - timedelta(hours=1)
    h.signup_deadline = h.starts_at - timedelta(hours=1)
    db.session.commit()
    official = Poster(client_for(app, world.users.official))
    before = snapshot()
    for resp in (official.client.get(f"/events/{h.id}/call-off"), official.post(f"/events/{h.id}/call-off", CALL_OFF)):
        assert resp.status_code == 409 and "活动已结束，不能再取消" in resp.get_data(as_text=True)
    assert not diff(before, snapshot())
    with pytest.raises(DomainError, match="活动已结束"):
        services.happening_cancel(user=world.users.official, happening=h, reason="结束后取消", confirmed=True)


def test_nothing_more_happens_at_a_cancelled_event(app, world):
    pair = _pair(world)
    h = make_event(world, capacity=3, pair=pair)
    ent, code = _signed_up(app, world, h)
    uni, uni_code = _signed_up(app, world, h, world.users.institution)
    official = Poster(client_for(app, world.users.official))
    assert official.post(f"/events/{h.id}/checkin", {"code": code}).status_code == 200  # the enterprise is in
    stale_edit = edit_form(h)
    assert official.post(f"/events/{h.id}/call-off", CALL_OFF).status_code == 302
    broker = Poster(client_for(app, world.users.broker))
    before = snapshot()
    refusals = [
        broker.post(f"/events/{h.id}/signup"),
        uni.post(f"/events/{h.id}/cancel"),
        official.post(f"/events/{h.id}/checkin", {"code": uni_code}),
        ent.post(f"/events/{h.id}/interest", {"listing_key": f"achievement:{pair.achievement.id}",
                                              "message": "取消后记录的现场意向", "form_token": form_token()}),
        official.post(f"/events/{h.id}/edit", {**stale_edit, "title": "取消后改名的路演"}),
        official.client.get(f"/events/{h.id}/edit"),
        official.post(f"/events/{h.id}/call-off", CALL_OFF),
    ]
    for resp in refusals:
        assert resp.status_code == 409, (resp.request.path, resp.status_code)
        assert "活动已取消，" in resp.get_data(as_text=True), resp.request.path
    assert not diff(before, snapshot())
    # the desk and the 意向 page, opened now, say it is closed instead of offering their forms
    for path, closed in (("checkin", "checkin-closed"), ("interest", "interest-closed")):
        body = official.client.get(f"/events/{h.id}/{path}").get_data(as_text=True)
        assert f'id="{closed}"' in body and "活动已取消" in body and "<form" not in body.split("<main")[-1], path


def test_a_sign_up_racing_the_cancel_never_ends_confirmed(app, world):
    """The cancel holds the event row: a sign-up arriving meanwhile waits for it and then finds the event
    cancelled (409), so no seat is taken on a cancelled event."""
    h = make_event(world, capacity=3)
    hid, official_id, uni_id = h.id, world.users.official.id, world.users.institution.id
    locked = threading.Event()
    out = {}

    def call_off():
        with app.test_request_context():
            try:
                services.happening_cancel(user=db.session.get(User, official_id),
                                          happening=db.session.get(Happening, hid), reason="场馆关闭", confirmed=True)
                locked.set()
                time.sleep(0.5)  # the sign-up arrives before this commits
                db.session.commit()
            finally:
                locked.set()

    def signup():
        with app.test_request_context():
            locked.wait(10)
            try:
                services.signup(user=db.session.get(User, uni_id), happening=db.session.get(Happening, hid))
                db.session.commit()
                out["status"] = "signed up"
            except DomainError as err:
                db.session.rollback()
                out["status"] = err.status_code, str(err)

    db.session.rollback()  # this session's own transaction would hold SQLite's write lock
    _in_threads(app, call_off, signup)
    assert out == {"status": (409, "活动已取消，不能再报名")}
    h = db.session.get(Happening, hid)
    assert h.status == "cancelled" and h.confirmed_count == 0
    assert db.session.scalar(select(func.count()).select_from(HappeningSignup)) == 0


def _race_with_the_cancel(app, hid: int, official_id: int, other, *, cancel_first: bool) -> dict:
    """The organiser's cancel and `other` (a function run in its own request context, returning what it did) in
    two threads: the first holds the event row for half a second before committing while the second arrives.
    Returns {"other": result or (status, message)}."""
    holding = threading.Event()
    out = {}

    def call_off():
        with app.test_request_context():
            if not cancel_first:
                holding.wait(10)
            try:
                services.happening_cancel(user=db.session.get(User, official_id),
                                          happening=db.session.get(Happening, hid), reason="场馆关闭", confirmed=True)
                if cancel_first:
                    holding.set()
                    time.sleep(0.5)  # the other request arrives before this commits
                db.session.commit()
            finally:
                holding.set()

    def run_other():
        with app.test_request_context():
            if cancel_first:
                holding.wait(10)
            try:
                result = other()
                if not cancel_first:
                    holding.set()
                    time.sleep(0.5)  # the cancel arrives before this commits
                db.session.commit()
                out["other"] = result
            except DomainError as err:
                db.session.rollback()
                out["other"] = err.status_code, str(err)
            finally:
                holding.set()

    _in_threads(app, call_off, run_other)
    return out


@pytest.mark.parametrize("cancel_first", [True, False], ids=["cancel-first", "check-in-first"])
def test_a_check_in_racing_the_cancel_is_never_recorded_after_it(app, world, cancel_first):
    """Check-in takes the event row as the cancel does: a check-in arriving while the cancel is uncommitted waits
    for it and is refused (409); a cancel arriving while a check-in is uncommitted waits and comes after it. On
    PostgreSQL the check-in used to read the event unlocked, check in, and commit beside the cancel. (On SQLite
    every writing request begins with BEGIN IMMEDIATE, so the two are serialised by the database lock too.)"""
    h = make_event(world, capacity=3)
    row = services.signup(user=world.users.enterprise, happening=h)
    db.session.commit()
    hid, sid, official_id, city_id = h.id, row.id, world.users.official.id, world.users.city_official.id
    code = services.checkin_code(row)

    def check_in():
        done = services.check_in(user=db.session.get(User, city_id), happening=db.session.get(Happening, hid),
                                 code=code)
        return "checked in", done.checked_in_at

    out = _race_with_the_cancel(app, hid, official_id, check_in, cancel_first=cancel_first)
    h = db.session.get(Happening, hid)
    row = db.session.get(HappeningSignup, sid)
    assert h.status == "cancelled"
    if cancel_first:
        assert out == {"other": (409, "活动已取消，不能签到")}
        assert row.checked_in_at is None
    else:
        assert out["other"][0] == "checked in"
        assert row.checked_in_at is not None and row.checked_in_at <= h.cancelled_at


def test_an_interest_racing_the_cancel_is_refused(app, world):
    """意向 on the spot takes the event row too: recorded while the cancel is uncommitted, it waits and is refused."""
    pair = _pair(world)
    h = make_event(world, capacity=3, pair=pair)
    row = services.signup(user=world.users.enterprise, happening=h)
    row.checked_in_at = utcnow()
    db.session.commit()
    hid, sid, official_id, achievement_id = h.id, row.id, world.users.official.id, pair.achievement.id
    token = form_token()

    def record():
        services.record_interest(user=db.session.get(User, official_id), happening=db.session.get(Happening, hid),
                                 signup_id=sid, listing_key=f"achievement:{achievement_id}",
                                 message="取消时记录的现场意向", token=token)
        return "recorded"

    out = _race_with_the_cancel(app, hid, official_id, record, cancel_first=True)
    assert out == {"other": (409, "活动已取消，不能再记录现场意向")}
    assert db.session.scalar(select(func.count()).select_from(Interest)) == 0


# --- bad input and double posts (never a 500, nothing stored half-way) --------------------------------------

@pytest.mark.parametrize("spelling", ["²", "①", "0{id}", "{fw}", "{id}\n", " {id}", "-{id}", "99999999999"],
                         ids=["superscript", "circled", "leading-zero", "full-width", "newline", "blank", "negative",
                              "too-long"])
def test_listing_keys_other_than_the_plain_id_are_refused(app, world, spelling):
    """A presented listing is "kind:id" in ASCII digits. str.isdigit() let "²" and "①" through to int(), a 500;
    "01" or "１" beside "1" named one listing twice, and the second row broke uq_happening_listings (a 500)."""
    pair = _pair(world)
    h = make_event(world, pair=pair)
    ent, code = _signed_up(app, world, h)
    official = Poster(client_for(app, world.users.official))
    assert official.post(f"/events/{h.id}/checkin", {"code": code}).status_code == 200
    own = f"achievement:{pair.achievement.id}"
    fw = "".join(chr(0xFF10 + int(c)) for c in str(pair.achievement.id))
    bad = "achievement:" + spelling.format(id=pair.achievement.id, fw=fw)
    edit = edit_form(h)
    before = snapshot()
    for url, data in (("/events/new", {**valid_event_form(), "listing_keys": [own, bad]}),
                      (f"/events/{h.id}/edit", {**edit, "listing_keys": [own, bad]})):
        resp = official.post(url, data)
        assert resp.status_code == 400, (url, resp.status_code)
        assert "所选的需求或成果不存在或未公开发布" in resp.get_data(as_text=True)
    resp = official.post(f"/events/{h.id}/interest", {"signup_id": code.split("-")[0], "listing_key": bad,
                                                     "message": "现场洽谈，希望获得导电膜技术许可",
                                                     "form_token": form_token()})
    assert resp.status_code == 400 and "请选择本活动展示的需求或成果" in resp.get_data(as_text=True)
    assert not diff(before, snapshot())
    assert services.parse_listing_key(own) == ("achievement", pair.achievement.id)


def test_one_account_signing_up_twice_at_once_takes_one_seat(app, world):
    """A double-clicked sign-up (two requests of one account at once): one seat, the other refused with 409."""
    h = make_event(world, capacity=3)
    posters = [Poster(client_for(app, world.users.enterprise)) for _ in range(2)]
    url, hid = f"/events/{h.id}/signup", h.id
    barrier = threading.Barrier(2)
    results: list[tuple[int, str]] = []

    def go(p):
        with app.app_context():
            barrier.wait(timeout=30)
            resp = p.post(url)
            results.append((resp.status_code, resp.get_data(as_text=True)))

    _in_threads(app, *(lambda p=p: go(p) for p in posters))
    assert sorted(code for code, _ in results) == [302, 409], results
    assert "您已报名该活动" in next(body for code, body in results if code == 409)
    assert db.session.scalar(select(func.count()).select_from(HappeningSignup)) == 1
    assert db.session.get(Happening, hid).confirmed_count == 1


def test_two_officials_calling_off_at_once_tell_each_attendee_once(app, world):
    h = _with_sign_ups(world)
    posters = [Poster(client_for(app, u)) for u in (world.users.official, world.users.city_official)]
    url = f"/events/{h.id}/call-off"
    barrier = threading.Barrier(2)
    results: list[tuple[int, str]] = []

    def go(p):
        with app.app_context():
            barrier.wait(timeout=30)
            resp = p.post(url, CALL_OFF)
            results.append((resp.status_code, resp.get_data(as_text=True)))

    _in_threads(app, *(lambda p=p: go(p) for p in posters))
    assert sorted(code for code, _ in results) == [302, 409], results
    assert "活动已取消，不需重复取消" in next(body for code, body in results if code == 409)
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "event_cancelled")).all()
    assert sorted(told) == sorted([world.users.enterprise.id, world.users.institution.id])
