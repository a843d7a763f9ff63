"""The clerks' review queue (issue 17 item 7): days waiting in China dates, the organisation and its state, batch
approval checked per listing, 退回 with a reason next to its field, and the stock reasons administrators keep."""
from __future__ import annotations

import os
import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import Demand, ListingEvent, ReturnReason
from market.review.queries import china_today
from market.templating import CHINA_TZ
from tests import factories
from tests.helpers import Poster, client_for, count, diff, messages, snapshot

# forms and permissions do not depend on the database kind: run once (SQLite); dates, queue and batch on both
ONCE = pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                          reason="independent of the database kind: run once, in the SQLite run")


def _pending(world, owner: str = "enterprise", *, title: str, submitted: datetime) -> Demand:
    """A pending need of `owner`'s organisation, submitted for review at `submitted` (an event row, as the
    owner's 提交审核 writes it)."""
    d = factories.demand(owner=getattr(world.users, owner), field=world.fields["materials"], status="pending",
                         title=title)
    db.session.add(ListingEvent(kind="demand", listing_id=d.id, actor_id=d.owner_id, from_status="draft",
                                to_status="pending", at=submitted))
    return d


def _china_midnight(days_ago: int = 0) -> datetime:
    return datetime.combine(china_today() - timedelta(days=days_ago), time.min, CHINA_TZ)


def _rows(page: str) -> dict[str, str]:
    """title -> the text of its row in the queue."""
    out = {}
    for block in re.findall(r'<li class="list-group-item review-row".*?</li>', page, re.S):
        title = re.search(r'<a href="[^"]+" id="title-\d+">([^<]+)</a>', block).group(1)
        out[title] = " ".join(re.sub(r"<[^>]+>", " ", block).split())
    return out


