"""Steps shared by the journeys, written the way a person uses the site: labels, buttons, links."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from market.uscc import check_char
from tests import factories

PASSWORD = factories.PASSWORD
# how the registration form names the towns seeded by factories.region_tree()
TOWN_A = "蚌埠市 / 怀远县 / 榴城镇"
COUNTY_A = "蚌埠市 / 怀远县"


def make_uscc(serial: str, area: str = "340321") -> str:
    """A valid 统一社会信用代码 (GB 32100): '91' (enterprise, industry & commerce) + area + 9-char serial + check."""
    body = "91" + area + serial
    assert len(body) == 17
    return body + check_char(body)


def sign_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.locator("#login-submit").click()
    expect(page.locator("#nav-user")).to_be_visible()


def sign_out(page: Page) -> None:
    page.locator("#nav-user").click()
    page.locator("#logout").click()
    expect(page.get_by_text("您已安全退出")).to_be_visible()


def nav(page: Page, label: str) -> None:
    """Follow a link of the top navigation bar and wait for the new page to load."""
    link = page.locator("nav.navbar").get_by_role("link", name=label, exact=True)
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(lambda url: url.endswith(href))


def fill_registration(page: Page, *, role: str, username: str, name: str, org_name: str, org_type: str, uscc: str,
                      region: str = TOWN_A, cert_no: str | None = None) -> None:
    page.get_by_label("注册身份").select_option(label=role)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("姓名").fill(name)
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("确认密码").fill(PASSWORD)
    if cert_no is not None:
        page.get_by_label("技术经纪人证书编号").fill(cert_no)
    page.get_by_label("单位名称").fill(org_name)
    page.get_by_label("单位类型").select_option(label=org_type)
    page.get_by_label("统一社会信用代码").fill(uscc)
    page.get_by_label("所在区域").select_option(label=region)
    page.locator("#agree").check()  # consent to 用户协议 and 隐私政策


def verify_org(page: Page, org_name: str) -> None:
    """An official, on any page: 审核 -> 单位认证 -> 认证通过 on the organisation's row."""
    nav(page, "审核")
    page.get_by_role("link", name="单位认证").click()
    expect(page.get_by_role("heading", name="单位认证")).to_be_visible()
    row = page.locator("#orgs tbody tr", has_text=org_name)
    expect(row).to_have_count(1)
    row.get_by_role("button", name="认证通过").click()
    expect(page.locator(".alert-success")).to_contain_text(f"“{org_name}”已认证通过")
    expect(page.locator("#orgs")).not_to_contain_text(org_name)  # left the 待认证 tab


def open_review_item(page: Page, title: str, tab: str = "技术需求") -> None:
    """An official: 审核 -> the tab -> the listing's detail page."""
    nav(page, "审核")
    tabs = page.locator(".nav-tabs")
    if tab not in tabs.locator(".nav-link.active").inner_text():
        tabs.get_by_role("link", name=tab).click()
        expect(tabs.locator(".nav-link.active")).to_contain_text(tab)
    page.locator("#review-queue").get_by_role("link", name=title).click()
    expect(page.locator("h1")).to_contain_text(title)
    expect(page.locator("#listing-status")).to_have_text("待审核")


def approve(page: Page, title: str, tab: str = "技术需求") -> None:
    open_review_item(page, title, tab)
    page.locator("#approve").click()
    expect(page.locator(".alert-success")).to_contain_text("已审核通过并发布")
    expect(page.locator("#review-queue")).not_to_contain_text(title)


def fill_demand(page: Page, *, title: str, description: str, budget_wan: str, contact_phone: str,
                field: str = "新材料 / 金属材料", mode: str = "技术开发/合作研发") -> None:
    page.get_by_label("标题").fill(title)
    page.get_by_label("技术领域").select_option(label=field)
    page.get_by_label("拟解决的技术难题").fill(description)
    page.get_by_label("技术指标").fill("方阻≤8Ω/□，透光率≥91%")
    page.get_by_label(mode, exact=True).check()
    page.get_by_label("预算（万元）").fill(budget_wan)
    page.get_by_label("关键词").fill("导电膜、镀膜")
    page.get_by_label("联系人").fill("李经理")
    page.get_by_label("联系电话").fill(contact_phone)
