"""竞价 sessions: the organiser's session, lots and deposits; who may bid and when; the proxy engine; anti-sniping;
the reserve (hidden until the end, deciding sold or unsold); the close (a deal at the winning price, deposits
marked, idempotent); the lot's history and the session's results."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market.auctions import services
from market.auctions.queries import session_results
from market.errors import DomainError
from market.extensions import db
from market.models import Deal, Notification
from market.models.auction import AuctionBid, AuctionDeposit, AuctionLot, AuctionLotEvent, AuctionSession
from market.models.base import utcnow
from tests.auction_helpers import bidder_accounts, make_lot
from tests.helpers import form_token, login, messages, post


def _lot(lot_id: int) -> AuctionLot:
    db.session.expire_all()
    return db.session.get(AuctionLot, lot_id)


def _end_now(lot_id: int) -> None:
    lot = _lot(lot_id)
    lot.ends_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def _bid(user, lot_id: int, amount: str):
    bid = services.bid_place(user=user, lot=_lot(lot_id), amount=Decimal(amount))
    db.session.commit()
    return bid


def _bids(lot_id: int) -> list[tuple[int, Decimal, str]]:
    db.session.expire_all()
    return [(b.org_id, b.amount, b.kind) for b in db.session.scalars(
        select(AuctionBid).where(AuctionBid.lot_id == lot_id).order_by(AuctionBid.seq))]


# --- the organiser ------------------------------------------------------------------------------------------------

def test_an_official_opens_a_session_adds_a_lot_publishes_and_records_a_deposit(app, world, login_as):
    from tests import factories

    achievement = factories.achievement(owner=world.users.institution, field=world.fields["materials"],
                                        status="published")
    db.session.commit()
    official = login_as("city_official")
    resp = post(official, "/auctions/new", {"title": "蚌埠市科技成果竞价专场", "description": "路演后竞价",
                                            "form_token": form_token()})
    assert resp.status_code == 302, messages(resp)
    session = db.session.scalar(select(AuctionSession))
    assert session.state == "draft" and session.region_id == world.regions["city"].id
    assert login_as("enterprise").get(f"/auctions/{session.id}").status_code == 404  # a draft is the organiser's
    start = (utcnow() + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M")  # Beijing time: in an hour
    end = (utcnow() + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")
    form = {"achievement_id": achievement.id, "starting_price": "8950000", "reserve_price": "9000000",
            "increment": "50000", "deposit_amount": "100000", "starts_at": start, "ends_at": end,
            "snipe_window_minutes": "5", "extend_minutes": "5", "form_token": form_token()}
    bad = post(official, f"/auctions/{session.id}/lots/new", {**form, "reserve_price": "100"})
    assert bad.status_code == 400 and "保留价不能低于起拍价（不设保留价请留空）" in messages(bad)
    resp = post(official, f"/auctions/{session.id}/lots/new", form)
    assert resp.status_code == 302, messages(resp)
    lot = db.session.scalar(select(AuctionLot))
    assert lot.starting_price == Decimal("8950000.00") and lot.reserve_price == Decimal("9000000.00")
    assert lot.ends_at - lot.starts_at == timedelta(hours=1)
    assert post(official, f"/auctions/{session.id}/publish").status_code == 302
    assert db.session.get(AuctionSession, session.id).state == "published"
    resp = post(official, f"/auctions/lots/{lot.id}/deposits", {"org_id": world.orgs.ent_a.id, "amount": "100000"})
    assert resp.status_code == 302, messages(resp)
    again = post(official, f"/auctions/lots/{lot.id}/deposits", {"org_id": world.orgs.ent_a.id, "amount": "100000"})
    assert again.status_code == 409
    own = post(official, f"/auctions/lots/{lot.id}/deposits", {"org_id": world.orgs.uni.id, "amount": "100000"})
    assert own.status_code == 400 and "成果所属单位不能参加本拍品的竞价" in messages(own)
    assert db.session.scalar(select(func.count(AuctionDeposit.id))) == 1
    # another region's official and a bidder cannot run it
    assert post(login_as("official_b"), f"/auctions/{session.id}/lots/new", form).status_code == 403
    assert post(login_as("enterprise"), f"/auctions/lots/{lot.id}/deposits",
                {"org_id": world.orgs.ent_b.id, "amount": "100000"}).status_code == 403


# --- who may bid, and when ----------------------------------------------------------------------------------------

def test_bids_are_refused_with_reasons(app, world, login_as):
    lot = make_lot(world, bidders=[world.orgs.ent_a])
    seller = login_as("institution")
    resp = post(seller, f"/auctions/lots/{lot.id}/bid", {"amount": "100000"})
    assert resp.status_code == 403 and "不能对本单位的成果出价" in messages(resp)
    no_deposit = post(login_as("enterprise_b"), f"/auctions/lots/{lot.id}/bid", {"amount": "100000"})
    assert no_deposit.status_code == 403 and any("须先缴纳竞买保证金" in m for m in messages(no_deposit))
    assert post(login_as("unverified"), f"/auctions/lots/{lot.id}/bid", {"amount": "100000"}).status_code == 403
    bidder = login_as("enterprise")
    low = post(bidder, f"/auctions/lots/{lot.id}/bid", {"amount": "99999.99"})
    assert low.status_code == 409 and any("出价不能低于100,000.00元" in m for m in messages(low))
    for bad in ("abc", "1e5", "100000.001", "-100000", "NaN"):
        assert post(bidder, f"/auctions/lots/{lot.id}/bid", {"amount": bad}).status_code == 400, bad
    assert post(bidder, f"/auctions/lots/{lot.id}/bid", {"amount": "100000"}).status_code == 302
    again = post(bidder, f"/auctions/lots/{lot.id}/bid", {"amount": "200000"})
    assert again.status_code == 409 and any("已是当前最高出价方" in m for m in messages(again))
    assert _bids(lot.id) == [(world.orgs.ent_a.id, Decimal("100000.00"), "bid")]


def test_a_bid_before_the_start_or_after_the_end_is_refused(app, world, login_as):
    early = make_lot(world, bidders=[world.orgs.ent_a], starts_in=timedelta(minutes=10),
                     ends_in=timedelta(minutes=30))
    bidder = login_as("enterprise")
    resp = post(bidder, f"/auctions/lots/{early.id}/bid", {"amount": "100000"})
    assert resp.status_code == 409 and any("竞价尚未开始" in m for m in messages(resp))
    late = make_lot(world, bidders=[world.orgs.ent_a])
    _end_now(late.id)
    resp = post(bidder, f"/auctions/lots/{late.id}/bid", {"amount": "100000"})
    assert resp.status_code == 409 and any("出价未被接受" in m for m in messages(resp))
    assert _bids(early.id) == [] and _bids(late.id) == []


# --- proxies ------------------------------------------------------------------------------------------------------

def test_a_proxy_answers_each_bid_by_one_increment_up_to_its_ceiling(app, world):
    a, b, c = world.users.enterprise, world.users.enterprise_b, bidder_accounts(world, 1)[0]
    lot = make_lot(world, bidders=[a.org, b.org, c.org])  # 100,000 start, 10,000 increment
    services.proxy_set(user=a, lot=_lot(lot.id), ceiling=Decimal("150000"))
    db.session.commit()
    assert _bids(lot.id) == [(a.org_id, Decimal("100000.00"), "proxy")]  # opens at the starting price
    _bid(b, lot.id, "110000")
    assert _bids(lot.id)[-1] == (a.org_id, Decimal("120000.00"), "proxy")
    _bid(b, lot.id, "145000")  # A's ceiling cannot pass it by a full increment: B leads
    assert _lot(lot.id).leader_org_id == b.org_id and _lot(lot.id).current_price == Decimal("145000.00")
    # two proxies meet: C (200,000) leads at 155,000, then B's 300,000 passes it
    services.proxy_set(user=c, lot=_lot(lot.id), ceiling=Decimal("200000"))
    db.session.commit()
    assert _bids(lot.id)[-1] == (c.org_id, Decimal("155000.00"), "proxy")
    services.proxy_set(user=b, lot=_lot(lot.id), ceiling=Decimal("300000"))
    db.session.commit()
    assert _bids(lot.id)[-2:] == [(c.org_id, Decimal("195000.00"), "proxy"), (b.org_id, Decimal("205000.00"), "proxy")]
    assert _lot(lot.id).leader_org_id == b.org_id
    # C's manual bid is answered by B's proxy
    _bid(c, lot.id, "250000")
    assert _bids(lot.id)[-1] == (b.org_id, Decimal("260000.00"), "proxy")
    amounts = [amount for _, amount, _ in _bids(lot.id)]
    assert all(y - x >= Decimal("10000") for x, y in zip(amounts, amounts[1:]))
    with pytest.raises(DomainError, match="代理出价上限只能提高"):
        services.proxy_set(user=b, lot=_lot(lot.id), ceiling=Decimal("290000"))
    db.session.rollback()


def test_the_leader_keeps_the_lead_when_the_challenger_cannot_pass_by_an_increment(app, world):
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org])
    _bid(a, lot.id, "100000")
    services.proxy_set(user=a, lot=_lot(lot.id), ceiling=Decimal("180000"))
    services.proxy_set(user=b, lot=_lot(lot.id), ceiling=Decimal("185000"))
    db.session.commit()
    # steps of 10,000 from 100,000: B 110k, A 120k ... A 180k; B cannot reach 190k: A leads at 180k
    assert _bids(lot.id)[-2:] == [(b.org_id, Decimal("170000.00"), "proxy"), (a.org_id, Decimal("180000.00"), "proxy")]


# --- anti-sniping -------------------------------------------------------------------------------------------------

def test_a_bid_in_the_last_minutes_extends_the_end(app, world):
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org], ends_in=timedelta(minutes=30), snipe=5, extend=5)
    original = _lot(lot.id).ends_at
    _bid(a, lot.id, "100000")  # 30 minutes before the end: no extension
    assert _lot(lot.id).ends_at == original
    row = _lot(lot.id)
    row.ends_at = row.original_ends_at = utcnow() + timedelta(minutes=2)
    db.session.commit()
    before = utcnow()
    _bid(b, lot.id, "110000")
    lot_now = _lot(lot.id)
    assert lot_now.ends_at >= before + timedelta(minutes=5) and lot_now.ends_at <= utcnow() + timedelta(minutes=5)
    assert lot_now.original_ends_at < lot_now.ends_at
    ext = db.session.scalar(select(AuctionLotEvent).where(AuctionLotEvent.lot_id == lot.id,
                                                          AuctionLotEvent.kind == "extend"))
    assert ext is not None and ext.ends_at == lot_now.ends_at and "延至" in ext.text


# --- the reserve, the close and the deposits -----------------------------------------------------------------------

def test_the_reserve_is_never_shown_to_bidders_before_the_end(app, world, login_as):
    lot = make_lot(world, bidders=[world.orgs.ent_a, world.orgs.ent_b], reserve=Decimal("987654.32"))
    secret = ("987654.32", "987,654.32", "98.77万")
    _bid(world.users.enterprise, lot.id, "100000")
    services.proxy_set(user=world.users.enterprise_b, lot=_lot(lot.id), ceiling=Decimal("876543.21"))
    db.session.commit()
    hidden_ceiling = ("876543.21", "876,543.21")
    for name in ("enterprise", "enterprise_b", "institution", "official_b"):
        client = login_as(name)
        for url in (f"/auctions/lots/{lot.id}", f"/auctions/lots/{lot.id}/state.json", f"/auctions/{lot.session_id}"):
            body = client.get(url).get_data(as_text=True)
            assert not any(s in body for s in secret), (name, url)
            if name != "enterprise_b":
                assert not any(s in body for s in hidden_ceiling), (name, url)
    anonymous = app.test_client().get(f"/auctions/lots/{lot.id}/state.json")
    assert anonymous.status_code == 200 and "reserve_price" not in anonymous.get_json()
    assert "987,654.32" in login_as("city_official").get(f"/auctions/lots/{lot.id}").get_data(as_text=True)
    _end_now(lot.id)
    state = login_as("enterprise").get(f"/auctions/lots/{lot.id}/state.json").get_json()
    assert state["phase"] == "unsold" and state["reserve_met"] is False and state["reserve_price"] == "987654.32"


def test_reserve_not_met_is_unsold_and_opens_no_deal(app, world):
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org], reserve=Decimal("150000"))
    _bid(a, lot.id, "100000")
    _bid(b, lot.id, "140000")
    _end_now(lot.id)
    assert services.lot_close(lot=lot.id) is True
    db.session.commit()
    row = _lot(lot.id)
    assert row.state == "unsold" and row.deal_id is None
    assert db.session.scalar(select(func.count(Deal.id))) == 0
    assert {d.status for d in db.session.scalars(select(AuctionDeposit))} == {"to_return"}
    event = db.session.scalar(select(AuctionLotEvent).where(AuctionLotEvent.kind == "unsold"))
    assert "未达到保留价" in event.text


def test_the_highest_bid_wins_opens_a_deal_at_its_price_and_closing_twice_decides_once(app, world, runner):
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org], reserve=Decimal("120000"))
    _bid(a, lot.id, "100000")
    _bid(b, lot.id, "123456.78")
    assert services.lot_close(lot=lot.id) is False  # not yet due
    db.session.rollback()
    _end_now(lot.id)
    result = runner.invoke(args=["auctions", "close-due"])
    assert result.exit_code == 0 and "closed 1 lot(s)" in result.output
    assert runner.invoke(args=["auctions", "close-due"]).output.strip() == "closed 0 lot(s)"
    assert services.lot_close(lot=lot.id) is False
    db.session.commit()
    row = _lot(lot.id)
    assert row.state == "sold" and row.leader_org_id == b.org_id
    deal = db.session.get(Deal, row.deal_id)
    assert deal.source == "auction" and deal.price == Decimal("123456.78") and deal.buyer_org_id == b.org_id
    assert deal.seller_org_id == world.orgs.uni.id and deal.stage == "negotiating"
    assert db.session.scalar(select(func.count(Deal.id))) == 1
    statuses = {d.org_id: d.status for d in db.session.scalars(select(AuctionDeposit))}
    assert statuses == {b.org_id: "applied", a.org_id: "to_return"}
    assert db.session.scalar(select(func.count(AuctionLotEvent.id)).where(AuctionLotEvent.kind == "sold")) == 1


def test_two_closes_at_once_decide_once(app, world):
    import threading

    a = world.users.enterprise
    lot = make_lot(world, bidders=[a.org])
    _bid(a, lot.id, "100000")
    _end_now(lot.id)
    lot_id = lot.id
    db.session.commit()
    results, errors = [], []
    barrier = threading.Barrier(4)

    def close():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(services.lot_close(lot=lot_id))
                db.session.commit()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(results) == [False, False, False, True]
    assert db.session.scalar(select(func.count(Deal.id))) == 1


def test_a_page_viewed_after_the_end_closes_the_lot_and_shows_the_history(app, world, login_as):
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org])
    _bid(a, lot.id, "100000")
    _bid(b, lot.id, "110000")
    _end_now(lot.id)
    page = login_as("enterprise").get(f"/auctions/lots/{lot.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "已成交" in body and "110,000.00元" in body and "第2次出价" in body and "成交：最高出价" in body
    assert _lot(lot.id).state == "sold"
    told = db.session.scalars(select(Notification.text).where(Notification.user_id == a.id)).all()
    assert any("保证金已标记为待退还" in t for t in told), told


def test_a_session_results_sum_the_sold_lots(app, world):
    a, b = world.users.enterprise, world.users.enterprise_b
    sold = make_lot(world, bidders=[a.org, b.org], starting=Decimal("8950000"), increment=Decimal("50000"))
    _bid(a, sold.id, "8950000")
    _bid(b, sold.id, "12300000")
    unsold = make_lot(world, bidders=[a.org])
    for lot_id in (sold.id, unsold.id):
        _end_now(lot_id)
        services.lot_close(lot=lot_id)
        db.session.commit()
    r = session_results([sold.session_id])[sold.session_id]
    assert (r.items, r.closed, r.sold) == (1, 1, 1)
    assert r.starting_total == Decimal("8950000.00") and r.final_total == Decimal("12300000.00")
    assert r.premium == Decimal("37.4")
    assert session_results([unsold.session_id])[unsold.session_id].sold == 0
    assert session_results([unsold.session_id])[unsold.session_id].premium is None


def test_deposits_are_marked_and_returned_by_the_organiser(app, world, login_as):
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org])
    _bid(a, lot.id, "100000")
    _end_now(lot.id)
    services.lot_close(lot=lot.id)
    db.session.commit()
    deposit = db.session.scalar(select(AuctionDeposit).where(AuctionDeposit.org_id == b.org_id))
    assert deposit.status == "to_return"
    assert post(login_as("enterprise"), f"/auctions/deposits/{deposit.id}/returned").status_code == 403
    assert post(login_as("city_official"), f"/auctions/deposits/{deposit.id}/returned").status_code == 302
    db.session.expire_all()
    assert db.session.get(AuctionDeposit, deposit.id).status == "returned"
    again = post(login_as("city_official"), f"/auctions/deposits/{deposit.id}/returned")
    assert again.status_code == 409



def auction_objects(world, o) -> None:
    """For the access matrix: county A's official's published session with one lot of the city university's result
    (objs.achievement), running for a day; county A's enterprise has a deposit held, the second enterprise a deposit
    marked for return (objs.auction_deposit)."""
    from datetime import timedelta

    from market.models.auction import AuctionDeposit, AuctionLot, AuctionSession
    from market.models.base import utcnow

    official = world.users.official
    session = AuctionSession(title="怀远县科技成果竞价专场", description="", region_id=world.regions["county_a"].id,
                             organiser_id=official.id, state="published", published_at=utcnow())
    db.session.add(session)
    db.session.flush()
    now = utcnow()
    lot = AuctionLot(session_id=session.id, achievement_id=o.achievement.id, seller_org_id=o.achievement.org_id,
                     starting_price=Decimal("100000.00"), reserve_price=Decimal("150000.00"),
                     increment=Decimal("10000.00"), deposit_amount=Decimal("5000.00"),
                     starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
                     original_ends_at=now + timedelta(days=1), snipe_window_minutes=5, extend_minutes=5,
                     state="open", bid_count=0, version=0)
    db.session.add(lot)
    db.session.flush()
    held = AuctionDeposit(lot_id=lot.id, org_id=world.orgs.ent_a.id, amount=Decimal("5000.00"),
                          recorded_by_id=official.id, status="held")
    back = AuctionDeposit(lot_id=lot.id, org_id=world.orgs.ent_b.id, amount=Decimal("5000.00"),
                          recorded_by_id=official.id, status="to_return")
    upcoming = AuctionLot(session_id=session.id, achievement_id=o.achievement.id, seller_org_id=o.achievement.org_id,
                          starting_price=Decimal("200000.00"), reserve_price=None, increment=Decimal("10000.00"),
                          deposit_amount=Decimal("0.00"), starts_at=now + timedelta(days=2),
                          ends_at=now + timedelta(days=3), original_ends_at=now + timedelta(days=3),
                          snipe_window_minutes=5, extend_minutes=5, state="open", bid_count=0, version=0)
    db.session.add_all([held, back, upcoming])
    db.session.commit()
    o.auction_session, o.auction_lot, o.auction_deposit = session, lot, back
    o.auction_upcoming = upcoming


def valid_lot_form(o) -> dict:
    """A lot form the service accepts for objs.auction_session (a published result of county A)."""
    from datetime import timedelta

    start = (utcnow() + timedelta(days=2, hours=8)).strftime("%Y-%m-%dT%H:%M")  # Beijing time
    end = (utcnow() + timedelta(days=3, hours=8)).strftime("%Y-%m-%dT%H:%M")
    return {"achievement_id": str(o.achievement.id), "starting_price": "100000", "reserve_price": "",
            "increment": "5000", "deposit_amount": "1000", "starts_at": start, "ends_at": end,
            "snipe_window_minutes": "5", "extend_minutes": "5"}


def test_the_demo_has_a_session_with_an_ended_a_running_and_an_upcoming_lot(app, runner, monkeypatch, tmp_path):
    monkeypatch.setenv("MARKET_CSL_PATH", str(tmp_path / "no-such-file.jsonl"))
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    [session] = db.session.scalars(select(AuctionSession)).all()
    assert session.state == "published" and session.organiser.username == "kjj_city"
    now = utcnow()
    assert [lot.phase(now) for lot in session.lots] == ["sold", "running", "upcoming"]
    ended = session.lots[0]
    assert ended.current_price == Decimal("1100000.00") and ended.deal.price == Decimal("1100000.00")
    r = session_results([session.id])[session.id]
    assert (r.items, r.sold, r.premium) == (3, 1, Decimal("37.5"))
    page = app.test_client().get(f"/auctions/lots/{session.lots[1].id}").get_data(as_text=True)
    assert "竞价中" in page and "1,650,000.00元" in page and "1,600,000" not in page.split("保留价")[1][:80]


def _sold_at_premium(world) -> AuctionLot:
    """A lot of the city's session started at 895 万元 and sold at 1,230 万元 (溢价率 37.4 %), ended just now."""
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org], starting=Decimal("8950000"), increment=Decimal("50000"))
    _bid(a, lot.id, "8950000")
    _bid(b, lot.id, "12300000")
    _end_now(lot.id)
    services.lot_close(lot=lot.id)
    db.session.commit()
    return lot


