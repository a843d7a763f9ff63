"""The 登记 workflow (issue 16 item 4): 登记点 and 登记员, online submissions, who may move them, the 登记编号
sequence, the 登记证明 and its public verification, and the official figures moving only on registration."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from market.dashboard import stats
from market.extensions import db
from market.models import Contract, Notification, RegPoint, RegStep, User, WorkCalendarDay
from market.registration import queries, services
from tests import factories
from tests.helpers import Poster, assert_refused, client_for as _client_for, count, form_token, is_login_redirect
from tests.helpers import post as _post
from tests.test_contracts import PDF

YEAR = date.today().year


@pytest.fixture(autouse=True)
def _no_engine_refresh(app):
    app.config["SEARCH_SYNC_AFTER_COMMIT"] = False


_POSTERS: dict[tuple[int, int], Poster] = {}


class _Signed:
    """A signed-in client whose CSRF token is fetched once (each `post` of tests.helpers costs a GET)."""

    def __init__(self, app, user):
        key = (id(app), user.id)
        if key not in _POSTERS:
            _POSTERS.clear() if len(_POSTERS) > 50 else None
            _POSTERS[key] = Poster(_client_for(app, user))
        self.poster = _POSTERS[key]

    def get(self, *a, **kw):
        return self.poster.client.get(*a, **kw)


def client_for(app, user):
    return _Signed(app, user)


def post(client, url, data=None, **kw):
    if isinstance(client, _Signed):
        return client.poster.post(url, data, **kw)
    return _post(client, url, data, **kw)


def _registrar(point: RegPoint, username: str) -> User:
    u = User(username=username, name=f"登记员{username}", role="registrar", reg_point_id=point.id)
    u.set_password(factories.PASSWORD)
    db.session.add(u)
    db.session.flush()
    return u


@pytest.fixture
def reg(world):
    """登记点 on county A (怀远县) and on the city node, each with a 登记员; a second broker's organisation."""
    r = world.regions
    county_a = RegPoint(name="怀远县技术合同登记点", kind="bureau", region_id=r["county_a"].id, division="340321", serial=1)
    city = RegPoint(name="蚌埠市技术合同登记中心", kind="agency", region_id=r["city"].id, division="340300", serial=1)
    db.session.add_all([county_a, city])
    db.session.flush()
    out = SimpleNamespace(point_a=county_a, point_city=city,
                          registrar_a=_registrar(county_a, "reg_a"), registrar_city=_registrar(city, "reg_city"))
    db.session.commit()
    return out


def submission_form(world, **over) -> dict:
    data = {
        "buyer_name": "五河乙企业有限公司",
        "title": "高强铝合金热处理工艺技术开发合同",
        "contract_type": "development",
        "subtype": "commissioned",
        "amount": "800000.00",
        "tech_amount": "700000.00",
        "signed_on": date.today().isoformat(),
        "buyer_region_id": str(world.regions["county_b"].id),
        "seller_region_id": str(world.regions["town_a"].id),
        "field_id": str(world.fields["materials"].id),
        "form_token": form_token(),
        "scan": (io.BytesIO(PDF), "合同扫描件.pdf"),
    }
    data.update(over)
    return data


def submit(app, user, world, **over):
    return post(client_for(app, user), "/registration/submit", submission_form(world, **over),
                content_type="multipart/form-data")


def submitted(app, world, reg) -> Contract:
    """County A's enterprise (the seller) submits; the contract waits at county A's 登记点."""
    resp = submit(app, world.users.enterprise, world)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return db.session.scalars(select(Contract).order_by(Contract.id.desc())).first()


def city_totals():
    city = db.session.scalar(select(stats.Region).where(stats.Region.parent_id.is_(None)))
    row = stats.totals(scope=city, period=stats.Period.year(YEAR))
    return row["e"].n, row["e"].amount, row["e"].tech_amount


def decide(app, user, contract, **data):
    data.setdefault("version", str(contract.version))
    return post(client_for(app, user), f"/registration/{contract.id}/decide", data)


# --- submission ---------------------------------------------------------------------------------------------

