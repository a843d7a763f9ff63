"""Bad input on every form: a 4xx with a Chinese reason and nothing stored; extra fields ignored; never a 5xx."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from market.extensions import db
from market.models import Demand, ListingEvent, Organization, User, UserSession
from tests import factories
from tests.helpers import CJK, Poster, achievement_form, assert_refused, client_for, csrf_token, demand_form, diff, \
    form_token, messages, raw_post, snapshot


@pytest.fixture
def login_as(app, world):
    """Overrides the conftest fixture: a real server-side session without a scrypt check per sign-in."""
    return lambda name: client_for(app, getattr(world.users, name))


LONG = "长" * 10000
NUL = "寻求光伏\x00玻璃技术"
SURROGATE = "寻求光伏\ud800玻璃技术"  # sent as its raw UTF-8 bytes (ED A0 80), as a broken client would
DROP = object()  # the field is left out of the body
AMOUNTS = [
    ("-1", "不能为负数"),
    ("abc", "金额格式不正确"),
    ("NaN", "金额格式不正确"),
    ("nan", "金额格式不正确"),
    ("Infinity", "金额格式不正确"),
    ("-Infinity", "不能为负数"),
    ("1e309", "金额格式不正确"),
    ("0.0000001", "最多保留6位小数"),
    ("１２３", "半角数字"),
    ("12.5万元", "单位已是万元"),
    ("1" * 10000, "金额格式不正确"),
    ("100000001", "超出允许范围"),
    ("12\x005", None),
]


def _text_cases(fields_required: dict[str, str], fields_long: dict[str, str | None], nul_fields) -> list:
    cases = []
    for name, reason in fields_required.items():
        # an empty choice that is not a number reads "选择无效：无法转化类型" (WTForms), which is Chinese enough
        cases.append((name, "", None if name in ("modes", "field_id", "maturity", "region_id") else reason))
        cases.append((name, DROP, reason))
    for name, reason in fields_long.items():
        cases.append((name, LONG, reason))
    for name in nul_fields:
        cases.append((name, NUL, "无效字符"))
        cases.append((name, SURROGATE, "无效字符"))
    return cases


def _run(p: Poster, url: str, valid: dict, cases: list, codes=range(400, 500)) -> None:
    """Post `valid` with one field spoiled per case; collect every case that is not a clean refusal."""
    problems = []
    for name, value, reason in cases:
        data = dict(valid)
        if value is DROP:
            data.pop(name, None)
        else:
            data[name] = value
        has_surrogate = any(isinstance(v, str) and any("\ud800" <= ch <= "\udfff" for ch in v) for v in data.values())
        before = snapshot()
        resp = p.raw(url, data, multipart=has_surrogate)
        label = f"{name}={str(value)[:30]!r}"
        try:
            assert_refused(resp, *([reason] if reason else []), codes=codes)
        except AssertionError as exc:
            problems.append(f"{label}: {resp.status_code} {exc}")
        changed = diff(before, snapshot())
        changed.pop("login_failures", None)  # the register throttle counts the attempt: that is not the input stored
        if changed:
            problems.append(f"{label}: stored something {changed}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- listings


def demand_cases(world) -> list:
    cases = _text_cases(
        {"title": "请填写标题", "description": "请描述拟解决的技术难题", "contact_name": "请填写联系人",
         "contact_phone": "请填写联系电话", "budget": "请填写金额", "field_id": "请选择技术领域", "modes": "请至少选择一种合作方式"},
        {"title": "标题长度为4-120字", "description": "技术难题描述为10-5000字", "indicators": "技术指标不超过2000字",
         "keywords": "关键词过长", "contact_name": "联系人过长", "contact_phone": "电话号码", "contact_email": None,
         "deadline": None, "field_id": None},
        ["title", "description", "indicators", "keywords", "contact_name", "contact_email", "contact_phone", "budget"],
    )
    cases += [("budget", value, reason) for value, reason in AMOUNTS]
    cases += [
        ("title", "短", "标题长度为4-120字"),
        ("contact_email", "not-an-email", "邮箱格式不正确"),
        ("contact_phone", "电话一二三四五", "电话号码"),
        ("deadline", "2020-01-01", "截止日期须晚于今天"),
        ("deadline", date.today().isoformat(), "截止日期须晚于今天"),
        ("deadline", (date.today() - timedelta(days=1)).isoformat(), "截止日期须晚于今天"),
        ("deadline", "2026-02-30", "日期"),
        ("deadline", "明天", "日期"),
        ("field_id", "999999", "请选择技术领域"),
        ("field_id", "abc", None),
        ("field_id", "-1", "请选择技术领域"),
        ("field_id", str(world.fields["root_materials"].id), "请选择技术领域"),  # a top-level field is not selectable
        ("field_id", "1e3", None),
        ("modes", ["bogus"], None),
        ("modes", ["development", "talent", "x" * 10000], None),
    ]
    return cases


def test_demand_create_refusals(world, login_as):
    _run(Poster(login_as("enterprise")), "/demands/new", demand_form(world), demand_cases(world))
    assert db.session.scalar(select(Demand.id)) is None


def _for_edit(cases: list) -> list:
    """On an edit, a text field left out of the body keeps its stored value (WTForms' obj= data), which is fine."""
    return [c for c in cases if c[1] is not DROP or c[0] in ("modes", "budget", "price")]


def test_demand_edit_refusals(world, login_as):
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published")
    db.session.commit()
    _run(Poster(login_as("enterprise")), f"/demands/{d.id}/edit", demand_form(world), _for_edit(demand_cases(world)))
    db.session.expire_all()
    assert db.session.get(Demand, d.id).status == "published"


def achievement_cases(world) -> list:
    cases = _text_cases(
        {"title": "请填写标题", "summary": "请填写成果简介", "team_lead": "请填写团队负责人", "maturity": "请选择技术成熟度",
         "price": "请填写金额", "modes": "请至少选择一种交易方式"},
        {"title": "标题长度为4-120字", "summary": "成果简介为10-5000字", "ip_numbers": "编号过长", "team_lead": None,
         "team_members": "团队成员过长", "keywords": "关键词过长", "ip_type": None, "ip_status": None, "maturity": None},
        ["title", "summary", "ip_numbers", "team_lead", "team_members", "keywords", "price"],
    )
    cases += [("price", value, reason) for value, reason in AMOUNTS]
    cases += [
        ("maturity", "0", "请选择技术成熟度"),
        ("maturity", "10", "请选择技术成熟度"),
        ("maturity", "abc", None),
        ("maturity", "6.5", None),
        ("ip_type", "trade_secret_x", None),
        ("ip_status", "expired_x", None),
        ("field_id", "999999", "请选择技术领域"),
        ("modes", ["development"], None),  # a demand mode, not a result one
    ]
    return cases


def test_achievement_create_refusals(world, login_as):
    _run(Poster(login_as("institution")), "/achievements/new", achievement_form(world), achievement_cases(world))


def test_achievement_edit_refusals(world, login_as):
    a = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="draft")
    db.session.commit()
    _run(Poster(login_as("institution")), f"/achievements/{a.id}/edit", achievement_form(world),
         _for_edit(achievement_cases(world)))