def test_officials_see_the_results_of_their_scope_and_export_them(app, world, login_as):
    lot = _sold_at_premium(world)
    city = login_as("city_official")
    page = city.get("/auctions/results")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "蚌埠市科技成果竞价专场" in body and "37.4%" in body and "1,230.00" in body
    csv = city.get("/auctions/results?format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data().decode("utf-8-sig")
    assert "蚌埠市科技成果竞价专场" in text and "12300000.00" in text and "37.4" in text
    assert city.get("/auctions/results?format=xlsx").status_code == 200
    assert city.get("/auctions/results?format=pdf").status_code == 400
    other = login_as("official_b").get("/auctions/results").get_data(as_text=True)
    assert "蚌埠市科技成果竞价专场" not in other  # another county's official: not their scope
    assert "蚌埠市科技成果竞价专场" not in login_as("official_b").get("/auctions/results?format=csv").get_data().decode("utf-8-sig")
    assert login_as("enterprise").get("/auctions/results").status_code == 403
    assert 'href="/auctions/results' in city.get("/dashboard/").get_data(as_text=True)  # the dashboard's 竞价 tab
    # the session page shows the organiser the same figures
    session_page = city.get(f"/auctions/{lot.session_id}").get_data(as_text=True)
    assert "专场结果" in session_page and "37.4%" in session_page
    assert "专场结果" not in login_as("enterprise").get(f"/auctions/{lot.session_id}").get_data(as_text=True)


def test_the_live_state_masks_bidders_and_follows_each_bid(app, world, login_as):
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org])
    ent_a, ent_b = login_as("enterprise"), login_as("enterprise_b")
    before = ent_a.get(f"/auctions/lots/{lot.id}/state.json").get_json()
    assert before["phase"] == "running" and before["current_price"] is None and before["next_amount"] == "100000.00"
    assert before["may_bid"] is True and before["bid_count"] == 0
    assert post(ent_a, f"/auctions/lots/{lot.id}/bid", {"amount": "100000"}).status_code == 302
    mine = ent_a.get(f"/auctions/lots/{lot.id}/state.json").get_json()
    theirs = ent_b.get(f"/auctions/lots/{lot.id}/state.json")
    assert mine["you_lead"] is True and mine["leader"] == "贵单位（001号）" and mine["version"] > before["version"]
    body = theirs.get_data(as_text=True)
    assert theirs.get_json()["leader"] == "001号竞买人" and theirs.get_json()["next_amount"] == "110000.00"
    assert world.orgs.ent_a.name not in body  # bidders see numbers, never the other bidders' names
    assert world.orgs.ent_a.name not in ent_b.get(f"/auctions/lots/{lot.id}").get_data(as_text=True)
    assert "no-store" in theirs.headers["Cache-Control"]