def test_a_seller_submits_and_it_waits_at_the_competent_point_counting_nowhere(app, world, reg):
    before = city_totals()
    contract = submitted(app, world, reg)
    assert contract.reg_status == "submitted" and contract.reg_request == "new"
    assert contract.reg_point_id == reg.point_a.id  # the seller is in 榴城镇, under 怀远县
    assert contract.seller_org_id == world.orgs.ent_a.id  # a member submits for its own organisation
    assert contract.scan_path and contract.submitted_by_id == world.users.enterprise.id
    assert city_totals() == before
    assert stats.summary_drift() == []
    page = client_for(app, world.users.enterprise).get("/registration/").get_data(as_text=True)
    assert "待登记" in page and "0 / 15 个工作日" in page
    queue = client_for(app, reg.registrar_a).get("/registration/").get_data(as_text=True)
    assert contract.title in queue
    assert contract.title not in client_for(app, reg.registrar_city).get("/registration/").get_data(as_text=True)
    # the 登记员s of the point are told
    assert count(Notification, Notification.user_id == reg.registrar_a.id) == 1


def test_the_scan_is_required_and_a_bad_submission_stores_nothing(app, world, reg):
    resp = submit(app, world.users.enterprise, world, scan=(io.BytesIO(b""), ""))
    assert_refused(resp, "请上传合同扫描件")
    resp = submit(app, world.users.enterprise, world, tech_amount="900000.00")
    assert_refused(resp, "技术交易额不能超过合同成交额")
    assert count(Contract) == 0


def test_who_may_submit(app, world, reg):
    for name in ("official", "admin"):
        resp = submit(app, getattr(world.users, name), world)
        assert resp.status_code == 403, name
    assert client_for(app, reg.registrar_a).get("/registration/submit").status_code == 403
    assert is_login_redirect(app.test_client().get("/registration/submit"))
    resp = submit(app, world.users.unverified, world)
    assert resp.status_code == 403
    resp = submit(app, world.users.broker, world, seller_name="怀远甲企业有限公司")
    assert resp.status_code == 302
    contract = db.session.scalars(select(Contract)).one()
    assert contract.broker_id == world.users.broker.id and contract.reg_status == "submitted"


def test_competent_point_rule(app, world, reg):
    r = world.regions
    assert queries.competent_point(seller_region_id=r["town_a"].id, buyer_region_id=r["town_b"].id) == reg.point_a
    # no point on 五河县: the nearest ancestor with one is the city
    assert queries.competent_point(seller_region_id=r["town_b"].id, buyer_region_id=r["town_a"].id) == reg.point_city
    # a seller outside the city: the buyer's region decides
    assert queries.competent_point(seller_region_id=None, buyer_region_id=r["town_a"].id) == reg.point_a
    assert queries.competent_point(seller_region_id=None, buyer_region_id=None) == reg.point_city


def test_working_days_skip_weekends(app):
    friday = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)  # 10:00 in China
    assert queries.working_days(friday, date(2026, 12, 4)) == 0
    assert queries.working_days(friday, date(2026, 12, 6)) == 0  # Sunday
    assert queries.working_days(friday, date(2026, 12, 7)) == 1  # Monday
    assert queries.working_days(friday, date(2026, 12, 25)) == 15


