"""揭榜挂帅 from the 榜 to the award paid, in a real browser (issue 19): county A's official publishes a campaign and a
榜 on a company's published need (rubric, one panel expert); a university submits its 揭榜方案 with a PDF attachment; after the
deadline the panel expert downloads the attachment and scores the proposal on the score page; the official announces, which opens the winner's deal with the
company; the county's broker claims that deal, moves it to 洽谈 and signs it by recording the technology contract
(登记编号, as every deal is signed); the official splits the award into a milestone, the winner delivers it, the
company accepts it, and the project page shows the award as paid; the company confirms the contract solved its need."""
from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from market.extensions import db
from market.models import CampaignMilestone, CampaignProposal, CampaignTask, Contract, Deal, Expert, Field, Region
from market.models.base import utcnow
from tests import factories
from tests.test_contracts import PDF

from .helpers import nav, sign_in

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                 reason="the journey once; tests/test_campaigns.py and test_campaign_files.py run on both")]

NEED = "光伏玻璃减反射镀膜耐候性提升"
ENTERPRISE = "怀远县榴城新材料有限公司"
UNIVERSITY = "蚌埠理工学院"
INSTITUTE = "蚌埠材料研究院"
EXPERT = "王研究员"
CAMPAIGN = "怀远县新材料揭榜挂帅榜单"
TASK = "减反射镀膜十年耐候攻关"
REG_NO = f"{date.today().year}340321000456"


@pytest.fixture
def cast(live_server, seeded):
    """The company and its published need, the solver (a university), the panel expert (an institute's member in
    the 专家库, with an account) and county A's broker."""
    with live_server.seed() as session:
        regions = {k: session.get(Region, v) for k, v in seeded.region_ids.items()}
        materials = session.get(Field, seeded.field_ids["materials"])
        ent = factories.user(role="enterprise", org=factories.org(region=regions["town_a"], name=ENTERPRISE),
                             username="qiye")
        factories.demand(owner=ent, field=materials, status="published", title=NEED)
        factories.user(role="institution", org=factories.org(region=regions["city"], org_type="university",
                                                             name=UNIVERSITY), username="gaoxiao")
        inst = factories.org(region=regions["city"], org_type="institute", name=INSTITUTE)
        panel_user = factories.user(role="institution", org=inst, username="zhuanjia")
        expert = Expert(name=EXPERT, user_id=panel_user.id, org_id=inst.id, region_id=regions["county_a"].id,
                        title="研究员", available=True)
        expert.fields = [materials]
        session.add(expert)
        agency = factories.org(region=regions["city"], org_type="agency", name="蚌埠技术转移中心")
        factories.user(role="broker", org=agency, region=regions["county_a"], username="jingjiren")