# --- rules found by review: equal reach, bids that no longer count, one sale per result, deposits ---------------

@pytest.mark.parametrize("ceiling", ["110000", "120000", "130000", "135000"])
def test_equal_ceilings_go_to_the_earlier_proxy_whatever_the_amount(app, world, ceiling):
    """Two proxies with the same ceiling: the earlier keeps the lead at the highest step both reach. Before, the
    winner depended on the parity of the steps (the later won at 110,000, the earlier at 120,000)."""
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org])  # 100,000 start, 10,000 increment
    services.proxy_set(user=a, lot=_lot(lot.id), ceiling=Decimal(ceiling))
    db.session.commit()
    services.proxy_set(user=b, lot=_lot(lot.id), ceiling=Decimal(ceiling))
    db.session.commit()
    reach = (Decimal(ceiling) - Decimal("100000")) // Decimal("10000")
    final = Decimal("100000") + reach * Decimal("10000")
    assert (_lot(lot.id).leader_org_id, _lot(lot.id).current_price) == (a.org_id, final)
    amounts = [amount for _, amount, _ in _bids(lot.id)]
    assert amounts == sorted(set(amounts)) and all(y - x >= Decimal("10000") for x, y in zip(amounts, amounts[1:]))


def test_a_higher_reach_wins_one_increment_above_the_other(app, world):
    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org])
    services.proxy_set(user=a, lot=_lot(lot.id), ceiling=Decimal("150000"))
    db.session.commit()
    services.proxy_set(user=b, lot=_lot(lot.id), ceiling=Decimal("175000"))  # the later but higher
    db.session.commit()
    assert _bids(lot.id)[-2:] == [(a.org_id, Decimal("150000.00"), "proxy"), (b.org_id, Decimal("160000.00"), "proxy")]