def test_working_days_deduct_national_day_2026_and_count_its_tiaoxiu_saturday(app):
    """国庆 2026 (国办发明电〔2025〕7号): 中秋 25-27 September, 国庆 1-7 October off; Sunday 20 September and
    Saturday 10 October worked. The seeded calendar (written by the migration and init-reference)."""
    from market.registration import calendar

    calendar.ensure_seed()
    db.session.commit()
    # submitted Friday 18 September 2026, 10:00 China time
    friday = datetime(2026, 9, 18, 2, 0, tzinfo=timezone.utc)
    assert queries.working_days(friday, date(2026, 9, 20)) == 1  # Sunday 20 September is a 调休 workday
    assert queries.working_days(friday, date(2026, 9, 24)) == 5  # Mon 21 .. Thu 24
    assert queries.working_days(friday, date(2026, 9, 28)) == 6  # Fri 25 中秋 off, weekend; Mon 28
    assert queries.working_days(friday, date(2026, 10, 7)) == 8  # Tue 29, Wed 30; 1-7 October off
    assert queries.working_days(friday, date(2026, 10, 9)) == 10  # Thu 8, Fri 9
    assert queries.working_days(friday, date(2026, 10, 10)) == 11  # Saturday 10 October is worked
    # Monday to Friday would have said 15 on 9 October: the 15th working day is 15 October
    assert queries.working_days(friday, date(2026, 10, 14)) == 14
    assert queries.working_days(friday, date(2026, 10, 15)) == 15
    # submitted on 30 September: 1 working day waited on 8 October
    eve = datetime(2026, 9, 30, 2, 0, tzinfo=timezone.utc)
    assert queries.working_days(eve, date(2026, 10, 7)) == 0
    assert queries.working_days(eve, date(2026, 10, 8)) == 1
    # an administrator's change takes effect at once: 8 October made a holiday
    db.session.add(WorkCalendarDay(day=date(2026, 10, 8), workday=False, name="测试"))
    db.session.commit()
    assert queries.working_days(eve, date(2026, 10, 8)) == 0
    # a year with no rows counts Monday to Friday
    assert calendar.count_working_days(date(2031, 1, 3), date(2031, 1, 10)) == 5


# --- who may move a submission ---------------------------------------------------------------------------------

def test_only_the_competent_registrar_decides(app, world, reg):
    contract = submitted(app, world, reg)
    before = city_totals()
    u = world.users
    refusals = {
        "official": (u.official, 403), "city_official": (u.city_official, 403), "admin": (u.admin, 403),
        "seller": (u.enterprise, 403),
        "buyer": (u.enterprise_b, 403), "other registrar": (reg.registrar_city, 404),
        "institution": (u.institution, 404), "broker": (u.broker, 404),
    }
    for name, (user, status) in refusals.items():
        resp = decide(app, user, contract, decision="register", tech_amount="700000.00")
        assert resp.status_code == status, name
        if status == 403:
            assert_refused(resp, "登记员", codes=(403,))
    assert is_login_redirect(post(app.test_client(), f"/registration/{contract.id}/decide", {"decision": "register"}))
    db.session.refresh(contract)
    assert contract.reg_status == "submitted" and count(RegStep) == 1
    assert city_totals() == before
    resp = decide(app, reg.registrar_a, contract, decision="register", tech_amount="650000.00")
    assert resp.status_code == 302
    db.session.refresh(contract)
    assert contract.reg_status == "registered" and contract.registrar_id == reg.registrar_a.id


