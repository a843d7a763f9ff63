"""An organisation's administrator invites a colleague by a one-time link; the colleague registers from it, edits the
organisation's published need, and the need stays public with its old text until a reviewer approves the change
(issue 17 items 5 and 6)."""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from market.models import Field, Region
from tests import factories

from .helpers import sign_in, sign_out

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                 reason="the journey once; tests/test_org_members.py and test_pending_edits.py run on both")]

OLD = "寻求高透光导电膜玻璃镀膜技术"
NEW = "寻求钙钛矿电池封装胶膜技术"


@pytest.fixture
def company(live_server, seeded):
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        fields = {k: session.get(Field, v) for k, v in seeded.field_ids.items()}
        org = factories.org(region=regions["town_a"], name="怀远甲企业有限公司")
        admin = factories.user(role="enterprise", org=org, username="ent_a")
        admin.org_admin = True
        need = factories.demand(owner=admin, field=fields["materials"], status="published", title=OLD)
        session.flush()
        need_id = need.id
    return need_id


def test_colleague_joins_by_invitation_and_edits_the_need_which_stays_public_until_approved(
        live_server, seeded, company, new_page):
    need = company
    page = new_page()
    sign_in(page, live_server.base_url, "ent_a")
    page.locator("#nav-user").click()
    page.locator("#nav-members").click()
    expect(page.locator("h1")).to_have_text("单位成员")
    page.get_by_label("备注（受邀人姓名或部门，可不填）").fill("研发部王工")
    page.locator("#invite").click()
    expect(page.locator(".alert-success")).to_contain_text("邀请链接已生成")
    link = page.locator(".invitation-link").first.input_value()
    assert re.search(r"/join/[\w.-]+$", link), link
    sign_out(page)

    # the colleague opens the link, registers and is in the organisation
    guest = new_page()
    guest.goto(link)
    expect(guest.locator("h1")).to_contain_text("怀远甲企业有限公司")
    guest.get_by_label("用户名").fill("ent_a_wang")
    guest.get_by_label("姓名").fill("王工")
    guest.get_by_label("手机号码").fill("13912345678")
    guest.get_by_label("密码", exact=True).fill("Colleague-2026x")
    guest.get_by_label("确认密码").fill("Colleague-2026x")
    guest.locator("#consent input[type=checkbox]").check()
    guest.locator("#join-submit").click()
    expect(guest.locator(".alert-success")).to_contain_text("您已加入“怀远甲企业有限公司”")

    # the colleague edits the organisation's published need
    guest.goto(live_server.url(f"/demands/{need}/edit"))
    expect(guest.locator("#published-edit-note")).to_be_visible()
    guest.get_by_label("标题").fill(NEW)
    guest.locator("#save").click()
    expect(guest.locator(".alert-success")).to_contain_text("审核通过前公开展示原内容")
    expect(guest.locator("#pending-revision")).to_contain_text("王工")

    # the public still reads the published need
    public = new_page()
    public.goto(live_server.url(f"/demands/{need}"))
    expect(public.locator("h1")).to_contain_text(OLD)
    public.goto(live_server.url("/search?q=钙钛矿"))
    expect(public.locator("main")).not_to_contain_text(NEW)

    # the reviewer sees the change field by field and approves it
    reviewer = new_page()
    sign_in(reviewer, live_server.base_url, seeded.official)
    reviewer.goto(live_server.url("/review/?kind=demand"))
    reviewer.locator("#revision-queue").get_by_role("link", name="查看修改").click()
    row = reviewer.locator('#revision-diff tr[data-field="title"]')
    expect(row.locator(".diff-old")).to_have_text(OLD)
    expect(row.locator(".diff-new")).to_have_text(NEW)
    reviewer.locator("#approve").click()
    expect(reviewer.locator(".alert-success")).to_contain_text("修改已审核通过")

    public.goto(live_server.url(f"/demands/{need}"))
    expect(public.locator("h1")).to_contain_text(NEW)
    public.goto(live_server.url("/search?q=钙钛矿"))
    expect(public.locator("main")).to_contain_text(NEW)