def test_bids_of_an_organisation_that_lost_its_verification_do_not_count(app, world):
    """Its proxy no longer answers, and at the close the highest bid of a bidder whose bids count wins."""
    from market.models import Organization

    a, b = world.users.enterprise, world.users.enterprise_b
    lot = make_lot(world, bidders=[a.org, b.org])
    services.proxy_set(user=a, lot=_lot(lot.id), ceiling=Decimal("500000"))
    db.session.commit()
    _bid(b, lot.id, "150000")
    assert _lot(lot.id).leader_org_id == a.org_id  # A's proxy answered at 160,000
    db.session.get(Organization, a.org_id).status = "rejected"
    db.session.commit()
    _bid(b, lot.id, "170000")
    assert (_lot(lot.id).leader_org_id, _lot(lot.id).current_price) == (b.org_id, Decimal("170000.00"))
    db.session.get(Organization, b.org_id).status = "verified"
    lot2 = make_lot(world, bidders=[a.org, b.org])
    db.session.get(Organization, a.org_id).status = "verified"
    db.session.commit()
    _bid(b, lot2.id, "100000")
    _bid(a, lot2.id, "200000")
    db.session.get(Organization, a.org_id).status = "rejected"
    db.session.commit()
    _end_now(lot2.id)
    assert services.lot_close(lot=lot2.id)
    db.session.commit()
    closed = _lot(lot2.id)
    assert (closed.state, closed.leader_org_id, closed.current_price) == ("sold", b.org_id, Decimal("100000.00"))
    deal = db.session.get(Deal, closed.deal_id)
    assert (deal.buyer_org_id, deal.price) == (b.org_id, Decimal("100000.00"))


