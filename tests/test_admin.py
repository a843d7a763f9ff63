"""系统管理: access, accounts, organisations, the region tree and the field taxonomy."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import Field, Organization, Region, User, UserSession
from market.permissions import in_scope
from market.reference import ensure_fields
from tests import factories
from tests.helpers import form_token, login, post

NON_ADMINS = ["enterprise", "enterprise_b", "institution", "broker", "official", "official_b", "city_official", "unverified"]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def admin_urls(world) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every admin route."""
    u, r, f, o = world.users, world.regions, world.fields, world.orgs
    return [
        ("admin.index", "GET", "/admin/"),
        ("admin.users", "GET", "/admin/users"),
        ("admin.user_new", "GET", "/admin/users/new"),
        ("admin.user_new", "POST", "/admin/users/new"),
        ("admin.user_edit", "GET", f"/admin/users/{u.enterprise.id}/edit"),
        ("admin.user_edit", "POST", f"/admin/users/{u.enterprise.id}/edit"),
        ("admin.user_active", "POST", f"/admin/users/{u.enterprise_b.id}/disable"),
        ("admin.user_active", "POST", f"/admin/users/{u.enterprise_b.id}/enable"),
        ("admin.user_password", "GET", f"/admin/users/{u.enterprise_b.id}/password"),
        ("admin.user_password", "POST", f"/admin/users/{u.enterprise_b.id}/password"),
        ("admin.orgs", "GET", "/admin/orgs"),
        ("admin.org_edit", "GET", f"/admin/orgs/{o.ent_b.id}/edit"),
        ("admin.org_edit", "POST", f"/admin/orgs/{o.ent_b.id}/edit"),
        ("admin.org_decide", "POST", f"/admin/orgs/{o.unverified.id}/decide"),
        ("admin.regions", "GET", "/admin/regions"),
        ("admin.region_new", "GET", "/admin/regions/new"),
        ("admin.region_new", "POST", "/admin/regions/new"),
        ("admin.region_edit", "GET", f"/admin/regions/{r['town_b'].id}/edit"),
        ("admin.region_edit", "POST", f"/admin/regions/{r['town_b'].id}/edit"),
        ("admin.region_delete", "POST", f"/admin/regions/{r['town_b'].id}/delete"),
        ("admin.fields", "GET", "/admin/fields"),
        ("admin.field_new", "GET", "/admin/fields/new"),
        ("admin.field_new", "POST", "/admin/fields/new"),
        ("admin.field_edit", "GET", f"/admin/fields/{f['software'].id}/edit"),
        ("admin.field_edit", "POST", f"/admin/fields/{f['software'].id}/edit"),
        ("admin.field_move", "POST", f"/admin/fields/{f['software'].id}/move"),
        ("admin.field_delete", "POST", f"/admin/fields/{f['software'].id}/delete"),
        ("admin.reasons", "GET", "/admin/reasons"),
        ("admin.reasons", "POST", "/admin/reasons"),
        ("admin.reason_edit", "GET", f"/admin/reasons/{_a_reason().id}/edit"),
        ("admin.reason_edit", "POST", f"/admin/reasons/{_a_reason().id}/edit"),
        ("admin.reason_delete", "POST", f"/admin/reasons/{_a_reason().id}/delete"),
        ("admin.reg_codes", "GET", "/admin/reg-codes"),
        ("admin.reg_code_new", "POST", "/admin/reg-codes/new"),
        ("admin.reg_code_edit", "GET", f"/admin/reg-codes/{_a_reg_code().id}"),
        ("admin.reg_code_edit", "POST", f"/admin/reg-codes/{_a_reg_code().id}"),
    ]


def _a_reg_code():
    """A 登记表 code (the test world holds the defaults: tests/conftest.py)."""
    from market.models import RegCode

    return db.session.scalar(select(RegCode).where(RegCode.kind == "ip_type").order_by(RegCode.id).limit(1))


def _a_reason():
    """A stock 退回 reason to address (made once per test; tests/test_review_queue.py checks who may change it)."""
    from market.models import ReturnReason

    return db.session.scalar(select(ReturnReason).limit(1)) or factories.return_reason()


# Data a non-admin might try to push through each POST: if any of it were accepted, a row would change.
HOSTILE = {
    "name": "被篡改", "username": "hacker1", "role": "admin", "password": "Hacked-pass-2026", "password2": "Hacked-pass-2026",
    "code": "340399", "level": "county", "parent_id": "0", "decision": "verify", "direction": "up", "uscc": "",
    "org_type": "enterprise", "region_id": "0", "kind": "ip_type", "label": "被篡改", "sort": "1", "active": "",
}