def test_queue_shows_submission_days_waiting_and_the_organisation(app, world):
    # China dates, not UTC ones: 23:30 yesterday in Beijing is 15:30 UTC, the same UTC date as today's 00:00
    _pending(world, title="昨晚提交的需求", submitted=_china_midnight() - timedelta(minutes=30))
    _pending(world, title="今天零点提交的需求", submitted=_china_midnight())
    _pending(world, title="三天前提交的需求", submitted=_china_midnight(3) + timedelta(minutes=1))
    late = _pending(world, "enterprise_b", title="五河企业的需求", submitted=_china_midnight(9))
    db.session.commit()
    world.orgs.ent_b.status = "rejected"  # its organisation lost its verification since
    db.session.commit()

    page = client_for(app, world.users.official).get("/review/?kind=demand").get_data(as_text=True)
    rows = _rows(page)
    assert list(rows) == ["三天前提交的需求", "昨晚提交的需求", "今天零点提交的需求"]  # the longest waiting first
    assert "已等待 1 天" in rows["昨晚提交的需求"] and "已等待 0 天" in rows["今天零点提交的需求"]
    assert "已等待 3 天" in rows["三天前提交的需求"]
    assert "提交于 " + (_china_midnight() - timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M") in rows["昨晚提交的需求"]
    assert "怀远甲企业有限公司 已认证" in rows["三天前提交的需求"]
    assert "最久的已 3 天" in page  # county A's official: the older need of county B is not theirs

    city = client_for(app, world.users.city_official).get("/review/?kind=demand").get_data(as_text=True)
    assert "五河乙企业有限公司 认证未通过" in _rows(city)["五河企业的需求"] and "最久的已 9 天" in city
    assert late.title not in page


def test_batch_approval_checks_each_listing_like_a_single_one(app, world):
    mine_1 = _pending(world, title="县内待审需求一", submitted=_china_midnight(2))
    mine_2 = _pending(world, title="县内待审需求二", submitted=_china_midnight(1))
    other = _pending(world, "enterprise_b", title="五河县的待审需求", submitted=_china_midnight(1))
    decided = _pending(world, title="已被他人处理的需求", submitted=_china_midnight(1))
    db.session.commit()
    decided.status = "published"  # another official published it after the page was loaded
    db.session.commit()
    events_before = count(ListingEvent)

    p = Poster(client_for(app, world.users.official))
    resp = p.post("/review/batch", {"kind": "demand", "ids": [mine_1.id, mine_2.id, other.id, decided.id, 99999]})
    assert resp.status_code == 302
    db.session.expire_all()
    assert [db.session.get(Demand, d.id).status for d in (mine_1, mine_2, other, decided)] == [
        "published", "published", "pending", "published"]
    assert count(ListingEvent) == events_before + 2  # one per approval; nothing for the refused or skipped
    flashed = p.get("/review/?kind=demand").get_data(as_text=True)
    assert "已批量审核通过并发布 2 条" in flashed
    assert "“已被他人处理的需求”已由其他审核人员处理" in flashed
    assert "2 条不存在或不在您的审核范围内，未做处理" in flashed

    before = snapshot()
    for data in ({"kind": "demand"}, {"kind": "demand", "ids": ["abc", "-3", "9" * 30]}):
        resp = p.post("/review/batch", data)
        assert resp.status_code == 303
        assert "请至少勾选一条" in p.get("/review/").get_data(as_text=True)
    # the wrong library (nothing found), another county's official, and roles that do not review
    resp = p.post("/review/batch", {"kind": "achievement", "ids": [other.id]})
    assert resp.status_code == 302
    assert Poster(client_for(app, world.users.official)).post(
        "/review/batch", {"kind": "demand", "ids": [other.id]}).status_code == 302
    for name in ("enterprise", "broker", "unverified"):
        resp = Poster(client_for(app, getattr(world.users, name))).post("/review/batch",
                                                                         {"kind": "demand", "ids": [other.id]})
        assert resp.status_code == 403, name
    assert not {k: v for k, v in diff(before, snapshot()).items() if k != "user_sessions"}


@ONCE
def test_return_without_reason_rerenders_the_form_with_the_error_at_the_field(app, world):
    d = _pending(world, title="待退回的需求", submitted=_china_midnight(1))
    stock = factories.return_reason("联系方式缺失或无效，请填写可联系的电话")
    db.session.commit()
    p = Poster(client_for(app, world.users.official))

    resp = p.post(f"/review/demands/{d.id}", {"decision": "return", "reason": "   "})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    field = re.search(r'<textarea[^>]*name="reason"[^>]*>.*?</textarea>\s*<div class="invalid-feedback"[^>]*>([^<]+)</div>',
                      page, re.S)
    assert field and "请填写退回理由" in field.group(1) and 'is-invalid' in page
    assert "提交的内容有误，请按提示修改。" in messages(resp)
    assert "400 · 请求有误" not in page and stock.text in page  # the stock reasons are offered on the form
    db.session.expire_all()
    assert db.session.get(Demand, d.id).status == "pending"

    resp = p.post(f"/review/demands/{d.id}", {"decision": "return", "reason_id": stock.id, "reason": "手机号只有7位"})
    assert resp.status_code == 302
    db.session.expire_all()
    returned = db.session.get(Demand, d.id)
    assert (returned.status, returned.return_reason) == ("returned", f"{stock.text}；手机号只有7位")


@ONCE
def test_stock_reasons_are_kept_by_administrators_only(app, world):
    admin = Poster(client_for(app, world.users.admin))
    assert admin.post("/admin/reasons", {"text": "  重复发布  "}).status_code == 302
    reason = db.session.scalar(select(ReturnReason).where(ReturnReason.text == "重复发布"))
    assert reason is not None

    resp = admin.post("/admin/reasons", {"text": "重复发布"})
    assert resp.status_code == 400 and "已有相同的退回理由" in " ".join(messages(resp))
    resp = admin.post("/admin/reasons", {"text": ""})
    assert resp.status_code == 400 and "请填写理由" in " ".join(messages(resp))
    assert count(ReturnReason) == 1

    others = {name: Poster(client_for(app, getattr(world.users, name)))
              for name in ("enterprise", "institution", "broker", "official", "city_official", "unverified")}
    before = snapshot()
    for name, p in others.items():
        assert p.get("/admin/reasons").status_code == 403, name
        for url, data in (("/admin/reasons", {"text": "越权添加"}),
                          (f"/admin/reasons/{reason.id}/edit", {"text": "越权修改"}),
                          (f"/admin/reasons/{reason.id}/delete", {})):
            assert p.post(url, data).status_code == 403, (name, url)
    assert not diff(before, snapshot())
    anonymous = app.test_client()
    assert anonymous.get("/admin/reasons").status_code == 302

    assert "重复发布" in admin.get("/admin/reasons").get_data(as_text=True)
    assert admin.post(f"/admin/reasons/{reason.id}/edit", {"text": "重复发布，与已发布条目相同"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(ReturnReason, reason.id).text == "重复发布，与已发布条目相同"
    page = admin.get("/admin/reasons").get_data(as_text=True)
    assert 'data-confirm="确定删除常用退回理由“重复发布，与已发布条目相同”吗？"' in page
    assert admin.post(f"/admin/reasons/{reason.id}/delete").status_code == 302
    assert count(ReturnReason) == 0


@ONCE
def test_init_reference_seeds_the_stock_reasons_once(app, runner):
    from market.models.review_reason import DEFAULT_RETURN_REASONS

    db.session.commit()
    assert "常用退回理由 7 条" in runner.invoke(args=["init-reference"]).output
    db.session.expire_all()
    assert [r.text for r in db.session.scalars(select(ReturnReason).order_by(ReturnReason.sort))] == list(
        DEFAULT_RETURN_REASONS)
    assert "常用退回理由" not in runner.invoke(args=["init-reference"]).output