def test_a_result_withdrawn_during_the_auction_closes_unsold(app, world):
    a = world.users.enterprise
    lot = make_lot(world, bidders=[a.org])
    _bid(a, lot.id, "100000")
    _lot(lot.id).achievement.status = "closed"
    db.session.commit()
    _end_now(lot.id)
    assert services.lot_close(lot=lot.id)
    db.session.commit()
    closed = _lot(lot.id)
    assert closed.state == "unsold" and closed.deal_id is None and db.session.scalar(select(func.count(Deal.id))) == 0
    assert db.session.scalar(select(AuctionDeposit.status).where(AuctionDeposit.lot_id == lot.id)) == "to_return"
    assert db.session.scalar(select(AuctionLotEvent.text).where(AuctionLotEvent.kind == "unsold")).startswith("流拍：成果已撤回")


def test_a_raised_deposit_must_be_covered_and_a_cancelled_session_takes_no_deposit(app, world):
    a = world.users.enterprise
    lot = make_lot(world, bidders=[a.org])  # 5,000 recorded
    _lot(lot.id).deposit_amount = Decimal("50000.00")  # as lot_update before the start
    db.session.commit()
    with pytest.raises(DomainError, match="保证金已调整为50,000.00元"):
        services.bid_place(user=a, lot=_lot(lot.id), amount=Decimal("100000"))
    db.session.rollback()
    cancelled = make_lot(world, state="cancelled", starts_in=timedelta(hours=1), ends_in=timedelta(hours=2))
    with pytest.raises(DomainError, match="专场已取消"):
        services.deposit_record(user=world.users.city_official, lot=_lot(cancelled.id), org_id=world.orgs.ent_b.id,
                                amount=Decimal("5000"))
    db.session.rollback()