def test_valid_forms_are_accepted(world, login_as):
    """The baselines used above really are valid (otherwise every refusal above proves nothing)."""
    p = Poster(login_as("enterprise"))
    assert p.raw("/demands/new", demand_form(world)).status_code == 302
    assert p.raw("/demands/new", demand_form(world), multipart=True).status_code == 302
    p = Poster(login_as("institution"))
    assert p.raw("/achievements/new", achievement_form(world)).status_code == 302


# ---------------------------------------------------------------- accounts


def register_valid(world) -> dict:
    return {
        "role": "enterprise",
        "username": "newco_li",
        "name": "李经理",
        "phone": "13900002222",
        "email": "li@example.cn",
        "password": "Strong-pass-2026",
        "password2": "Strong-pass-2026",
        "org_name": "蚌埠新能源科技有限公司",
        "org_type": "enterprise",
        "uscc": factories.uscc(515151, area="340322"),
        "region_id": str(world.regions["county_a"].id),
        "contact_name": "李四",
        "contact_phone": "0552-1111111",
        "address": "怀远县榴城镇1号",
        "broker_cert_no": "",
        "agree": "y",
        "form_token": form_token(),
    }


def register_cases(world) -> list:
    cases = _text_cases(
        {"username": "请填写用户名", "name": "请填写姓名", "phone": "请填写手机号码", "password": "请设置密码",
         "org_name": "请填写单位名称", "uscc": "请填写统一社会信用代码", "region_id": "请选择所在区域", "role": "请选择注册身份",
         "org_type": "请选择单位类型"},
        {"username": "用户名为3-32位", "name": "姓名过长", "phone": "手机号码", "email": None, "password": "密码过长",
         "org_name": "单位名称长度为2-100字", "uscc": "统一社会信用代码应为18位", "contact_name": None, "contact_phone": None,
         "address": "地址过长", "broker_cert_no": "证书编号过长", "region_id": None, "role": None, "org_type": None},
        ["username", "name", "phone", "email", "password", "org_name", "uscc", "contact_name", "contact_phone", "address"],
    )
    good = factories.uscc(515152, area="340322")
    cases += [
        ("uscc", good[:17] + ("0" if good[17] != "0" else "1"), "校验位不正确"),
        ("uscc", good[:8] + "I" + good[9:], "无效字符"),
        ("uscc", good[:-1], "应为18位"),
        ("region_id", "999999", "请选择所在区域"),
        ("region_id", "abc", None),
        ("region_id", str(world.regions["city"].id), "请选择所在区域"),
        ("role", "admin", "请选择注册身份"),
        ("email", "li@", "电子邮箱格式不正确"),
        ("password", "short1", "密码"),
    ]
    return cases