def snapshot(world) -> tuple:
    db.session.expire_all()
    u = world.users
    return (
        count(User), count(Region), count(Field), count(UserSession, UserSession.revoked_at.is_not(None)),
        u.enterprise.name, u.enterprise_b.active, u.enterprise_b.password_hash, world.orgs.ent_b.name,
        world.orgs.unverified.status, world.regions["town_b"].name, world.fields["software"].name, world.fields["software"].sort,
        _reg_codes(),
    )


def _reg_codes() -> tuple:
    from market.models import RegCode

    return tuple(db.session.execute(select(RegCode.kind, RegCode.code, RegCode.label, RegCode.sort, RegCode.active)
                                    .order_by(RegCode.id)).all())


def test_every_admin_route_is_listed(app, world):
    listed = {endpoint for endpoint, _, _ in admin_urls(world)}
    actual = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")}
    assert actual == listed


def test_anonymous_is_sent_to_sign_in(client, world):
    for _, method, url in admin_urls(world):
        resp = client.get(url) if method == "GET" else post(client, url, HOSTILE)
        assert resp.status_code == 302, (method, url)
        assert "/login" in resp.headers["Location"], (method, url)
    assert client.head("/admin/").status_code == 302


@pytest.mark.parametrize("role", NON_ADMINS)
def test_every_non_admin_role_is_refused_everywhere(world, login_as, role):
    before = snapshot(world)
    c = login_as(role)
    for _, method, url in admin_urls(world):
        resp = c.get(url) if method == "GET" else post(c, url, HOSTILE)
        assert resp.status_code == 403, (role, method, url, resp.status_code)
    assert c.head("/admin/users").status_code == 403
    assert snapshot(world) == before


def test_admin_sees_every_page(world, login_as):
    c = login_as("admin")
    for _, method, url in admin_urls(world):
        if method == "GET":
            assert c.get(url).status_code == 200, url
    page = c.get("/admin/").get_data(as_text=True)
    assert "系统管理" in page and 'id="count-users">9<' in page
    assert 'href="/admin/"' in page  # the nav link


def test_officials_use_review_orgs_not_admin(world, login_as):
    c = login_as("official")
    assert c.get("/admin/").status_code == 403
    assert c.get("/review/orgs").status_code == 200
    assert 'href="/admin/"' not in c.get("/").get_data(as_text=True)


def test_odd_query_parameters_still_give_a_page(world, login_as):
    c = login_as("admin")
    for url in ["/admin/users?page=abc&role=root&active=maybe&q=%00%25%27",
                "/admin/users?page=999999999999&q=" + "长" * 500,
                "/admin/orgs?type=x&status=y&region=-1&q=%5C&page=-3",
                "/admin/orgs?region=99999999",
                "/admin/regions/new?parent=abc", "/admin/fields/new?parent=99999"]:
        assert c.get(url).status_code == 200, url


# ---------------------------------------------------------------- users


def test_user_list_filters_and_escaped_search(world, login_as):
    c = login_as("admin")
    page = c.get("/admin/users?q=_").get_data(as_text=True)
    assert "ent_a" in page and "official_city" in page
    assert ">admin<" not in page and ">uni<" not in page  # '_' is a literal underscore, not a wildcard
    assert ">admin<" not in c.get("/admin/users?q=%25").get_data(as_text=True)
    page = c.get("/admin/users?q=蚌埠测试").get_data(as_text=True)  # organisation name
    assert ">uni<" in page and "ent_a" not in page
    page = c.get("/admin/users?role=official").get_data(as_text=True)
    assert "official_a" in page and "official_city" in page and "ent_a" not in page
    world.users.enterprise_b.active = False
    db.session.commit()
    page = c.get("/admin/users?active=0").get_data(as_text=True)
    assert "ent_b" in page and "ent_a" not in page
    assert "ent_b" not in c.get("/admin/users?active=1").get_data(as_text=True)


def test_user_list_is_paginated(world, login_as):
    for i in range(25):
        factories.user(role="official", region=world.regions["city"], username=f"paged{i:02d}")
    db.session.commit()
    c = login_as("admin")
    first = c.get("/admin/users").get_data(as_text=True)
    second = c.get("/admin/users?page=2").get_data(as_text=True)
    assert "共 34 条" in first
    assert "paged24" in first and "paged24" not in second
    assert ">admin<" in second