def test_campaign_from_the_bang_to_the_award_paid(live_server, seeded, cast, new_page):
    base = live_server.base_url
    deadline = (utcnow() + timedelta(hours=8) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")  # Beijing time

    # 1. the official publishes the campaign and its 榜
    official = new_page()
    sign_in(official, base, seeded.official)
    nav(official, "揭榜挂帅")
    official.locator("#new-campaign").click()
    official.get_by_label("榜单名称").fill(CAMPAIGN)
    official.get_by_label("榜单说明").fill("企业出题、政府立题、能者解题、市场阅卷。")
    official.locator("#create-campaign").click()
    expect(official.locator(".alert-success")).to_contain_text("榜单已创建，请添加榜")
    official.get_by_label("企业需求（已公开发布）").select_option(label=f"{NEED}（{ENTERPRISE}）")
    official.get_by_label("榜名").fill(TASK)
    official.get_by_label("攻关目标").fill("镀膜耐候性由五年提升到十年")
    official.get_by_label("考核指标").fill("透过率提升2%，双85老化1000小时衰减小于0.5%")
    official.get_by_label("奖补资金（元）").fill("500000.00")
    official.get_by_label("企业配套资金（元）").fill("200000.00")
    official.get_by_label("揭榜截止时间").fill(deadline)
    official.get_by_label("高校", exact=True).check()
    official.get_by_label("科研院所", exact=True).check()
    official.get_by_label("评分细则（每行一项：评分项 满分）").fill("技术先进性 60\n团队能力 40")
    official.get_by_label("评审专家（专家库中有登录账号的专家）").select_option(label=f"{EXPERT}（{INSTITUTE}）")
    official.locator("#publish-task").click()
    expect(official.locator(".alert-success")).to_contain_text("已发榜")
    expect(official.locator("h1")).to_contain_text(TASK)
    expect(official.locator("#task-state")).to_have_text("揭榜中")
    expect(official.locator("#award")).to_have_text("500,000.00元")
    task_url = official.url

    # 2. the university finds the 榜 and submits its 揭榜方案
    solver = new_page()
    sign_in(solver, base, "gaoxiao")
    nav(solver, "揭榜挂帅")
    solver.locator(".campaign").get_by_role("link", name=TASK).click()
    expect(solver.locator("h1")).to_contain_text(TASK)
    solver.locator("#propose").click()
    solver.get_by_label("方案概要").fill("磁控溅射加纳米多孔涂层的双层减反射方案")
    solver.get_by_label("技术路线、进度安排与团队").fill("技术路线：磁控溅射底层加溶胶凝胶纳米多孔面层；进度：一年完成中试；团队：教授一名、博士三名。")
    solver.get_by_label("附件（PDF，每个不超过10MB").set_input_files(  # the label goes on to name the limits
        {"name": "揭榜方案书.pdf", "mimeType": "application/pdf", "buffer": PDF})
    solver.locator("#save-proposal").click()
    expect(solver.locator(".alert-success")).to_contain_text("揭榜方案已提交")
    expect(solver.locator("#save-proposal")).to_have_text("保存修改")
    expect(solver.locator("#proposal-files")).to_contain_text("揭榜方案书.pdf")

    # 3. the deadline passes. Time travel is a fixture here, not a mock: the 榜's deadline is moved into the past
    # in the database, and every page and service then reads the server's real clock as usual
    with live_server.seed():
        task = db.session.scalar(select(CampaignTask).where(CampaignTask.title == TASK))
        task.deadline = utcnow() - timedelta(minutes=1)
    solver.goto(task_url)
    expect(solver.locator("#task-state")).to_have_text("评审中")
    expect(solver.locator("#propose")).to_have_count(0)

    # 4. the panel expert scores the proposal on the score page
    expert = new_page()
    sign_in(expert, base, "zhuanjia")
    expert.goto(task_url)
    expert.locator("#review").click()
    card = expert.locator(".proposal", has_text=UNIVERSITY)
    expect(card).to_contain_text("磁控溅射加纳米多孔涂层")
    with expert.expect_download() as download:
        card.get_by_role("link", name="附件：揭榜方案书.pdf").click()
    assert download.value.suggested_filename == "揭榜方案书.pdf"
    assert Path(download.value.path()).read_bytes() == PDF
    card.get_by_role("link", name="评分").click()
    expect(expert.locator("h1")).to_have_text(f"评分：{UNIVERSITY}")
    expert.get_by_label("技术先进性（0-60分）").fill("55")
    expert.get_by_label("团队能力（0-40分）").fill("36")
    expert.locator("#save-score").click()
    expect(expert.locator(".alert-success")).to_contain_text("评分已保存")
    expect(expert.locator(".my-scores")).to_contain_text("技术先进性 55，团队能力 36")
    expect(expert.locator("#ranking")).to_contain_text(f"{UNIVERSITY}：91.00")

    # 5. the official announces: the 公示 list and the winner's deal
    official.goto(task_url)
    official.locator("#review").click()
    expect(official.locator("body")).to_contain_text("尚缺 0 份评分")
    official.locator("#announce").click()
    expect(official.locator(".alert-success")).to_contain_text(f"已公示揭榜结果：{UNIVERSITY}揭榜成功")
    expect(official.locator("#task-state")).to_have_text("已公示")
    winner_row = official.locator("#publicity tbody tr", has_text=UNIVERSITY)
    expect(winner_row).to_contain_text("91.00")
    expect(winner_row).to_contain_text("揭榜成功")

    # 6. the winner opens its deal with the company: 接洽, waiting for a broker
    solver.goto(task_url)
    solver.locator("#campaign-deal").click()
    expect(solver.locator("#deal-stage")).to_have_text("接洽")
    expect(solver.locator("#deal-broker")).to_have_text("待认领")
    deal_url = solver.url

    # 7. the county's broker claims it, moves it to 洽谈 and signs it, recording the technology contract
    broker = new_page()
    sign_in(broker, base, "jingjiren")
    expect(broker.locator("#unread-count")).to_have_text("1")  # 新的对接待认领
    nav(broker, "对接")
    claim = broker.locator("#unassigned > div", has_text=f"{ENTERPRISE} ⇄ {UNIVERSITY}")
    expect(claim).to_have_count(1)
    claim.locator(".claim-deal").click()
    expect(broker.locator(".alert-success")).to_contain_text("已认领该对接")
    broker.locator('.move-deal[data-to="negotiating"]').click()
    expect(broker.locator("#deal-stage")).to_have_text("洽谈")
    broker.locator("#sign-deal").click()
    expect(broker.locator("h1")).to_have_text("签约并登记技术合同")
    expect(broker.locator(".alert-info")).to_contain_text(f"买方：{ENTERPRISE} · 卖方：{UNIVERSITY}")
    broker.get_by_label("登记编号").fill(REG_NO)
    broker.get_by_label("合同类型").select_option(label="技术开发")
    broker.get_by_label("合同子类").select_option(label="技术开发 - 委托开发")
    broker.get_by_label("合同成交额（元）").fill("700000.00")
    broker.get_by_label("技术交易额（元）").fill("650000.00")
    broker.get_by_label("签订日期").fill(date.today().isoformat())
    broker.locator("#save-contract").click()
    expect(broker.locator(".alert-success")).to_contain_text(f"已签约，技术合同 {REG_NO} 已登记")
    expect(broker.locator("#registration-no")).to_have_text(REG_NO)
    solver.goto(deal_url)
    expect(solver.locator("#deal-stage")).to_have_text("签约")
    expect(solver.locator("#deal-contracts")).to_contain_text(REG_NO)

    # 8. the official splits the award into a milestone on the project page
    official.goto(task_url)
    official.locator("#campaign-project").click()
    expect(official.locator("#paid")).to_have_text("0.00元")
    form = official.locator("#milestone-form")
    form.get_by_label("里程碑").fill("中试样品及检测报告")
    form.get_by_label("计划完成日期").fill((date.today() + timedelta(days=180)).isoformat())
    form.get_by_label("验收后拨付的奖补资金（元）").fill("300000.00")
    form.get_by_role("button", name="添加").click()
    expect(official.locator(".alert-success")).to_contain_text("已添加里程碑")
    milestone = official.locator("#milestones .milestone", has_text="中试样品及检测报告")
    expect(milestone).to_contain_text("300,000.00")
    form = official.locator("#milestone-form")
    form.get_by_label("里程碑").fill("产线验证报告")
    form.get_by_label("计划完成日期").fill((date.today() + timedelta(days=360)).isoformat())
    form.get_by_label("验收后拨付的奖补资金（元）").fill("200000.00")
    form.get_by_role("button", name="添加").click()
    expect(official.locator("#milestones .milestone")).to_have_count(2)
    project_url = official.url

    # 9. the winner delivers it
    solver.goto(project_url)
    # each row draws the same form: its labels must still name their own row's input (ids unique on the page)
    duplicated = solver.evaluate("() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
                                 " return ids.filter((id, i) => ids.indexOf(id) !== i); }")
    assert duplicated == [], duplicated
    row = solver.locator("#milestones .milestone", has_text="中试样品及检测报告")
    row.get_by_label("交付说明").fill("中试样品100片及第三方检测报告已交付企业")
    row.get_by_role("button", name="提交成果").click()
    expect(solver.locator(".alert-success")).to_contain_text("已提交里程碑成果，等待出题企业验收")
    expect(row.locator(".milestone-state")).to_have_text("待验收")

    # 10. the company accepts it: the milestone's share of the award is paid
    company = new_page()
    sign_in(company, base, "qiye")
    company.goto(task_url)
    company.locator("#campaign-project").click()
    row = company.locator("#milestones .milestone", has_text="中试样品及检测报告")
    expect(row).to_contain_text("中试样品100片及第三方检测报告已交付企业")
    row.get_by_label("验收结论").select_option(label="通过验收")
    row.get_by_role("button", name="提交验收结论").click()
    expect(company.locator(".alert-success")).to_contain_text("已通过验收，奖补资金记为已拨付")
    expect(company.locator("#paid")).to_have_text("300,000.00元")
    expect(row.locator(".milestone-state")).to_contain_text("已验收")
    expect(row.locator(".milestone-state")).to_contain_text("已拨付")
    official.reload()
    expect(official.locator("#paid")).to_have_text("300,000.00元")

    # 11. the company never acted in the deal itself, so the contract asks it to confirm its need was solved
    # (as for any contract whose listing's owner took no part); confirmed, the need is 已解决
    company.goto(task_url)
    company.get_by_role("link", name=NEED).click()
    expect(company.locator("#listing-status")).to_have_text("已发布")
    link = company.locator("#contract-links .contract-link", has_text=REG_NO)
    link.locator(".accept-link").click()
    expect(company.locator(".alert-success")).to_contain_text("已确认关联")
    expect(company.locator("#listing-status")).to_have_text("已解决")

    with live_server.app.app_context():
        task = db.session.scalar(select(CampaignTask).where(CampaignTask.title == TASK))
        winner = db.session.scalar(select(CampaignProposal).where(CampaignProposal.task_id == task.id))
        deal = db.session.get(Deal, task.deal_id)
        contract = db.session.scalar(select(Contract).where(Contract.deal_id == deal.id))
        milestone = db.session.scalar(select(CampaignMilestone).where(CampaignMilestone.task_id == task.id))
        assert winner.is_winner and winner.org.name == UNIVERSITY
        assert (deal.source, deal.stage, deal.broker.username) == ("campaign", "signed", "jingjiren")
        assert (contract.registration_no, contract.amount) == (REG_NO, Decimal("700000.00"))
        assert (contract.buyer_org.name, contract.seller_org.name) == (ENTERPRISE, UNIVERSITY)
        assert (milestone.status, milestone.amount) == ("accepted", Decimal("300000.00"))
        assert milestone.paid_at is not None
        assert (contract.demand_id, task.demand.status) == (task.demand_id, "done")