def test_register_refusals(world, client):
    _run(Poster(client), "/register", register_valid(world), register_cases(world))
    assert db.session.scalar(select(User.id).where(User.username == "newco_li")) is None


def test_register_baseline_is_valid(world, client):
    assert Poster(client).raw("/register", register_valid(world)).status_code == 302


def test_login_refusals(world, client):
    cases = _text_cases({"username": "请填写用户名", "password": "请填写密码"}, {"username": "用户名过长", "password": "密码过长"},
                        ["username", "password"])
    _run(Poster(client), "/login", {"username": "ent_a", "password": factories.PASSWORD}, cases)


def test_password_change_refusals(world, login_as):
    valid = {"old_password": factories.PASSWORD, "new_password": "Another-pass-2027", "new_password2": "Another-pass-2027"}
    cases = _text_cases({"old_password": "请填写原密码", "new_password": "请填写新密码"},
                        {"old_password": None, "new_password": None, "new_password2": "两次输入的密码不一致"},
                        ["old_password", "new_password"])
    _run(Poster(login_as("enterprise")), "/account/password", valid, cases)


# ---------------------------------------------------------------- review, verification, transitions


def test_review_decision_refusals(world, login_as):
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="pending")
    db.session.commit()
    cases = [
        ("decision", "", "请选择审核结果"),
        ("decision", DROP, "请选择审核结果"),
        ("decision", LONG, "请选择审核结果"),
        ("decision", "publish\x00", None),
        ("reason", LONG, "理由不超过500字"),
        ("reason", "材料不全\x00请补充", "无效字符"),
        ("reason", "材料不全\ud800请补充", "无效字符"),
        ("reason", "", "请填写退回理由"),
    ]
    _run(Poster(login_as("official")), f"/review/demands/{d.id}", {"decision": "return", "reason": "材料不全"}, cases)


def test_org_verification_refusals(world, login_as):
    org = world.orgs.unverified
    cases = [
        ("decision", "", "请选择认证结果"),
        ("decision", DROP, "请选择认证结果"),
        ("decision", LONG, "请选择认证结果"),
        ("note", LONG, "不超过500字"),
        ("note", "执照过期\x00", "无效字符"),
        ("note", "执照过期\ud800", "无效字符"),
        ("note", "", "请填写理由"),
        ("note", "   ", "请填写理由"),
    ]
    _run(Poster(login_as("official")), f"/review/orgs/{org.id}", {"decision": "reject", "note": "执照过期"}, cases)


def test_transition_reason_refusals(world, login_as):
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="draft")
    db.session.commit()
    cases = [("reason", LONG, "不超过500字"), ("reason", "撤回\x00", "无效字符"), ("reason", "撤回\ud800", "无效字符")]
    _run(Poster(login_as("enterprise")), f"/demands/{d.id}/submit", {"reason": "准备好了"}, cases)


# ---------------------------------------------------------------- extra fields


def test_extra_fields_are_ignored_on_register(world, client):
    extra = {"org_id": world.orgs.ent_a.id, "status": "verified", "owner_id": world.users.admin.id, "active": "0",
             "version": "9", "verified_by_id": world.users.admin.id, "is_admin": "1", "id": "4242"}
    resp = Poster(client).raw("/register", {**register_valid(world), **extra})
    assert resp.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "newco_li"))
    assert user.role == "enterprise" and user.active and user.id != 4242
    assert user.org_id != world.orgs.ent_a.id
    assert (user.org.status, user.org.verified_by_id) == ("pending", None)


def test_extra_fields_are_ignored_on_achievement_edit_and_review(world, login_as):
    a = factories.achievement(owner=world.users.institution, field=world.fields["materials"], status="draft")
    db.session.commit()
    extra = {"org_id": world.orgs.ent_b.id, "owner_id": world.users.enterprise_b.id, "region_id": world.regions["county_b"].id,
             "status": "published", "version": "99"}
    assert Poster(login_as("institution")).raw(f"/achievements/{a.id}/edit", {**achievement_form(world), **extra}).status_code == 302
    db.session.expire_all()
    a = db.session.get(type(a), a.id)
    assert (a.org_id, a.owner_id, a.region_id, a.status) == (world.orgs.uni.id, world.users.institution.id,
                                                           world.regions["city"].id, "draft")
    a.status = "pending"
    db.session.commit()
    resp = Poster(login_as("city_official")).raw(f"/review/achievements/{a.id}",
                                                 {"decision": "return", "reason": "请补充", **extra, "listing_id": "1"})
    assert resp.status_code == 302
    db.session.expire_all()
    a = db.session.get(type(a), a.id)
    assert (a.status, a.org_id, a.region_id) == ("returned", world.orgs.uni.id, world.regions["city"].id)
    org = world.orgs.unverified
    resp = Poster(login_as("official")).raw(f"/review/orgs/{org.id}",
                                            {"decision": "verify", "status": "rejected", "region_id": world.regions["county_b"].id,
                                             "verified_by_id": world.users.admin.id})
    assert resp.status_code == 302
    db.session.expire_all()
    org = db.session.get(Organization, org.id)
    assert (org.status, org.region_id, org.verified_by_id) == ("verified", world.regions["county_a"].id, world.users.official.id)