def test_disabling_a_user_makes_their_client_anonymous(world, login_as):
    victim = login_as("enterprise")
    assert victim.get("/my/demands").status_code == 200
    admin = login_as("admin")
    resp = post(admin, f"/admin/users/{world.users.enterprise.id}/disable", {"next": "/admin/users?role=enterprise"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/users?role=enterprise")
    db.session.expire_all()
    assert world.users.enterprise.active is False
    assert count(UserSession, UserSession.user_id == world.users.enterprise.id, UserSession.revoked_at.is_(None)) == 0
    resp = victim.get("/my/demands")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    # and the account cannot sign in again until enabled
    fresh = admin.application.test_client()
    assert post(fresh, "/login", {"username": "ent_a", "password": factories.PASSWORD}).status_code == 400
    assert post(admin, f"/admin/users/{world.users.enterprise.id}/enable").status_code == 302
    login(fresh, "ent_a")
    assert fresh.get("/my/demands").status_code == 200


def test_disable_redirect_ignores_foreign_next(world, login_as):
    admin = login_as("admin")
    resp = post(admin, f"/admin/users/{world.users.enterprise.id}/disable", {"next": "//evil.example/x"})
    assert resp.headers["Location"].endswith("/admin/users")


def test_admin_cannot_disable_themself(world, login_as):
    admin = login_as("admin")
    resp = post(admin, f"/admin/users/{world.users.admin.id}/disable")
    assert resp.status_code == 400
    assert "不能停用自己的账号" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert world.users.admin.active is True
    assert admin.get("/admin/").status_code == 200


def test_reset_password_revokes_sessions_and_follows_the_rules(world, login_as):
    victim = login_as("broker")
    admin = login_as("admin")
    old_hash = world.users.broker.password_hash
    resp = post(admin, f"/admin/users/{world.users.broker.id}/password", {"password": "short1", "password2": "short1"})
    assert resp.status_code == 400 and "密码至少10位" in resp.get_data(as_text=True)
    resp = post(admin, f"/admin/users/{world.users.broker.id}/password",
                {"password": "broker-Pass-2026", "password2": "broker-Pass-2026"})
    assert resp.status_code == 400 and "包含用户名" in resp.get_data(as_text=True)
    resp = post(admin, f"/admin/users/{world.users.broker.id}/password",
                {"password": "Nieuw-pass-2027", "password2": "Other-pass-2027"})
    assert resp.status_code == 400
    db.session.expire_all()
    assert world.users.broker.password_hash == old_hash
    assert victim.get("/").status_code == 200 and "退出登录" in victim.get("/").get_data(as_text=True)

    resp = post(admin, f"/admin/users/{world.users.broker.id}/password",
                {"password": "Nieuw-pass-2027", "password2": "Nieuw-pass-2027"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert world.users.broker.check_password("Nieuw-pass-2027")
    assert "退出登录" not in victim.get("/").get_data(as_text=True)
    fresh = admin.application.test_client()
    login(fresh, "broker", "Nieuw-pass-2027")


def test_admin_resets_own_password_only_through_change_password(world, login_as):
    admin = login_as("admin")
    resp = post(admin, f"/admin/users/{world.users.admin.id}/password", {"password": "Nieuw-pass-2027", "password2": "Nieuw-pass-2027"})
    assert resp.status_code == 400
    db.session.expire_all()
    assert world.users.admin.check_password(factories.PASSWORD)


def _new_user(**kw) -> dict:
    data = {"role": "official", "username": "kjj_new", "name": "新工作人员", "phone": "0552-1234567", "email": "",
            "password": "Strong-pass-2026", "password2": "Strong-pass-2026", "region_id": "0", "org_id": "0",
            "broker_cert_no": "", "form_token": form_token()}
    data.update(kw)
    return data


def test_create_official_requires_a_region(world, login_as):
    admin = login_as("admin")
    resp = post(admin, "/admin/users/new", _new_user())
    assert resp.status_code == 400
    assert "科技局工作人员须绑定一个区域" in resp.get_data(as_text=True)
    assert count(User, User.username == "kjj_new") == 0
    resp = post(admin, "/admin/users/new", _new_user(region_id=str(world.regions["county_b"].id)))
    assert resp.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "kjj_new"))
    assert user.role == "official" and user.region_id == world.regions["county_b"].id and user.org_id is None
    official = admin.application.test_client()
    login(official, "kjj_new", "Strong-pass-2026")
    assert official.get("/review/orgs").status_code == 200


def test_create_broker_needs_agency_certificate_and_region(world, login_as):
    admin = login_as("admin")
    resp = post(admin, "/admin/users/new", _new_user(role="broker", username="jjr2", org_id=str(world.orgs.ent_a.id),
                                                     region_id=str(world.regions["county_a"].id)))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "服务机构" in body and "证书编号" in body
    assert count(User, User.username == "jjr2") == 0
    resp = post(admin, "/admin/users/new", _new_user(role="broker", username="jjr2", org_id=str(world.orgs.agency.id),
                                                     region_id=str(world.regions["county_a"].id), broker_cert_no="JJR-2026-088"))
    assert resp.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "jjr2"))
    assert (user.role, user.org_id, user.region_id, user.broker_cert_no) == (
        "broker", world.orgs.agency.id, world.regions["county_a"].id, "JJR-2026-088")