def test_the_results_page_counts_a_lot_past_its_end(app, world, login_as):
    a = world.users.enterprise
    lot = make_lot(world, bidders=[a.org])
    _bid(a, lot.id, "120000")
    _end_now(lot.id)
    page = login_as("city_official").get("/auctions/results").get_data(as_text=True)
    assert _lot(lot.id).state == "sold" and "12.00" in page


def test_a_result_on_a_listed_price_or_sold_cannot_be_put_up(app, world):
    """One sale at a time, both ways: transfers refuses a 挂牌 of a result in an open lot; a lot is refused for a
    result on an open 挂牌, or sold at a public price with its deal still live."""
    from market.deals.services import deal_open_at_price
    from market.models import PriceListing
    from tests import factories

    achievement = factories.achievement(owner=world.users.institution, field=world.fields["materials"],
                                        status="published")
    session = AuctionSession(title="蚌埠市科技成果竞价专场", region_id=world.regions["city"].id,
                             organiser_id=world.users.city_official.id, state="draft")
    db.session.add(session)
    now = utcnow()
    listing = PriceListing(achievement_id=achievement.id, org_id=achievement.org_id, price=Decimal("50000.00"),
                           starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=10), status="open",
                           created_by_id=world.users.institution.id)
    db.session.add(listing)
    db.session.commit()
    terms = dict(starting_price=Decimal("100000"), reserve_price=None, increment=Decimal("10000"),
                 deposit_amount=Decimal("0"), starts_at=now + timedelta(hours=9), ends_at=now + timedelta(hours=10),
                 token=form_token())
    with pytest.raises(DomainError, match="正在挂牌交易中"):
        services.lot_create(user=world.users.city_official, session=session, achievement_id=achievement.id, **terms)
    db.session.rollback()
    listing = db.session.get(PriceListing, listing.id)
    listing.status = "withdrawn"
    deal_open_at_price(achievement=achievement, buyer_org=world.orgs.ent_a, price=Decimal("50000.00"),
                       source="listed", user=world.users.enterprise, text="摘牌")
    db.session.commit()
    with pytest.raises(DomainError, match="已通过挂牌或竞价售出"):
        services.lot_create(user=world.users.city_official, session=db.session.get(AuctionSession, session.id),
                            achievement_id=achievement.id, **terms)
    db.session.rollback()