# ---------------------------------------------------------------- forms stay the same size


def test_form_filters_do_not_pile_up(app):
    """Building a form must not add its text filters again each time (a slow leak across requests)."""
    from market.auth.forms import LoginForm

    with app.test_request_context("/"):
        first = len(LoginForm().username.filters)
        for _ in range(5):
            LoginForm()
        assert len(LoginForm().username.filters) == first


# ---------------------------------------------------------------- generated input

TEXT = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=40),  # every category, lone surrogates (Cs) too
    st.text(alphabet=st.sampled_from("\x00\ud800\udfff\ufffd中文技术需求１２３😀🔥\u202e\t\n\r<>&'\"%;-- "), max_size=40),
    st.sampled_from(["", " ", "NaN", "Infinity", "1e309", "-1", "０", "12.5万元", "0.0000001", "%00", "%ED%A0%80",
                     "<script>alert(1)</script>", "' OR 1=1 --", "2020-01-01", "9999-12-31", "99999999999999999999"]),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(1000, 30000)),  # very long
)
GENERATED = {"n": 0, "errors": 0}


def _spoil(valid: dict) -> st.SearchStrategy:
    return st.fixed_dictionaries({k: st.one_of(st.just(v), TEXT) for k, v in valid.items()})


def _check_generated(resp, label):
    GENERATED["n"] += 1
    if resp.status_code >= 500:
        GENERATED["errors"] += 1
    assert resp.status_code < 500, (label, resp.status_code)
    if 400 <= resp.status_code < 500:
        assert all(CJK.search(m) for m in messages(resp)), messages(resp)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_text_in_every_demand_field(world, app, data):
    valid = demand_form(world)
    valid["modes"] = "development"
    body = data.draw(_spoil(valid))
    multipart = data.draw(st.booleans())
    client = client_for(app, world.users.enterprise)
    before = db.session.scalar(select(db.func.count()).select_from(Demand))
    resp = raw_post(client, "/demands/new", body, token=csrf_token(client), multipart=multipart)
    _check_generated(resp, body)
    after = db.session.scalar(select(db.func.count()).select_from(Demand))
    assert after == before + (1 if resp.status_code == 302 else 0)
    if resp.status_code == 302:
        d = db.session.scalar(select(Demand).order_by(Demand.id.desc()))
        for value in (d.title, d.description, d.indicators, d.keywords, d.contact_name):
            assert "\x00" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value)
        db.session.execute(delete(ListingEvent))
        db.session.execute(delete(Demand))
        db.session.commit()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_text_in_every_register_field(world, app, data):
    body = data.draw(_spoil(register_valid(world)))
    multipart = data.draw(st.booleans())
    client = app.test_client()
    # an address per example: past REGISTER_MAX_PER_ADDRESS from one address the rest would all be 429
    client.environ_base["REMOTE_ADDR"] = f"10.99.{GENERATED['n'] // 250 % 250}.{GENERATED['n'] % 250 + 1}"
    users, orgs = (db.session.scalar(select(db.func.count()).select_from(m)) for m in (User, Organization))
    resp = raw_post(client, "/register", body, token=csrf_token(client), multipart=multipart)
    _check_generated(resp, body)
    grew = 1 if resp.status_code == 302 else 0
    assert db.session.scalar(select(db.func.count()).select_from(User)) == users + grew
    assert db.session.scalar(select(db.func.count()).select_from(Organization)) == orgs + grew
    if grew:
        user = db.session.scalar(select(User).order_by(User.id.desc()))
        org_id = user.org_id
        db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        db.session.execute(delete(User).where(User.id == user.id))
        db.session.execute(delete(Organization).where(Organization.id == org_id))
        db.session.commit()


def test_zz_generated_report():
    """Runs after the generated tests in this file (pytest keeps file order)."""
    print(f"\n{GENERATED['n']} generated inputs, {GENERATED['errors']} server errors")
    assert GENERATED["errors"] == 0
