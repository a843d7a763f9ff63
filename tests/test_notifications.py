"""In-app notifications: who gets one, the unread count in the header, the list, marking read."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from market.deals import services as deal_services
from market.extensions import db
from market.models import Notification
from market.notifications.queries import unread_count
from market.notifications.services import notify
from tests import factories
from tests.helpers import form_token, is_login_redirect, post


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


def unread_badge(client) -> int | None:
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'id="unread-count">(\d+)<', page)
    return int(match.group(1)) if match else None


def test_interest_notifies_the_owner_with_a_header_count(world, login_as):
    achievement = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
    colleague = factories.user(role="institution", org=world.orgs.uni)
    db.session.commit()
    owner = login_as("institution")
    assert unread_badge(owner) is None
    resp = post(login_as("enterprise"), f"/deals/interest/achievement/{achievement.id}",
                {"message": "希望采购该技术用于生产线。", "form_token": form_token("n")})
    assert resp.status_code == 302
    assert unread_badge(owner) == 1
    # every active user of the owning organisation is told, the author is not
    recipients = set(db.session.scalars(select(Notification.user_id)))
    assert recipients == {world.users.institution.id, colleague.id}
    assert unread_count(world.users.enterprise) == 0
    page = owner.get("/notifications/").get_data(as_text=True)
    assert "怀远甲企业有限公司 对《" in page and "表达了合作意向，请处理" in page


def test_open_marks_read_and_follows_the_local_link(world, login_as):
    notify(users=[world.users.enterprise], kind="test", text="请处理对接", url="/deals/")
    notify(users=[world.users.enterprise], kind="test", text="外部链接", url="//evil.example/x")
    db.session.commit()
    first, evil = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    c = login_as("enterprise")
    assert unread_badge(c) == 2
    resp = post(c, f"/notifications/{first.id}/open")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/deals/")
    db.session.refresh(first)
    assert first.read_at is not None
    resp = post(c, f"/notifications/{evil.id}/open")
    assert resp.status_code == 302 and "evil.example" not in resp.headers["Location"]
    assert unread_badge(c) is None
    page = c.get("/notifications/?unread=1").get_data(as_text=True)
    assert "请处理对接" not in page


def test_nobody_opens_someone_elses_notification(world, login_as):
    notify(users=[world.users.enterprise], kind="test", text="私人通知", url="/deals/")
    db.session.commit()
    note = db.session.scalar(select(Notification))
    other = login_as("enterprise_b")
    assert post(other, f"/notifications/{note.id}/open").status_code == 404
    assert "私人通知" not in other.get("/notifications/").get_data(as_text=True)
    db.session.refresh(note)
    assert note.read_at is None


def test_read_all_only_touches_own(world, login_as):
    notify(users=[world.users.enterprise, world.users.enterprise, world.users.enterprise_b], kind="test", text="x", url="/")
    notify(users=[world.users.enterprise], kind="test", text="y", url="/")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 3  # duplicates collapse
    assert post(login_as("enterprise"), "/notifications/read-all").status_code == 302
    assert unread_count(world.users.enterprise) == 0
    assert unread_count(world.users.enterprise_b) == 1


def test_decisions_and_new_deals_notify_who_must_act(world, login_as):
    achievement = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="published")
    db.session.commit()
    interest = deal_services.interest_create(user=world.users.enterprise, listing=achievement,
                                             message="希望采购该技术。", token=form_token("m"))
    db.session.commit()
    assert post(login_as("institution"), f"/deals/interests/{interest.id}/decide", {"decision": "accept"}).status_code == 302
    kinds = {(n.user_id, n.kind) for n in db.session.scalars(select(Notification))}
    assert (world.users.enterprise.id, "interest_accepted") in kinds
    assert (world.users.broker.id, "deal_unassigned") in kinds  # the enterprise is in the broker's county
    assert not any(uid == world.users.official_b.id for uid, _ in kinds)


def test_pages_need_a_sign_in_and_tolerate_odd_arguments(client, world, login_as):
    assert is_login_redirect(client.get("/notifications/"))
    c = login_as("official")
    for query in ("?page=-1", "?page=abc", "?unread=%00", "?page=99999999"):
        assert c.get("/notifications/" + query).status_code == 200
    assert post(c, "/notifications/99999/open").status_code == 404


def test_a_registration_decision_reaches_the_submitter_the_seller_s_members_and_the_broker(app, world):
    """登记 decisions (issue 17 item 1): the submitter, every active member of the selling organisation (they share
    its records) and the contract's broker are told; the buyer and the 登记员 who decided are not."""
    from datetime import datetime, timezone

    from market.models import Contract, RegPoint, User
    from market.registration.services import registration_decide

    point = RegPoint(name="怀远县技术合同登记点", kind="bureau", region_id=world.regions["county_a"].id,
                     division="340321", serial=1)
    db.session.add(point)
    db.session.flush()
    registrar = User(username="reg_note", name="登记员乙", role="registrar", reg_point_id=point.id)
    registrar.set_password(factories.PASSWORD)
    db.session.add(registrar)
    colleague = factories.user(role="enterprise", org=world.orgs.ent_a)
    contract = factories.contract(buyer=world.orgs.ent_b, seller=world.orgs.ent_a, title="待登记的合同")
    db.session.flush()
    db.session.execute(db.update(Contract).where(Contract.id == contract.id).values(
        reg_status="submitted", reg_request="new", reg_point_id=point.id, broker_id=world.users.broker.id,
        submitted_by_id=world.users.enterprise.id, submitted_at=datetime.now(timezone.utc)))
    db.session.commit()
    db.session.refresh(contract)
    registration_decide(contract=contract, user=registrar, decision="return", reason="扫描件缺少签字页")
    db.session.commit()
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == "contract_reg_return")))
    assert told == {world.users.enterprise.id, colleague.id, world.users.broker.id}
    text = db.session.scalar(select(Notification.text).where(Notification.user_id == colleague.id))
    assert "扫描件缺少签字页" in text