def test_the_results_tab_counts_the_lots_that_ended_in_the_dashboards_period_and_region(app, world, login_as):
    """The dashboard's tabs carry its region and period; the 竞价 tab counts the lots whose end (Beijing date)
    falls in that period, in sessions of that region: a lot sold at 23:30 on 31 March (Beijing) is the first
    quarter's, one ending 30 minutes later the second's; the export says which period it holds; a county under the
    city holds neither city session; another county's official cannot ask for the city."""
    from datetime import datetime, timezone

    from sqlalchemy import update

    sold = _sold_at_premium(world)
    later = make_lot(world, starting=Decimal("100000"))
    _end_now(later.id)
    services.lot_close(lot=later.id)
    db.session.commit()
    march_31 = datetime(2025, 3, 31, 15, 30, tzinfo=timezone.utc)  # 23:30 in Beijing
    april_1 = datetime(2025, 3, 31, 16, 30, tzinfo=timezone.utc)  # 00:30 on 1 April in Beijing
    for lot_id, ends in ((sold.id, march_31), (later.id, april_1)):
        db.session.execute(update(AuctionLot).where(AuctionLot.id == lot_id).values(
            starts_at=ends - timedelta(hours=2), ends_at=ends, original_ends_at=ends))
    db.session.commit()
    sold_session, later_session = sold.session_id, later.session_id
    city = login_as("city_official")
    q1 = city.get("/auctions/results?period=quarter&year=2025&quarter=1").get_data(as_text=True)
    assert f'href="/auctions/{sold_session}"' in q1 and f'href="/auctions/{later_session}"' not in q1
    assert "2025年第1季度" in q1 and "37.4%" in q1 and "1,230.00" in q1
    assert 'href="/auctions/results?format=csv&amp;period=quarter&amp;year=2025&amp;quarter=1"' in q1
    q2 = city.get("/auctions/results?period=quarter&year=2025&quarter=2").get_data(as_text=True)
    assert f'href="/auctions/{later_session}"' in q2 and f'href="/auctions/{sold_session}"' not in q2
    assert "37.4%" not in q2 and "1,230.00" not in q2
    this_year = city.get("/auctions/results").get_data(as_text=True)
    assert "本期间没有结束的竞价拍品" in this_year and f'href="/auctions/{sold_session}"' not in this_year
    csv = city.get("/auctions/results?format=csv&period=quarter&year=2025&quarter=1").get_data().decode("utf-8-sig")
    assert "2025年第1季度" in csv and "12300000.00" in csv and "37.4" in csv
    csv = city.get("/auctions/results?format=csv&period=quarter&year=2025&quarter=2").get_data().decode("utf-8-sig")
    assert "12300000.00" not in csv and "2025年第2季度" in csv
    county = city.get(f"/auctions/results?region={world.regions['county_a'].id}&period=year&year=2025")
    assert county.status_code == 200 and "本期间没有结束的竞价拍品" in county.get_data(as_text=True)
    refused = login_as("official_b").get(f"/auctions/results?region={world.regions['city'].id}&period=year&year=2025")
    assert refused.status_code == 403 and "您无权查看该区域的数据" in refused.get_data(as_text=True)
    # the dashboard's 竞价 tab keeps the period it shows
    dash = city.get("/dashboard/?period=quarter&year=2025&quarter=1").get_data(as_text=True)
    assert 'href="/auctions/results?period=quarter&amp;year=2025&amp;quarter=1"' in dash
