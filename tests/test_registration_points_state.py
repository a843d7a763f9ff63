"""Deactivating and reactivating 登记点 and 登记员 (issue 16 item 4), and the 节假日安排 page, by role.

The rule: a deactivated 登记点 receives no new submission; its open submissions move at once (to the point picked,
else to the point now competent for each) with a 移交登记点 step, and are decided there; with nowhere to go the
deactivation is refused (409). A deactivated 登记员 cannot sign in or act."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from market.extensions import db
from market.models import Contract, RegPoint, RegStep, User, WorkCalendarDay
from tests.helpers import assert_refused, count, login
from tests.test_registration_workflow import client_for, decide, post, reg, submitted  # noqa: F401 - fixture


def _state(app, user, point, **data):
    data.setdefault("active", "0" if point.active else "1")
    return post(client_for(app, user), f"/registration/points/{point.id}/state", data)


def test_only_admins_and_city_officials_change_a_points_state(app, world, reg):
    for name in ("official", "enterprise", "institution", "broker"):
        assert _state(app, getattr(world.users, name), reg.point_a, confirm="y").status_code == 403, name
    assert _state(app, reg.registrar_a, reg.point_a, confirm="y").status_code == 403
    assert app.test_client().post(f"/registration/points/{reg.point_a.id}/state").status_code in (302, 400)
    db.session.expire_all()
    assert db.session.get(RegPoint, reg.point_a.id).active
    # the box must be ticked
    resp = _state(app, world.users.city_official, reg.point_a)
    assert_refused(resp, "请勾选“我已确认”", codes=(400,))
    db.session.expire_all()
    assert db.session.get(RegPoint, reg.point_a.id).active


def test_deactivating_a_point_moves_its_open_submissions_and_takes_no_new_ones(app, world, reg):
    contract = submitted(app, world, reg)
    assert contract.reg_point_id == reg.point_a.id
    resp = _state(app, world.users.city_official, reg.point_a, confirm="y")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    db.session.expire_all()
    contract = db.session.get(Contract, contract.id)
    assert not db.session.get(RegPoint, reg.point_a.id).active
    assert contract.reg_point_id == reg.point_city.id and contract.reg_status == "submitted"  # the competent one now
    step = db.session.scalars(select(RegStep).where(RegStep.contract_id == contract.id, RegStep.action == "transfer")).one()
    assert "停用" in step.reason
    # the old point's 登记员 cannot act; the new point's can
    assert decide(app, reg.registrar_a, contract, decision="register", tech_amount="700000.00").status_code in (403, 404)
    assert decide(app, reg.registrar_city, contract, decision="register", tech_amount="700000.00").status_code == 302
    # a new submission from the same seller goes to the city's point
    second = submitted(app, world, reg)
    assert second.reg_point_id == reg.point_city.id
    # the submitter still sees both
    page = client_for(app, world.users.enterprise).get("/registration/").get_data(as_text=True)
    assert contract.title in page
    # reactivated: new submissions come back, the moved ones stay
    assert _state(app, world.users.admin, db.session.get(RegPoint, reg.point_a.id), confirm="y").status_code == 302
    db.session.expire_all()
    assert db.session.get(RegPoint, reg.point_a.id).active
    assert db.session.get(Contract, second.id).reg_point_id == reg.point_city.id
    assert submitted(app, world, reg).reg_point_id == reg.point_a.id


def test_a_point_with_nowhere_to_send_its_submissions_is_not_deactivated(app, world, reg):
    contract = submitted(app, world, reg)
    reg.point_city.active = False
    db.session.commit()
    resp = _state(app, world.users.admin, reg.point_a, confirm="y")
    assert_refused(resp, "没有其他在用的登记点", codes=(409,))
    db.session.expire_all()
    assert db.session.get(RegPoint, reg.point_a.id).active
    assert db.session.get(Contract, contract.id).reg_point_id == reg.point_a.id
    # an explicit target that is not active: refused at its field
    resp = _state(app, world.users.admin, reg.point_a, confirm="y", move_to=str(reg.point_city.id))
    assert_refused(resp, "请选择一个在用的其他登记点", codes=(400,))


def test_a_deactivated_registrar_cannot_sign_in_or_act(app, world, reg):
    contract = submitted(app, world, reg)
    url = f"/registration/registrars/{reg.registrar_a.id}/state"
    for name in ("official", "enterprise", "broker"):
        assert post(client_for(app, getattr(world.users, name)), url, {"active": "0", "confirm": "y"}).status_code == 403
    assert_refused(post(client_for(app, world.users.admin), url, {"active": "0"}), "请勾选“我已确认”", codes=(400,))
    signed_in = app.test_client()
    login(signed_in, "reg_a")
    assert signed_in.get("/registration/").status_code == 200
    resp = post(client_for(app, world.users.city_official), url, {"active": "0", "confirm": "y"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert not db.session.get(User, reg.registrar_a.id).active
    assert signed_in.get("/registration/").status_code == 302  # its session ended
    assert decide(app, db.session.get(User, reg.registrar_a.id), contract, decision="register",
                  tech_amount="700000.00").status_code in (302, 403)
    assert db.session.get(Contract, contract.id).reg_status == "submitted"
    # again: already deactivated
    assert_refused(post(client_for(app, world.users.admin), url, {"active": "0", "confirm": "y"}), "已停用", codes=(409,))
    # an administrator's account is not a 登记员's
    other = f"/registration/registrars/{world.users.enterprise.id}/state"
    assert post(client_for(app, world.users.admin), other, {"active": "0", "confirm": "y"}).status_code == 404
    assert post(client_for(app, world.users.admin), url, {"active": "1", "confirm": "y"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, reg.registrar_a.id).active


def test_the_holiday_calendar_is_edited_by_admins_and_city_officials(app, world, reg):
    for name in ("official", "enterprise", "broker"):
        assert client_for(app, getattr(world.users, name)).get("/registration/calendar").status_code == 403
    assert client_for(app, reg.registrar_a).get("/registration/calendar").status_code == 403
    city = client_for(app, world.users.city_official)
    assert city.get("/registration/calendar?year=2027").status_code == 200
    before = count(WorkCalendarDay)
    assert_refused(post(city, "/registration/calendar", {"day": "2027-02-06", "kind": "holiday", "name": "春节"}),
                   "该日是周末", codes=(400,))
    assert_refused(post(city, "/registration/calendar", {"day": "2027-02-08", "kind": "workday", "name": ""}),
                   "调休上班只用于周末", codes=(400,))
    assert_refused(post(city, "/registration/calendar", {"day": "2027-13-01", "kind": "", "name": ""}),
                   "请填写日期", codes=(400,))
    assert count(WorkCalendarDay) == before
    assert post(city, "/registration/calendar", {"day": "2027-02-08", "kind": "holiday", "name": "春节"}).status_code == 302
    assert db.session.get(WorkCalendarDay, date(2027, 2, 8)).workday is False
    assert post(city, "/registration/calendar", {"day": "2027-02-08", "kind": "plain", "name": ""}).status_code == 302
    db.session.expire_all()
    assert db.session.get(WorkCalendarDay, date(2027, 2, 8)) is None