def test_return_resubmit_and_register_moves_the_figures_by_exactly_the_approved_amount(app, world, reg):
    before = city_totals()
    contract = submitted(app, world, reg)
    resp = decide(app, reg.registrar_a, contract, decision="return", reason="")
    assert_refused(resp, "请填写退回理由")
    assert decide(app, reg.registrar_a, contract, decision="return", reason="扫描件缺少签字页").status_code == 302
    db.session.refresh(contract)
    assert contract.reg_status == "returned" and city_totals() == before
    note = db.session.scalars(select(Notification).where(Notification.user_id == world.users.enterprise.id)).all()
    assert any("扫描件缺少签字页" in n.text for n in note)
    # the registrar may not edit the submission; the seller edits and resubmits
    assert client_for(app, reg.registrar_a).get(f"/registration/{contract.id}/edit").status_code == 403
    data = submission_form(world, amount="820000.00", tech_amount="720000.00")
    data.pop("buyer_name")
    resp = post(client_for(app, world.users.enterprise), f"/registration/{contract.id}/edit", data,
                content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    db.session.refresh(contract)
    assert contract.reg_status == "submitted" and contract.amount == Decimal("820000.00")
    # 核定: above the 成交额 refused; lowered to the fen accepted
    resp = decide(app, reg.registrar_a, contract, decision="register", tech_amount="820000.01")
    assert_refused(resp, "不能超过合同成交额")
    resp = decide(app, reg.registrar_a, contract, decision="register", tech_amount="654321.09")
    assert resp.status_code == 302
    n, amount, tech = city_totals()
    assert (n - before[0], amount - before[1], tech - before[2]) == (1, Decimal("820000.00"), Decimal("654321.09"))
    assert stats.summary_drift() == []
    db.session.refresh(contract)
    assert contract.declared_tech_amount == Decimal("720000.00") and contract.tech_amount == Decimal("654321.09")
    assert [s.action for s in queries.steps(contract)] == ["submit", "return", "resubmit", "register"]
    assert any("已登记" in n.text for n in db.session.scalars(
        select(Notification).where(Notification.user_id == world.users.enterprise.id)))


def test_refused_never_counts_and_cannot_be_resubmitted(app, world, reg):
    before = city_totals()
    contract = submitted(app, world, reg)
    assert decide(app, reg.registrar_a, contract, decision="refuse", reason="属于一般商品买卖，不是技术合同").status_code == 302
    db.session.refresh(contract)
    assert contract.reg_status == "refused" and city_totals() == before
    resp = post(client_for(app, world.users.enterprise), f"/registration/{contract.id}/edit",
                submission_form(world), content_type="multipart/form-data")
    assert resp.status_code == 302  # sent back to the page, which says why
    db.session.refresh(contract)
    assert contract.reg_status == "refused"


def test_change_and_cancellation_are_re_registered_with_history(app, world, reg):
    before = city_totals()
    contract = submitted(app, world, reg)
    decide(app, reg.registrar_a, contract, decision="register", tech_amount="700000.00")
    db.session.refresh(contract)
    number = contract.registration_no
    first_code = contract.reg_verify_code
    # a change resubmits: it leaves the figures until registered again, under the same 登记编号
    data = submission_form(world, tech_amount="600000.00", reason="补充协议调减技术服务内容")
    data.pop("buyer_name")
    resp = post(client_for(app, world.users.enterprise), f"/registration/{contract.id}/edit", data,
                content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    db.session.refresh(contract)
    assert contract.reg_status == "submitted" and contract.reg_request == "change"
    assert city_totals() == before
    decide(app, reg.registrar_a, contract, decision="register", tech_amount="600000.00")
    db.session.refresh(contract)
    assert contract.registration_no == number and contract.reg_verify_code != first_code
    assert city_totals()[2] - before[2] == Decimal("600000.00")
    # cancellation (注销): out of the figures for good once the 登记员 agrees
    resp = post(client_for(app, world.users.enterprise), f"/registration/{contract.id}/cancel", {"reason": "合同解除"})
    assert resp.status_code == 302
    decide(app, reg.registrar_a, contract, decision="register")
    db.session.refresh(contract)
    assert contract.voided and city_totals() == before
    assert stats.summary_drift() == []
    assert [s.action for s in queries.steps(contract)] == ["submit", "register", "change", "register", "cancel",
                                                           "cancelled"]
    page = client_for(app, world.users.enterprise).get(f"/registration/{contract.id}").get_data(as_text=True)
    assert "申请变更登记" in page and "核准注销" in page and "补充协议调减技术服务内容" in page


def test_a_returned_change_puts_the_registered_values_back(app, world, reg):
    """A change request writes its values on the row while it waits (out of the figures); the 登记员 returning it
    leaves the registration as it was registered: before, the contract counted again with the unapproved values."""
    from market.models import ContractAudit

    before = city_totals()
    contract = submitted(app, world, reg)
    decide(app, reg.registrar_a, contract, decision="register", tech_amount="700000.00")
    db.session.refresh(contract)
    registered = (contract.amount, contract.tech_amount, contract.title, contract.signed_on)
    data = submission_form(world, amount="50000.00", tech_amount="40000.00", title="改后的合同名称（未经核定）",
                           reason="补充协议调减合同金额")
    data.pop("buyer_name")
    resp = post(client_for(app, world.users.enterprise), f"/registration/{contract.id}/edit", data,
                content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    db.session.refresh(contract)
    assert (contract.reg_request, contract.amount) == ("change", Decimal("50000.00"))
    assert city_totals() == before
    resp = decide(app, reg.registrar_a, contract, decision="return", reason="变更材料不全")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    db.session.refresh(contract)
    assert (contract.reg_status, contract.reg_request) == ("registered", None)
    assert (contract.amount, contract.tech_amount, contract.title, contract.signed_on) == registered
    assert city_totals()[1] - before[1] == Decimal("800000.00") and city_totals()[2] - before[2] == Decimal("700000.00")
    assert stats.summary_drift() == []
    put_back = db.session.scalars(select(ContractAudit).where(ContractAudit.contract_id == contract.id,
                                                              ContractAudit.actor_id == reg.registrar_a.id)).all()
    assert {a.field_name for a in put_back} >= {"amount", "tech_amount", "title"}


# --- numbering -----------------------------------------------------------------------------------------------

def test_numbers_follow_the_points_sequence_and_restart_each_year(app, world, reg):
    numbers = []
    for k in range(3):
        contract = submitted(app, world, reg)
        services.registration_decide(contract=contract, user=reg.registrar_a, decision="register",
                                     tech_amount=contract.tech_amount, today=date(2026, 12, 30))
        db.session.commit()
        numbers.append(contract.registration_no)
    assert numbers == ["202634032101000001", "202634032101000002", "202634032101000003"]
    contract = submitted(app, world, reg)
    services.registration_decide(contract=contract, user=reg.registrar_a, decision="register",
                                 tech_amount=contract.tech_amount, today=date(2027, 1, 4))
    db.session.commit()
    assert contract.registration_no == "202734032101000001"
    point = db.session.get(RegPoint, reg.point_a.id)
    db.session.refresh(point)
    assert (point.seq_year, point.seq_last) == (2027, 1)


# --- certificate and verification ----------------------------------------------------------------------------

def test_certificate_and_public_verification(app, world, reg):
    contract = submitted(app, world, reg)
    decide(app, reg.registrar_a, contract, decision="register", tech_amount="650000.00")
    db.session.refresh(contract)
    resp = client_for(app, world.users.enterprise).get(f"/registration/{contract.id}/certificate.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF") and resp.mimetype == "application/pdf"
    assert client_for(app, world.users.institution).get(f"/registration/{contract.id}/certificate.pdf").status_code == 404
    anon = app.test_client()
    assert anon.get("/registration/verify").status_code == 200
    resp = post(anon, "/registration/verify", {"code": contract.reg_verify_code.lower()})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "真实有效" in page
    assert contract.registration_no in page and "650,000.00元" in page and "800,000.00元" in page
    assert "合同扫描件" not in page and world.users.enterprise.name not in page
    resp = post(anon, "/registration/verify", {"code": "ABCDEFGH2345"})
    assert resp.status_code == 404 and "未找到该验证码对应的登记证明" in resp.get_data(as_text=True)


def test_verification_is_throttled_per_address(app, world, reg):
    app.config["REG_VERIFY_MAX_PER_ADDRESS"] = 3
    anon = app.test_client()
    for _ in range(3):
        assert post(anon, "/registration/verify", {"code": "ABCDEFGH2345"}).status_code == 404
    resp = post(anon, "/registration/verify", {"code": "ABCDEFGH2345"})
    assert resp.status_code == 429 and "Retry-After" in resp.headers


# --- 登记点 and 登记员 -----------------------------------------------------------------------------------------

def test_the_city_designates_points_and_registrars(app, world, reg):
    data = {"name": "五河县技术合同登记点", "kind": "bureau", "region_id": str(world.regions["county_b"].id),
            "division": "340322", "serial": "1"}
    for user in (world.users.official, reg.registrar_a, world.users.enterprise):
        assert post(client_for(app, user), "/registration/points", data).status_code == 403
    resp = post(client_for(app, world.users.city_official), "/registration/points", data)
    assert resp.status_code == 302
    point = db.session.scalar(select(RegPoint).where(RegPoint.division == "340322"))
    assert_refused(post(client_for(app, world.users.admin), "/registration/points", data), "已有序号")
    resp = post(client_for(app, world.users.admin), f"/registration/points/{point.id}",
                {"username": "reg_b", "name": "五河登记员", "password": "Registrar-pass-2026"})
    assert resp.status_code == 302
    registrar = db.session.scalar(select(User).where(User.username == "reg_b"))
    assert registrar.role == "registrar" and registrar.reg_point_id == point.id and registrar.role_label == "登记员"
    # now 五河县's sellers go to it
    assert queries.competent_point(seller_region_id=world.regions["town_b"].id, buyer_region_id=None) == point


def test_concurrent_registrations_draw_distinct_numbers_and_one_decision_wins(app, world, reg):
    """Two 登记员s of one point register at the same moment: the counter's atomic UPDATE gives each its own number,
    in sequence; two decisions on one submission at once: one registers, the other is told it moved (409)."""
    import threading

    second = _registrar(reg.point_a, "reg_a2")
    db.session.commit()
    clients = [client_for(app, reg.registrar_a), client_for(app, second)]
    pairs = [[submitted(app, world, reg) for _ in range(2)] for _ in range(3)]
    same = submitted(app, world, reg)
    jobs = [[(c.id, c.version, k) for k, c in enumerate(pair)] for pair in pairs]
    jobs.append([(same.id, same.version, 0), (same.id, same.version, 1)])
    same_id = same.id
    db.session.commit()  # the test's own session holds no transaction (on SQLite it would hold the write lock)
    results: dict[tuple[int, int], int] = {}
    barrier = threading.Barrier(2)

    def run(contract_id: int, version: int, k: int) -> None:
        with app.app_context():  # each thread: its own session, as in a worker
            barrier.wait(timeout=30)
            resp = post(clients[k], f"/registration/{contract_id}/decide",
                        {"decision": "register", "tech_amount": "700000.00", "version": str(version)})
            results[(contract_id, k)] = resp.status_code

    for job in jobs:
        threads = [threading.Thread(target=run, args=args) for args in job]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        barrier.reset()
    assert sorted(results[(same_id, k)] for k in (0, 1)) == [302, 409]
    db.session.expire_all()
    numbers = sorted(db.session.scalars(select(Contract.registration_no).where(Contract.reg_status == "registered")))
    assert numbers == [f"{YEAR}34032101{n:06d}" for n in range(1, 8)]
    assert count(RegStep, RegStep.action == "register") == 7


def test_the_register_leaves_a_submission_to_the_workflow(app, world, reg):
    """A submission (待登记) is not edited or voided through the contract register, and its amounts are not in the
    register's totals; payments may be recorded on it; once registered, the register edits and voids it."""
    contract = submitted(app, world, reg)
    cid, version, amount = contract.id, contract.version, contract.amount
    official = client_for(app, world.users.city_official)
    before = official.get("/contracts/").get_data(as_text=True)
    assert "已登记的有效合同" in before

    resp = official.get(f"/contracts/{cid}/edit")
    assert_refused(resp, "登记流程中", codes=(409,))
    resp = post(official, f"/contracts/{cid}/edit", {"title": "改过的标题", "amount": "1.00", "version": str(version)})
    assert_refused(resp, "登记流程中", codes=(409,))
    resp = post(official, f"/contracts/{cid}/void", {"reason": "想作废它"})
    assert_refused(resp, "登记流程中", codes=(409,))
    db.session.expire_all()
    contract = db.session.get(Contract, cid)
    assert (contract.amount, contract.voided, contract.title) == (amount, False, "高强铝合金热处理工艺技术开发合同")
    page = official.get(f"/contracts/{cid}").get_data(as_text=True)
    assert 'id="edit-contract"' not in page and 'id="in-registration"' in page

    # the register's totals count registered contracts only: the submission moves them once registered
    def listed_count() -> int:
        import re

        text = official.get("/contracts/").get_data(as_text=True)
        return int(re.search(r'id="contract-totals">已登记的有效合同 <strong>(\d+)</strong>', text).group(1))

    waiting = listed_count()
    resp = post(client_for(app, reg.registrar_a), f"/registration/{cid}/decide",
                {"decision": "register", "tech_amount": "700000.00", "reason": "", "version": str(version)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    assert listed_count() == waiting + 1
    page = official.get(f"/contracts/{cid}").get_data(as_text=True)
    assert 'id="edit-contract"' in page
