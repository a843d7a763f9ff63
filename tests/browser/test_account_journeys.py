"""Accounts in a real browser: a broker registers; an admin reaches 系统管理."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from market.extensions import db
from market.models import Organization, User

from .helpers import COUNTY_A, fill_registration, make_uscc, nav, sign_in

pytestmark = pytest.mark.browser


def test_broker_registers_with_certificate_and_sees_account(live_server, seeded, page, page_guard):
    base = live_server.base_url
    org_name = "蚌埠市技术转移服务中心"
    page.goto(base + "/register")
    fill_registration(page, role="技术经纪人（服务机构）", username="jingjiren", name="陈经纪", org_name=org_name,
                      org_type="服务机构", uscc=make_uscc("MA2X4D6F8", area="340321"), region=COUNTY_A)

    # forgetting the certificate number is refused with a Chinese reason, nothing else is lost
    page_guard.expect_status(400)
    page.locator("#register-submit").click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("main")).to_contain_text("请填写技术经纪人证书编号")
    expect(page.get_by_label("单位名称")).to_have_value(org_name)

    page.get_by_label("密码", exact=True).fill("Test-pass-2026")  # password fields come back empty
    page.get_by_label("确认密码").fill("Test-pass-2026")
    page.get_by_label("技术经纪人证书编号").fill("JJR-340300-2026-018")
    page.locator("#register-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("注册成功")

    # the account: name and role in the navigation bar, organisation and its status in the menu
    expect(page.locator("#nav-user")).to_have_text("陈经纪（技术经纪人）")
    page.locator("#nav-user").click()
    expect(page.locator(".dropdown-menu")).to_contain_text(f"{org_name} · 待认证")
    page.locator(".dropdown-menu").get_by_role("link", name="修改密码").click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    navbar = page.locator("nav.navbar")
    expect(navbar.get_by_role("link", name="审核", exact=True)).to_have_count(0)
    expect(navbar.get_by_role("link", name="我的需求", exact=True)).to_have_count(0)

    with live_server.app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "jingjiren"))
        assert (user.role, user.broker_cert_no) == ("broker", "JJR-340300-2026-018")
        assert user.region_id == seeded.region_ids["county_a"]
        org = db.session.get(Organization, user.org_id)
        assert (org.name, org.org_type, org.status) == (org_name, "agency", "pending")
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 3  # + official and admin only


def test_admin_opens_system_management(live_server, seeded, page):
    sign_in(page, live_server.base_url, seeded.admin)
    expect(page.locator("#nav-user")).to_contain_text("系统管理员")
    nav(page, "系统管理")
    expect(page).to_have_url(re.compile(r"/admin/?$"))
    expect(page.get_by_role("heading", name="系统管理")).to_be_visible()
