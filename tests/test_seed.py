"""`flask seed-demo`, what `make run` does on an empty database: the demo market with its contracts and targets,
written once, consistent with the index and the dashboard, with or without the CSL papers."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import Achievement, Contract, Demand, Organization, Region, Suggestion, Target
from market.contracts.services import paid_total
from market.money import format_wan, format_yuan
from market.seed import DEMO_PASSWORD
from tests.helpers import FROZEN_TODAY, Poster, login


@pytest.fixture
def seeded(app, runner, monkeypatch, tmp_path, frozen_today):
    """The demo seeded on FROZEN_TODAY: its contracts are of the two years before it, its targets of its year."""
    monkeypatch.setenv("MARKET_CSL_PATH", str(tmp_path / "no-such-file.jsonl"))  # the product runs without it
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_demo_market_is_written_with_its_logins(seeded):
    for username in ("admin", "kjj_city", "broker01", "ent01", "inst01", "ent_new"):
        assert username in seeded
    assert db.session.scalar(select(func.count()).select_from(Demand).where(Demand.status == "published")) > 40
    assert db.session.scalar(select(func.count()).select_from(Achievement).where(Achievement.status == "published")) > 10
    assert db.session.scalar(select(func.count()).select_from(Suggestion)) > 0


def test_a_visitor_first_sees_technologies_and_needs_as_companies_write_them(app, seeded):
    """Issue 17 item 11: the demo reads like a market. The newest results (what /, /achievements show first) are
    the demo's technologies with 应用领域, 技术指标 and 知识产权; the needs include plain and colloquial ones; and
    the two needs of the issue get their right result first."""
    from market.data.demo import BUILTIN_ACHIEVEMENTS, DEMANDS

    client = app.test_client()
    listed = client.get("/achievements").get_data(as_text=True)
    for row in BUILTIN_ACHIEVEMENTS[:3]:
        assert row["title"] in listed
    home = client.get("/").get_data(as_text=True)
    assert BUILTIN_ACHIEVEMENTS[0]["title"] in home and DEMANDS[0]["title"] in home
    needs = client.get("/demands").get_data(as_text=True)
    assert "我们厂的污水处理成本太高" in needs and "车间上MES，老设备数据采不上来" in needs
    first = db.session.scalar(select(Achievement).order_by(Achievement.published_at.desc()).limit(1))
    assert first.title == BUILTIN_ACHIEVEMENTS[0]["title"]
    page = client.get(f"/achievements/{first.id}").get_data(as_text=True)
    assert "应用领域：" in page and "技术指标：" in page and "ZL" in page and "万元" in page

    def best(need_title):
        need = db.session.scalar(select(Demand).where(Demand.title == need_title))
        return db.session.scalars(select(Suggestion).where(Suggestion.demand_id == need.id)
                                  .order_by(Suggestion.score.desc())).first().achievement.title

    assert best("大尺寸ITO导电膜玻璃方阻均匀性提升") == "大面积磁控溅射ITO导电膜方阻均匀性控制技术"
    assert best("车载盖板玻璃AR+AF镀膜") == "耐候型多孔二氧化硅减反射镀膜液"
    assert best("我们厂的污水处理成本太高") == "高浓度发酵废水厌氧-好氧组合工艺低温强化与节能降耗技术"


def test_demo_contracts_and_targets_give_the_officials_figures(app, seeded):
    contracts = db.session.scalars(select(Contract)).all()
    assert len(contracts) == 183  # 170 imported, 12 with partners outside the province, one from a broker's deal
    assert all(c.tech_amount <= c.amount and c.signed_on <= FROZEN_TODAY and not c.voided for c in contracts)
    # every buyer is a demo company, every seller a university or institute: 产学研 contracts
    orgs = {o.id: o for o in db.session.scalars(select(Organization))}
    assert {orgs[c.buyer_org_id].org_type for c in contracts} == {"enterprise"}
    assert {orgs[c.seller_org_id].org_type for c in contracts} <= {"university", "institute"}
    # some companies have none, so the coverage page has a list to show
    enterprises = {o.id for o in orgs.values() if o.org_type == "enterprise" and o.status == "verified"}
    assert 0 < len(enterprises - {c.buyer_org_id for c in contracts}) < len(enterprises)
    city = db.session.scalar(select(Region).where(Region.level == "city"))
    year = FROZEN_TODAY.year
    assert db.session.scalar(select(Target.value_amount).where(
        Target.region_id == city.id, Target.year == year, Target.metric == "amount")) == Decimal("150000000.00")
    assert db.session.scalar(select(func.count()).select_from(Target).where(Target.year == year)) > 9

    # the city official's dashboard shows this year's total to the fen
    this_year = sum((c.amount for c in contracts if c.signed_on.year == year), Decimal("0"))
    assert this_year > 0
    client = app.test_client()
    login(client, "kjj_city", DEMO_PASSWORD)
    page = client.get(f"/dashboard/?year={year}").get_data(as_text=True)
    assert f'title="{format_yuan(this_year)}">{format_wan(this_year)}' in page  # 万元, the exact yuan in its tooltip


def test_demo_partners_are_placed_where_they_are_so_inflow_and_outflow_differ(app, seeded):
    """Issue 16: Hefei universities sit in Hefei, partners in Shanghai, Beijing and Germany; the city's 吸纳 comes
    partly from outside, its 输出 goes partly to Shanghai, and matching no longer says 同在蚌埠市 of Hefei."""
    from market.dashboard import stats
    from market.models import Suggestion

    ustc = db.session.scalar(select(Organization).where(Organization.name == "中国科学技术大学"))
    assert ustc.region_id is None and ustc.division_code == "340111" and ustc.place_label == "安徽省合肥市包河区"
    foreign = db.session.scalar(select(Organization).where(Organization.country == "DE"))
    assert foreign is not None and foreign.place_label.startswith("境外：")
    city = db.session.scalar(select(Region).where(Region.level == "city"))
    flows = stats.flows(scope=city, period=stats.Period.between(FROZEN_TODAY.replace(year=FROZEN_TODAY.year - 2),
                                                                FROZEN_TODAY))
    assert flows.inflow["province"].n > 0 and flows.inflow["domestic"].n > 0 and flows.inflow["abroad"].n > 0
    assert flows.outflow["domestic"].n > 0 and not flows.identical
    assert flows.foreign.n == flows.inflow["abroad"].n > 0
    hefei = {o.id for o in db.session.scalars(select(Organization).where(Organization.division_code.like("3401%")))}
    reasons = [s.reasons for s in db.session.scalars(select(Suggestion)) if s.achievement.org_id in hefei]
    assert reasons and not any("同在蚌埠市" in str(r) for r in reasons)


def test_the_index_matches_and_a_second_run_writes_nothing(runner, seeded):
    check = runner.invoke(args=["search", "check"])
    assert check.exit_code == 0 and "index matches the database" in check.output, check.output
    before = db.session.scalar(select(func.count()).select_from(Contract))
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "跳过" in again.output
    assert db.session.scalar(select(func.count()).select_from(Contract)) == before


def test_each_demo_broker_has_a_pipeline_and_a_company_waits_for_an_answer(app, seeded):
    from market.models import Deal, Interest, Notification, User

    brokers = db.session.scalars(select(User).where(User.role == "broker").order_by(User.username)).all()
    assert len(brokers) == 3
    plan = ["recommended", "contacted", "negotiating", "contacted", "signed"]
    for broker in brokers:
        stages = [d.stage for d in db.session.scalars(select(Deal).where(Deal.broker_id == broker.id).order_by(Deal.id))]
        # as many of the county's best suggestions as it has, up to five (fewer without the CSL papers)
        assert 1 <= len(stages) <= 5 and stages == plan[:len(stages)], (broker.username, stages)
    assert len(db.session.scalars(select(Deal).where(Deal.broker_id == brokers[0].id)).all()) == 5
    # the signed deal: its contract with a first instalment, the need 已解决 and the result 已转化
    [signed] = db.session.scalars(select(Deal).where(Deal.stage == "signed")).all()
    contract = db.session.scalar(select(Contract).where(Contract.deal_id == signed.id))
    assert contract.source == "deal" and contract.achievement_id == signed.achievement_id
    assert Decimal("0") < paid_total(contract) < contract.amount
    assert (db.session.get(Demand, signed.demand_id).status, db.session.get(Achievement, signed.achievement_id).status) \
        == ("done", "done")
    overdue = db.session.scalars(select(Deal).where(Deal.next_action_on < FROZEN_TODAY)).all()
    assert overdue and all(d.stage == "contacted" for d in overdue)
    [interest] = db.session.scalars(select(Interest).where(Interest.happening_id.is_(None))).all()
    assert interest.status == "pending"
    assert db.session.scalar(select(func.count()).select_from(Notification).join(
        User, User.id == Notification.user_id).where(User.org_id == interest.to_org_id)) >= 1
    # the broker's board shows them
    client = app.test_client()
    login(client, "broker01", DEMO_PASSWORD)
    board = client.get("/deals/").get_data(as_text=True)
    assert "下一步已逾期" in board


def test_the_demo_with_the_csl_papers(app, runner):
    from market.seed import csl_path

    if not csl_path().exists():
        pytest.skip(f"{csl_path()} is not here")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Achievement).where(Achievement.status == "published")) > 200
    # the papers are volume: every one was published before the demo's technologies, so lists show them after
    newest = db.session.scalars(select(Achievement.external_id).order_by(Achievement.published_at.desc())).all()
    own = [i for i, external_id in enumerate(newest) if external_id.startswith("builtin-")]
    assert own == list(range(len(own))) and len(own) >= 35
    assert db.session.scalar(select(func.count()).select_from(Contract)) == 183
    check = runner.invoke(args=["search", "check"])
    assert check.exit_code == 0 and "index matches the database" in check.output, check.output


def test_the_demo_has_a_past_roadshow_with_its_outcome_and_an_upcoming_matchmaking(app, seeded):
    from market.happenings.queries import outcome
    from market.models import Happening
    from market.models.base import utcnow

    past, upcoming = db.session.scalars(select(Happening).order_by(Happening.starts_at)).all()
    assert past.kind == "roadshow" and past.ends_at < utcnow() and upcoming.kind == "matchmaking"
    o = outcome(past.id)
    assert (o.confirmed, o.attended, o.interests, o.deals) == (5, 4, 2, 1)
    assert upcoming.signup_deadline > utcnow() and upcoming.confirmed_count == 2 and len(upcoming.presented) == 4
    client = app.test_client()
    login(client, past.organiser.username, DEMO_PASSWORD)
    page = client.get(f"/events/{past.id}/outcome").get_data(as_text=True)
    assert 'id="fig-interests">2<' in page and 'id="fig-deals">1<' in page
    company = app.test_client()
    login(company, "ent04", DEMO_PASSWORD)
    assert Poster(company).post(f"/events/{upcoming.id}/signup").status_code == 302  # open for sign-up


def test_the_demo_has_an_open_campaign_with_its_panel_of_demo_experts(app, seeded):
    """Issue 19: the city's 揭榜挂帅 campaign, open, with two 榜 on published demo needs, the demo experts (with
    accounts) as their panel and one 揭榜方案 in; a visitor sees it, an expert opens the review, an institution may
    揭榜."""
    from market.campaigns.services import may_solve
    from market.models import Campaign, CampaignProposal, User
    from market.models.base import utcnow
    from market.seed import DEMO_CAMPAIGN_TASKS

    [campaign] = db.session.scalars(select(Campaign)).all()
    assert campaign.organiser.username == "kjj_city" and len(campaign.tasks) == 2
    for task, row in zip(campaign.tasks, DEMO_CAMPAIGN_TASKS):
        assert task.state(utcnow()) == "open" and task.demand.title == row[0] and task.demand.status == "published"
        assert sorted(e.user.username for e in task.panel) == ["expert01", "expert02", "expert03"]
        assert [(c.name, c.max_points) for c in task.criteria][0] == ("技术先进性", 40)
        assert sum(c.max_points for c in task.criteria) == 100
    proposals = db.session.scalars(select(CampaignProposal)).all()
    assert [(p.task_id, p.org.name) for p in proposals] == [(campaign.tasks[0].id, "中国科学技术大学")]
    assert "expert01" in seeded and "评审专家" in seeded
    page = app.test_client().get("/campaigns").get_data(as_text=True)
    assert campaign.title in page and DEMO_CAMPAIGN_TASKS[0][1] in page and "揭榜中" in page and "800,000.00" in page
    expert = app.test_client()
    login(expert, "expert01", DEMO_PASSWORD)
    review = expert.get(f"/campaigns/tasks/{campaign.tasks[0].id}/review")
    assert review.status_code == 200 and "揭榜截止" in review.get_data(as_text=True)
    inst01 = db.session.scalar(select(User).where(User.username == "inst01"))
    assert may_solve(inst01, campaign.tasks[0]) is None
    solver = app.test_client()
    login(solver, "inst01", DEMO_PASSWORD)
    assert 'id="propose"' in solver.get(f"/campaigns/tasks/{campaign.tasks[1].id}").get_data(as_text=True)