def test_create_admin_and_refuse_bad_accounts(world, login_as):
    admin = login_as("admin")
    assert post(admin, "/admin/users/new", _new_user(role="admin", username="admin2")).status_code == 302
    assert db.session.scalar(select(User.role).where(User.username == "admin2")) == "admin"
    for data, reason in [
        (_new_user(role="admin", username="ADMIN2"), "该用户名已被使用"),
        (_new_user(role="enterprise", username="x_ent", region_id=str(world.regions["city"].id)), ""),
        (_new_user(role="admin", username="weakpw", password="abcdefghij", password2="abcdefghij"), "字母和数字"),
        (_new_user(role="admin", username="中文名"), "可用字母、数字"),
    ]:
        resp = post(admin, "/admin/users/new", data)
        assert resp.status_code == 400, data
        assert reason in resp.get_data(as_text=True)
    assert count(User) == 10


def test_edit_user(world, login_as):
    admin = login_as("admin")
    official = world.users.official
    url = f"/admin/users/{official.id}/edit"
    assert "怀远县" in admin.get(url).get_data(as_text=True)
    resp = post(admin, url, {"name": "王科长", "phone": "", "email": "", "region_id": "0"})
    assert resp.status_code == 400 and "须绑定一个区域" in resp.get_data(as_text=True)
    resp = post(admin, url, {"name": "王科长", "phone": "13900000000", "email": "w@example.cn",
                             "region_id": str(world.regions["county_b"].id), "role": "admin"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert (official.name, official.phone, official.email, official.region_id, official.role) == (
        "王科长", "13900000000", "w@example.cn", world.regions["county_b"].id, "official")
    # the certificate is a broker's only; a region is ignored for an enterprise user
    ent = world.users.enterprise
    post(admin, f"/admin/users/{ent.id}/edit", {"name": "李经理", "region_id": str(world.regions["city"].id), "broker_cert_no": "X"})
    db.session.expire_all()
    assert (ent.name, ent.region_id, ent.broker_cert_no) == ("李经理", None, "")
    resp = post(admin, f"/admin/users/{world.users.broker.id}/edit",
                {"name": "经纪人", "region_id": str(world.regions["county_a"].id), "broker_cert_no": ""})
    assert resp.status_code == 400 and "证书编号" in resp.get_data(as_text=True)
    assert admin.get("/admin/users/999999/edit").status_code == 404


# ---------------------------------------------------------------- organisations


def _org_data(org: Organization, **kw) -> dict:
    data = {"name": org.name, "uscc": org.uscc, "org_type": org.org_type, "region_id": str(org.region_id),
            "contact_name": org.contact_name, "contact_phone": org.contact_phone, "contact_email": "", "address": ""}
    data.update(kw)
    return data


def test_org_edit_with_a_wrong_credit_code_changes_nothing(world, login_as):
    admin = login_as("admin")
    org = world.orgs.ent_b
    before = (org.name, org.uscc, org.address)
    bad = org.uscc[:-1] + ("0" if org.uscc[-1] != "0" else "1")
    resp = post(admin, f"/admin/orgs/{org.id}/edit", _org_data(org, name="五河新名称有限公司", uscc=bad, address="新地址"))
    assert resp.status_code == 400
    assert "校验位不正确" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert (org.name, org.uscc, org.address) == before
    resp = post(admin, f"/admin/orgs/{org.id}/edit", _org_data(org, uscc=world.orgs.ent_a.uscc))
    assert resp.status_code == 400 and "已被其他单位使用" in resp.get_data(as_text=True)
    resp = post(admin, f"/admin/orgs/{org.id}/edit", _org_data(org, name=world.orgs.ent_a.name))
    assert resp.status_code == 400 and "已有同名单位" in resp.get_data(as_text=True)


def test_org_edit_saves_a_normalised_code(world, login_as):
    admin = login_as("admin")
    org = world.orgs.ent_b
    code = factories.uscc(777)
    spaced = " ".join([code[:6], code[6:12], code[12:]]).lower()
    resp = post(admin, f"/admin/orgs/{org.id}/edit", _org_data(
        org, uscc=spaced, name="五河乙企业（集团）有限公司", region_id=str(world.regions["town_b"].id),
        contact_name="赵六", contact_phone="0552-5555555", contact_email="z@example.cn", address="五河县城关镇1号"))
    assert resp.status_code == 302
    db.session.expire_all()
    assert (org.uscc, org.name, org.region_id, org.contact_email, org.address) == (
        code, "五河乙企业（集团）有限公司", world.regions["town_b"].id, "z@example.cn", "五河县城关镇1号")


def test_org_type_must_fit_its_users(world, login_as):
    admin = login_as("admin")
    org = world.orgs.ent_a
    resp = post(admin, f"/admin/orgs/{org.id}/edit", _org_data(org, org_type="university"))
    assert resp.status_code == 400 and "单位类型须与账号身份一致" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert org.org_type == "enterprise"
    empty = factories.org(region=world.regions["city"], name="空壳单位")
    db.session.commit()
    assert post(admin, f"/admin/orgs/{empty.id}/edit", _org_data(empty, org_type="institute")).status_code == 302
    db.session.expire_all()
    assert empty.org_type == "institute"


def test_org_list_filters(world, login_as):
    admin = login_as("admin")
    page = admin.get("/admin/orgs?type=agency").get_data(as_text=True)
    assert "蚌埠技术转移中心" in page and "怀远甲企业" not in page
    page = admin.get("/admin/orgs?status=pending").get_data(as_text=True)
    assert "怀远待认证企业" in page and "五河乙企业" not in page
    page = admin.get(f"/admin/orgs?region={world.regions['county_a'].id}").get_data(as_text=True)
    assert "怀远甲企业" in page and "怀远待认证企业" in page and "五河乙企业" not in page and "蚌埠测试大学" not in page
    page = admin.get("/admin/orgs?q=五河").get_data(as_text=True)
    assert "五河乙企业" in page and "怀远甲企业" not in page
    assert "怀远" not in admin.get("/admin/orgs?q=%25").get_data(as_text=True).split('id="orgs"')[1]


def test_org_verify_and_reject(world, login_as):
    admin = login_as("admin")
    org = world.orgs.unverified
    resp = post(admin, f"/admin/orgs/{org.id}/decide", {"decision": "reject", "note": ""})
    assert resp.status_code == 400 and "请填写理由" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert org.status == "pending"
    assert post(admin, f"/admin/orgs/{org.id}/decide", {"decision": "nonsense"}).status_code == 400
    assert post(admin, f"/admin/orgs/{org.id}/decide", {"decision": "verify", "note": "材料齐全"}).status_code == 302
    db.session.expire_all()
    assert (org.status, org.verified_by_id, org.review_note) == ("verified", world.users.admin.id, "材料齐全")
    assert post(admin, f"/admin/orgs/{org.id}/decide", {"decision": "reject", "note": "执照过期"}).status_code == 302
    db.session.expire_all()
    assert org.status == "rejected"


# ---------------------------------------------------------------- regions


def _region(**kw) -> dict:
    data = {"code": "", "name": "", "level": "county", "parent_id": "0", "sort": "0", "form_token": form_token()}
    data.update(kw)
    return data


def test_region_code_level_and_parent_rules(world, login_as):
    admin = login_as("admin")
    r = world.regions
    before = count(Region)
    cases = [
        (_region(code="34032", name="短码县", parent_id=str(r["city"].id)), "县区级行政区划代码应为6位数字"),
        (_region(code="34032x", name="字母县", parent_id=str(r["city"].id)), "6位数字"),
        (_region(code="340323", name="无上级县"), "须有上级区划"),
        (_region(code="340323", name="挂镇县", parent_id=str(r["town_a"].id)), "上级应为市级区划"),
        (_region(code="340321102", name="挂市镇", level="town", parent_id=str(r["city"].id)), "上级应为县区级区划"),
        (_region(code="340321", name="重复县", parent_id=str(r["city"].id)), "已存在"),
        (_region(code="340321", name="镇", level="town", parent_id=str(r["county_a"].id)), "9位或12位数字"),
        (_region(code="3403211020", name="十位镇", level="town", parent_id=str(r["county_a"].id)), "9位或12位数字"),
        (_region(code="340400", name="带上级的市", level="city", parent_id=str(r["city"].id)), "市级区划没有上级区划"),
        (_region(code="340323", name="", parent_id=str(r["city"].id)), "请填写区划名称"),
        (_region(code="340323", name="错级县", level="province", parent_id=str(r["city"].id)), ""),
        (_region(code="340323", name="幽灵县", parent_id="999999"), "上级区划不存在"),
    ]
    for data, reason in cases:
        resp = post(admin, "/admin/regions/new", data)
        assert resp.status_code == 400, data
        assert reason in resp.get_data(as_text=True), (data, reason)
    assert count(Region) == before

    assert post(admin, "/admin/regions/new", _region(code="３４０３２３", name="固镇县", parent_id=str(r["city"].id))).status_code == 302
    county = db.session.scalar(select(Region).where(Region.code == "340323"))
    assert county.path == f"{r['city'].path}{county.id}/" and county.parent_id == r["city"].id
    assert post(admin, "/admin/regions/new", _region(code="340323100001", name="谷阳社区", level="town", parent_id=str(county.id))).status_code == 302
    town = db.session.scalar(select(Region).where(Region.code == "340323100001"))
    assert town.path == f"{county.path}{town.id}/"
    assert post(admin, "/admin/regions/new", _region(code="340400", name="淮南市", level="city")).status_code == 302
    city2 = db.session.scalar(select(Region).where(Region.code == "340400"))
    assert city2.path == f"/{city2.id}/" and city2.parent_id is None


def test_region_new_prefills_from_parent(world, login_as):
    page = login_as("admin").get(f"/admin/regions/new?parent={world.regions['county_a'].id}").get_data(as_text=True)
    assert '<option selected value="town">' in page


def test_moving_a_county_rewrites_its_subtree_paths(world, login_as):
    admin = login_as("admin")
    r = world.regions
    assert post(admin, "/admin/regions/new", _region(code="340400", name="淮南市", level="city")).status_code == 302
    city2 = db.session.scalar(select(Region).where(Region.code == "340400"))
    county_b_path = r["county_b"].path
    resp = post(admin, f"/admin/regions/{r['county_a'].id}/edit",
                _region(code="340421", name="怀远县（划转）", level="county", parent_id=str(city2.id)))
    assert resp.status_code == 302
    db.session.expire_all()
    a, town = r["county_a"], r["town_a"]
    assert a.parent_id == city2.id and a.code == "340421" and a.name == "怀远县（划转）"
    assert a.path == f"/{city2.id}/{a.id}/"
    assert town.path == f"/{city2.id}/{a.id}/{town.id}/"
    assert r["county_b"].path == county_b_path and r["town_b"].path.startswith(county_b_path)
    # scoping follows the tree: the old city's official no longer covers the moved town
    assert not in_scope(world.users.city_official, town)
    assert in_scope(world.users.official, town)
    page = admin.get("/admin/regions").get_data(as_text=True).split('id="regions"')[1]
    assert page.index("淮南市") < page.index("怀远县（划转）") < page.index("榴城镇")


def test_region_edit_refusals(world, login_as):
    admin = login_as("admin")
    r = world.regions
    url = f"/admin/regions/{r['county_a'].id}/edit"
    resp = post(admin, url, _region(code="340321101", name="怀远县", level="town", parent_id=str(r["county_b"].id)))
    assert resp.status_code == 400 and "还有下级区划，不能修改级别" in resp.get_data(as_text=True)
    resp = post(admin, url, _region(code="340321", name="怀远县", parent_id=str(r["town_a"].id)))
    assert resp.status_code == 400 and "本区划或其下级" in resp.get_data(as_text=True)
    resp = post(admin, url, _region(code="340322", name="怀远县", parent_id=str(r["city"].id)))
    assert resp.status_code == 400 and "已存在" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert (r["county_a"].code, r["county_a"].level, r["county_a"].parent_id) == ("340321", "county", r["city"].id)


def test_region_delete_only_when_unused(world, login_as):
    admin = login_as("admin")
    r = world.regions
    resp = post(admin, f"/admin/regions/{r['county_a'].id}/delete")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "不能删除" in body and "下级区划 1 条" in body and "用户" in body
    resp = post(admin, f"/admin/regions/{r['town_a'].id}/delete")
    assert resp.status_code == 409 and "单位 1 条" in resp.get_data(as_text=True)
    # a town used only by a listing
    post(admin, "/admin/regions/new", _region(code="340321199", name="试验镇", level="town", parent_id=str(r["county_a"].id)))
    town = db.session.scalar(select(Region).where(Region.code == "340321199"))
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"])
    d.region_id = town.id
    db.session.commit()
    resp = post(admin, f"/admin/regions/{town.id}/delete")
    assert resp.status_code == 409 and "技术需求 1 条" in resp.get_data(as_text=True)
    db.session.delete(d)
    db.session.commit()
    assert post(admin, f"/admin/regions/{town.id}/delete").status_code == 302
    assert count(Region, Region.code == "340321199") == 0
    assert count(Region) == 5


def test_region_and_field_used_only_by_a_contract_are_kept(world, login_as):
    admin = login_as("admin")
    r, f = world.regions, world.fields
    post(admin, "/admin/regions/new", _region(code="340322199", name="合同镇", level="town", parent_id=str(r["county_b"].id)))
    town = db.session.scalar(select(Region).where(Region.code == "340322199"))
    sub = Field(code="04.99", name="合同专用领域", parent_id=f["root_materials"].id)
    db.session.add(sub)
    db.session.flush()
    factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, seller_region=town, field=sub)
    db.session.commit()
    resp = post(admin, f"/admin/regions/{town.id}/delete")
    assert resp.status_code == 409 and "技术合同 1 条" in resp.get_data(as_text=True)
    resp = post(admin, f"/admin/fields/{sub.id}/delete")
    assert resp.status_code == 409 and "技术合同 1 条" in resp.get_data(as_text=True)
    assert count(Region, Region.id == town.id) == 1 and count(Field, Field.id == sub.id) == 1


# ---------------------------------------------------------------- field taxonomy


def test_field_create_rename_and_rules(world, login_as):
    admin = login_as("admin")
    f = world.fields
    assert post(admin, "/admin/fields/new", {"name": "航空航天", "parent_id": "0", "code": "", "form_token": form_token()}).status_code == 302
    top = db.session.scalar(select(Field).where(Field.name == "航空航天"))
    assert top.code == "05" and top.parent_id is None
    assert post(admin, "/admin/fields/new", {"name": "无机非金属材料", "parent_id": str(f["root_materials"].id), "form_token": form_token()}).status_code == 302
    sub = db.session.scalar(select(Field).where(Field.name == "无机非金属材料"))
    assert sub.code == "04.02" and sub.parent_id == f["root_materials"].id
    assert post(admin, "/admin/fields/new", {"name": "高分子", "parent_id": str(f["root_materials"].id), "code": "04.09", "form_token": form_token()}).status_code == 302
    before = count(Field)
    for data, reason in [
        ({"name": "金属材料", "parent_id": str(f["root_materials"].id)}, "同一上级下已有同名领域"),
        ({"name": "三级", "parent_id": str(f["materials"].id)}, "只有两级"),
        ({"name": "坏代码", "parent_id": str(f["root_materials"].id), "code": "05.01"}, "二级领域代码应为“04.两位数字”"),
        ({"name": "坏代码", "parent_id": "0", "code": "9"}, "一级领域代码应为两位数字"),
        ({"name": "重复", "parent_id": "0", "code": "01"}, "领域代码 01 已存在"),
        ({"name": "", "parent_id": "0"}, "请填写领域名称"),
    ]:
        resp = post(admin, "/admin/fields/new", {**data, "form_token": form_token()})
        assert resp.status_code == 400, data
        assert reason in resp.get_data(as_text=True), reason
    assert count(Field) == before

    assert post(admin, f"/admin/fields/{f['software'].id}/edit", {"name": "软件与信息服务"}).status_code == 302
    db.session.expire_all()
    assert (f["software"].name, f["software"].code) == ("软件与信息服务", "01.01")
    resp = post(admin, f"/admin/fields/{sub.id}/edit", {"name": "金属材料"})
    assert resp.status_code == 400
    db.session.expire_all()
    assert sub.name == "无机非金属材料"


def test_field_reorder(world, login_as):
    admin = login_as("admin")
    root = world.fields["root_materials"]
    for name in ("无机非金属材料", "高分子材料"):
        post(admin, "/admin/fields/new", {"name": name, "parent_id": str(root.id), "form_token": form_token()})

    def order():
        db.session.expire_all()
        return [x.name for x in db.session.scalars(select(Field).where(Field.parent_id == root.id).order_by(Field.sort, Field.code))]

    assert order() == ["金属材料", "无机非金属材料", "高分子材料"]
    polymer = db.session.scalar(select(Field).where(Field.name == "高分子材料"))
    assert post(admin, f"/admin/fields/{polymer.id}/move", {"direction": "up"}).status_code == 302
    assert order() == ["金属材料", "高分子材料", "无机非金属材料"]
    post(admin, f"/admin/fields/{polymer.id}/move", {"direction": "up"})
    post(admin, f"/admin/fields/{polymer.id}/move", {"direction": "up"})  # already first: stays
    assert order() == ["高分子材料", "金属材料", "无机非金属材料"]
    post(admin, f"/admin/fields/{polymer.id}/move", {"direction": "down"})
    assert order() == ["金属材料", "高分子材料", "无机非金属材料"]
    assert post(admin, f"/admin/fields/{polymer.id}/move", {"direction": "sideways"}).status_code == 400
    # the listing form offers subfields in that order
    from market.forms import field_choices

    labels = [label for _, label in field_choices()]
    assert labels.index("新材料 / 金属材料") < labels.index("新材料 / 高分子材料") < labels.index("新材料 / 无机非金属材料")


def test_field_delete_only_when_unused(world, login_as):
    admin = login_as("admin")
    f = world.fields
    factories.demand(owner=world.users.enterprise, field=f["materials"])
    db.session.commit()
    resp = post(admin, f"/admin/fields/{f['materials'].id}/delete")
    assert resp.status_code == 409 and "技术需求 1 条" in resp.get_data(as_text=True)
    resp = post(admin, f"/admin/fields/{f['root_materials'].id}/delete")
    assert resp.status_code == 409 and "下级领域 1 条" in resp.get_data(as_text=True)
    assert count(Field) == 4
    assert post(admin, f"/admin/fields/{f['software'].id}/delete").status_code == 302
    assert count(Field, Field.code == "01.01") == 0
    root2 = db.session.scalar(select(Field).where(Field.code == "01"))
    assert post(admin, f"/admin/fields/{root2.id}/delete").status_code == 302
    assert count(Field) == 2
    assert "data-confirm" in admin.get("/admin/fields").get_data(as_text=True)


# ---------------------------------------------------------------- reference data


def test_ensure_fields_fills_an_empty_taxonomy_once(app, runner):
    from market.data.fields import FIELDS

    db.session.commit()
    result = runner.invoke(args=["init-reference"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    expected = len(FIELDS) + sum(len(subs) for _, _, subs in FIELDS)
    assert count(Field) == expected
    assert count(Field, Field.parent_id.is_(None)) == 8
    software = db.session.scalar(select(Field).where(Field.code == "01.01"))
    assert software.parent.code == "01"
    db.session.commit()
    result = runner.invoke(args=["init-reference"])
    assert result.exit_code == 0 and "未做改动" in result.output
    db.session.expire_all()
    assert count(Field) == expected
    assert ensure_fields() == 0


def test_moving_an_organisation_moves_its_listings_into_the_new_scope(world, login_as):
    from market.models import Demand

    d = factories.demand(owner=world.users.enterprise_b, field=world.fields["materials"], status="pending")
    db.session.commit()
    org = world.orgs.ent_b
    admin = login_as("admin")
    resp = post(admin, f"/admin/orgs/{org.id}/edit", _org_data(org, region_id=world.regions["town_a"].id))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    assert db.session.get(Demand, d.id).region_id == world.regions["town_a"].id
    # county A's official now reviews it; county B's no longer sees it
    assert login_as("official").get("/review/?kind=demand").get_data(as_text=True).count(d.title) == 1
    assert d.title not in login_as("official_b").get("/review/?kind=demand").get_data(as_text=True)
