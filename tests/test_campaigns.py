"""揭榜挂帅 campaigns (market/campaigns): an official of the region publishes a campaign and its 榜; solvers submit
and revise a 揭榜方案 until the deadline (server clock), never seeing each other's; the panel scores per criterion
and expert (an expert of the solver's organisation is refused); nobody else sees a score before the
announcement; the announcement ranks by the panel's average and publishes the 公示 list."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from market.campaigns import services
from market.errors import DomainError
from market.extensions import db
from market.models import Campaign, CampaignProposal, CampaignScore, CampaignTask, Expert
from market.models.base import utcnow
from tests import factories
from tests.helpers import Poster, client_for, diff, form_token, post_together, snapshot

CHINA = timedelta(hours=8)


def _local(dt) -> str:
    return (dt + CHINA).strftime("%Y-%m-%dT%H:%M")


def make_task(world, demand, experts, *, official=None, days: int = 10) -> CampaignTask:
    official = official or world.users.official
    c = services.campaign_create(user=official, title="怀远县新材料揭榜挂帅榜单", description="", token=form_token())
    t = services.task_create(
        user=official, campaign=c, demand_id=demand.id, title="光伏玻璃减反射镀膜攻关", goal="耐候性提升",
        indicators="透过率提升2%", award=Decimal("500000.00"), co_funding=Decimal("200000.00"),
        deadline=(utcnow() + timedelta(days=days)).replace(tzinfo=None) + CHINA, eligible_region_id=None,
        eligible_types=["enterprise", "university", "institute"], rubric_text="技术先进性 60\n团队能力 40",
        expert_ids=[e.id for e in experts])
    db.session.commit()
    return t


def _expert(world, user, org):
    e = Expert(name=user.name, user_id=user.id, org_id=org.id, region_id=world.regions["county_a"].id, available=True)
    e.fields = [world.fields["materials"]]
    db.session.add(e)
    db.session.commit()
    return e


def campaign_objects(world, o) -> None:
    """For the inventory tests: county A's official's campaign with one open 榜 on o.demand, the university user
    (o.expert, from agency_objects) on its panel, and a proposal of the second enterprise with one attachment;
    and a second 榜 past its deadline (in review) with the second enterprise's proposal, whose score page the
    panel opens (proposals are sealed until the deadline). Sets o.campaign, o.campaign_task, o.campaign_proposal,
    o.campaign_file, o.scored_proposal."""
    import io

    from werkzeug.datastructures import FileStorage

    from tests.test_contracts import PDF

    t = make_task(world, o.demand, [o.expert])
    o.campaign, o.campaign_task = t.campaign, t
    o.campaign_proposal = services.proposal_save(user=world.users.enterprise_b, task=t, summary="乙企业的揭榜方案概要",
                                                 plan="技术路线：磁控溅射；进度：一年；团队：五人。" * 2,
                                                 files=[FileStorage(io.BytesIO(PDF), filename="揭榜方案书.pdf")])
    db.session.commit()
    o.campaign_file = o.campaign_proposal.files[0]
    reviewing = make_task(world, o.demand, [o.expert])
    o.scored_proposal = services.proposal_save(user=world.users.enterprise_b, task=reviewing, summary="乙企业的评审中方案",
                                               plan="技术路线：溶胶凝胶；进度：一年；团队：四人。" * 2)
    reviewing.deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()


def valid_task_form(world, o) -> dict:
    return {"demand_id": str(o.demand.id), "title": "新材料镀膜攻关榜", "goal": "耐候性提升到十年", "indicators": "透过率提升2%",
            "award": "300000.00", "co_funding": "100000", "deadline": _local(utcnow() + timedelta(days=30)),
            "eligible_region_id": "0", "eligible_types": ["university", "institute"], "rubric": "技术先进性 60\n团队能力 40",
            "expert_ids": [str(o.expert.id)]}


@pytest.fixture
def setup(app, world):
    """The lifecycle's cast: county A's enterprise's need; panel = the university user (conflicted with the
    university's proposal) and a research institute's expert; a non-panel expert; solvers = the university and
    the second enterprise."""
    u = world.users
    s = type("S", (), {})()
    s.demand = factories.demand(owner=u.enterprise, field=world.fields["materials"], status="published",
                                title="光伏玻璃减反射镀膜技术需求")
    inst = factories.org(region=world.regions["city"], org_type="institute", name="蚌埠材料研究院")
    s.panel_user = factories.user(role="institution", org=inst, username="panel_expert")
    other = factories.org(region=world.regions["city"], org_type="institute", name="蚌埠其他研究所")
    s.outsider = factories.user(role="institution", org=other, username="other_expert")
    db.session.commit()
    s.e_uni = _expert(world, u.institution, world.orgs.uni)
    s.e_panel = _expert(world, s.panel_user, inst)
    s.e_out = _expert(world, s.outsider, other)
    s.task = make_task(world, s.demand, [s.e_uni, s.e_panel])
    return s


def _past_deadline(task):
    task.deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()


def _plan(n: str) -> dict:
    return {"summary": f"{n}的揭榜方案", "plan": f"{n}：技术路线为磁控溅射加纳米涂层，进度一年，团队五人。"}


# --- creation ----------------------------------------------------------------------------------------------

def test_official_creates_a_campaign_and_a_task_from_the_forms(app, world):
    from tests.helpers import objects
    from tests.test_agencies import agency_objects

    o = objects(world)
    agency_objects(world, o)
    official = Poster(client_for(app, world.users.official))
    assert official.get("/campaigns/new").status_code == 200
    resp = official.post("/campaigns/new", {"title": "怀远县新材料揭榜挂帅", "description": "企业出题", "form_token": form_token()})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    c = db.session.scalar(select(Campaign))
    assert c.region_id == world.users.official.region_id
    page = official.get(f"/campaigns/{c.id}/tasks/new")
    assert page.status_code == 200 and o.demand.title in page.get_data(as_text=True)
    bad = official.post(f"/campaigns/{c.id}/tasks/new", {**valid_task_form(world, o), "award": "12.5万元"})
    assert bad.status_code == 400 and "单位已是元" in bad.get_data(as_text=True)
    past = official.post(f"/campaigns/{c.id}/tasks/new", {**valid_task_form(world, o),
                                                         "deadline": _local(utcnow() - timedelta(hours=1))})
    assert past.status_code == 400 and "揭榜截止时间应晚于现在" in past.get_data(as_text=True)
    blank = official.post(f"/campaigns/{c.id}/tasks/new", {**valid_task_form(world, o), "award": "\x13"})
    assert blank.status_code == 400 and "请填写奖补资金" in blank.get_data(as_text=True)  # was a 500
    assert db.session.scalar(select(CampaignTask)) is None
    resp = official.post(f"/campaigns/{c.id}/tasks/new", valid_task_form(world, o))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    t = db.session.scalar(select(CampaignTask))
    assert t.award == Decimal("300000.00") and t.co_funding == Decimal("100000.00")
    assert [(cr.name, cr.max_points) for cr in t.criteria] == [("技术先进性", 60), ("团队能力", 40)]
    assert [e.id for e in t.panel] == [o.expert.id]
    for url in ("/campaigns", f"/campaigns/{c.id}", f"/campaigns/tasks/{t.id}"):
        body = app.test_client().get(url).get_data(as_text=True)
        assert "新材料镀膜攻关榜" in body and "揭榜中" in body and "300,000.00" in body, url


def test_only_the_regions_official_creates(app, world, setup):
    c = setup.task.campaign
    before = snapshot()
    for name in ("official_b", "admin", "enterprise_b", "institution", "broker"):
        p = Poster(client_for(app, getattr(world.users, name)))
        assert p.get(f"/campaigns/{c.id}/tasks/new").status_code == 403, name
        assert p.post(f"/campaigns/{c.id}/tasks/new", {"title": "越权发的榜"}).status_code == 403, name
    assert app.test_client().get(f"/campaigns/{c.id}/tasks/new").status_code in (302, 401)
    assert Poster(client_for(app, world.users.enterprise_b)).post(
        "/campaigns/new", {"title": "越权的榜单名称", "form_token": form_token()}).status_code == 403
    with pytest.raises(DomainError):
        services.task_create(user=world.users.official_b, campaign=c, demand_id=setup.demand.id, title="越权", goal="x",
                             indicators="x", award=Decimal(1), co_funding=Decimal(0), deadline=utcnow() + timedelta(days=1),
                             eligible_region_id=None, eligible_types=["university"], rubric_text="a 1", expert_ids=[])
    db.session.rollback()
    assert set(diff(before, snapshot())) <= {"user_sessions"}


# --- proposals ---------------------------------------------------------------------------------------------

def test_proposals_revised_until_the_deadline_and_private(app, world, setup):
    t, u = setup.task, world.users
    uni, ent_b = Poster(client_for(app, u.institution)), Poster(client_for(app, u.enterprise_b))
    assert uni.post(f"/campaigns/tasks/{t.id}/proposal", _plan("大学")).status_code == 302
    assert ent_b.post(f"/campaigns/tasks/{t.id}/proposal", _plan("乙企业")).status_code == 302
    resp = uni.post(f"/campaigns/tasks/{t.id}/proposal", {**_plan("大学"), "summary": "大学修改后的方案"})
    assert resp.status_code == 302
    mine = db.session.scalar(select(CampaignProposal).where(CampaignProposal.org_id == world.orgs.uni.id))
    assert mine.revision == 2 and mine.summary == "大学修改后的方案"
    # nobody sees another solver's proposal: its own page shows its own only, the review page is the panel's
    body = ent_b.get(f"/campaigns/tasks/{t.id}/proposal").get_data(as_text=True)
    assert "乙企业的揭榜方案" in body and "大学修改后的方案" not in body
    for name in ("enterprise_b", "broker", "official_b", "admin", "enterprise"):
        assert client_for(app, getattr(u, name)).get(f"/campaigns/tasks/{t.id}/review").status_code == 403, name
    assert "大学修改后的方案" not in app.test_client().get(f"/campaigns/tasks/{t.id}").get_data(as_text=True)
    assert client_for(app, setup.outsider).get(f"/campaigns/tasks/{t.id}/review").status_code == 403
    # sealed until the deadline: the panel learns how many came in, not what they say; the official sees them
    sealed = client_for(app, setup.panel_user).get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    assert "已收到 2 份揭榜方案" in sealed and "大学修改后的方案" not in sealed and "乙企业的揭榜方案" not in sealed
    assert world.orgs.uni.name not in sealed and world.orgs.ent_b.name not in sealed and "ranking" not in sealed
    for p in db.session.scalars(select(CampaignProposal)):  # nor through the score page of each
        early = client_for(app, setup.panel_user).get(f"/campaigns/proposals/{p.id}/score")
        assert early.status_code == 409 and p.summary not in early.get_data(as_text=True)
    assert "大学修改后的方案" in client_for(app, u.official).get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    # who may not 揭榜: the company that set the need, a broker, an unverified company
    assert Poster(client_for(app, u.enterprise)).post(f"/campaigns/tasks/{t.id}/proposal", _plan("出题企业")).status_code == 403
    assert Poster(client_for(app, u.unverified)).post(f"/campaigns/tasks/{t.id}/proposal", _plan("待认证")).status_code == 403
    assert Poster(client_for(app, u.broker)).post(f"/campaigns/tasks/{t.id}/proposal", _plan("经纪人")).status_code == 403
    # the deadline, on the server's clock: a revision after it is refused and nothing changes
    _past_deadline(t)
    before = snapshot()
    late = uni.post(f"/campaigns/tasks/{t.id}/proposal", {**_plan("大学"), "summary": "截止后偷偷修改"})
    assert late.status_code == 409 and "揭榜已截止" in late.get_data(as_text=True)
    opened = client_for(app, setup.panel_user).get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    assert "大学修改后的方案" in opened and "乙企业的揭榜方案" in opened and "已收到" not in opened
    outsider = factories.org(region=world.regions["county_b"], org_type="university", name="迟到大学")
    late_user = factories.user(role="institution", org=outsider, username="late_uni")
    db.session.commit()
    before = snapshot()
    assert Poster(client_for(app, late_user)).post(f"/campaigns/tasks/{t.id}/proposal", _plan("迟到")).status_code == 409
    db.session.expire_all()
    assert db.session.get(CampaignProposal, mine.id).summary == "大学修改后的方案"
    after = snapshot()
    after.pop("user_sessions"), before.pop("user_sessions")
    assert after == before


# --- review and announcement -------------------------------------------------------------------------------

def test_panel_scores_conflicts_privacy_and_announcement(app, world, setup):
    t, u = setup.task, world.users
    Poster(client_for(app, u.institution)).post(f"/campaigns/tasks/{t.id}/proposal", _plan("大学"))
    Poster(client_for(app, u.enterprise_b)).post(f"/campaigns/tasks/{t.id}/proposal", _plan("乙企业"))
    p_uni, p_b = db.session.scalars(select(CampaignProposal).order_by(CampaignProposal.id)).all()
    panel, uni_expert = Poster(client_for(app, setup.panel_user)), Poster(client_for(app, u.institution))
    official = Poster(client_for(app, u.official))
    # before the deadline: no scoring, no announcement
    assert panel.post(f"/campaigns/proposals/{p_b.id}/score", {"points-0": "50", "points-1": "30"}).status_code == 409
    assert official.post(f"/campaigns/tasks/{t.id}/announce").status_code == 409
    _past_deadline(t)
    # the university's own expert is recused from the whole 榜 (须回避): every proposal competes with the
    # university's, so they read and score none of them, on the pages and the posts
    for p in (p_uni, p_b):
        assert uni_expert.get(f"/campaigns/proposals/{p.id}/score").status_code == 403
        assert uni_expert.post(f"/campaigns/proposals/{p.id}/score", {"points-0": "60", "points-1": "40"}).status_code == 403
    recused = uni_expert.get(f"/campaigns/tasks/{t.id}/review")
    assert recused.status_code == 403 and "须回避本榜评审" in recused.get_data(as_text=True)
    assert "乙企业的揭榜方案" not in recused.get_data(as_text=True)
    # a non-panel expert and every other role cannot score
    for client in [client_for(app, setup.outsider)] + [client_for(app, getattr(u, n)) for n in
                                                     ("enterprise_b", "broker", "official", "official_b", "admin")]:
        p = Poster(client)
        assert p.post(f"/campaigns/proposals/{p_b.id}/score", {"points-0": "60", "points-1": "40"}).status_code == 403
    assert db.session.scalar(select(CampaignScore.id)) is None
    over = panel.post(f"/campaigns/proposals/{p_b.id}/score", {"points-0": "61", "points-1": "40"})
    assert over.status_code == 400 and "0至60" in over.get_data(as_text=True)
    assert panel.post(f"/campaigns/proposals/{p_b.id}/score", {"points-0": "50", "points-1": "30"}).status_code == 302
    # not yet complete: the panel has not scored the university's proposal (the recused expert is not waited for)
    resp = official.post(f"/campaigns/tasks/{t.id}/announce")
    assert resp.status_code == 409 and "还有1份评分未完成" in resp.get_data(as_text=True)
    assert panel.post(f"/campaigns/proposals/{p_uni.id}/score", {"points-0": "55", "points-1": "35"}).status_code == 302
    rows = db.session.scalars(select(CampaignScore).where(CampaignScore.proposal_id == p_b.id)).all()
    assert sorted((r.expert_id, r.points) for r in rows) == [(setup.e_panel.id, 30), (setup.e_panel.id, 50)]
    # only the panel sees scores before the announcement
    assert "90.00" in panel.get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    official_page = official.get(f"/campaigns/tasks/{t.id}/review").get_data(as_text=True)
    assert "90.00" not in official_page and "我的评分" not in official_page and "排名" not in official_page
    for client in (app.test_client(), client_for(app, u.enterprise_b), client_for(app, u.institution)):
        assert "90.00" not in client.get(f"/campaigns/tasks/{t.id}").get_data(as_text=True)
    assert Poster(client_for(app, u.official_b)).post(f"/campaigns/tasks/{t.id}/announce").status_code == 403
    assert Poster(client_for(app, u.admin)).post(f"/campaigns/tasks/{t.id}/announce").status_code == 403
    assert official.post(f"/campaigns/tasks/{t.id}/announce").status_code == 302
    db.session.expire_all()
    # the university: 90; the second enterprise: 80 (one expert each: the university's own is recused)
    assert db.session.get(CampaignProposal, p_uni.id).is_winner and not db.session.get(CampaignProposal, p_b.id).is_winner
    public = app.test_client().get(f"/campaigns/tasks/{t.id}").get_data(as_text=True)
    assert "已公示" in public and "揭榜成功" in public and "90.00" in public and "80.00" in public
    assert "已公示" in app.test_client().get("/campaigns").get_data(as_text=True)
    # the winner's pairing is a deal from the campaign, which the parties and the official open
    task = db.session.get(CampaignTask, t.id)
    deal = task.deal
    assert (deal.source, deal.stage, deal.demand_id, deal.buyer_org_id, deal.seller_org_id) == (
        "campaign", "contacted", setup.demand.id, world.orgs.ent_a.id, world.orgs.uni.id)
    assert client_for(app, u.official).get(f"/deals/{deal.id}").status_code == 200
    assert f"/deals/{deal.id}" in client_for(app, u.institution).get(f"/campaigns/tasks/{t.id}").get_data(as_text=True)
    assert f"/deals/{deal.id}" not in client_for(app, u.enterprise_b).get(f"/campaigns/tasks/{t.id}").get_data(as_text=True)
    # after the announcement: no more scores, no second announcement
    assert panel.post(f"/campaigns/proposals/{p_b.id}/score", {"points-0": "60", "points-1": "40"}).status_code == 409
    assert official.post(f"/campaigns/tasks/{t.id}/announce").status_code == 409


def forms_setup(world):
    """For the form inventories (tests/test_names.py, tests/test_forms_keep_input.py): a published need of county
    A's enterprise, the university user as an expert, county A's official's campaign with one open 榜 on the need
    (that expert on its panel) and a proposal of the second enterprise. Made once per world."""
    made = getattr(world, "campaign_forms", None)
    if made is None:
        from types import SimpleNamespace

        made = SimpleNamespace(demand=factories.demand(owner=world.users.enterprise, field=world.fields["materials"],
                                                       status="published", title="揭榜表单测试的需求"))
        db.session.commit()
        made.expert = (db.session.scalar(select(Expert).where(Expert.user_id == world.users.institution.id))
                       or _expert(world, world.users.institution, world.orgs.uni))
        campaign_objects(world, made)
        milestone_objects(world, made)
        world.campaign_forms = made
    return made


# --- the winner's project: milestones, acceptance, the award paid ------------------------------------------

def announced_task(world, demand, expert, solver_user, *, official=None):
    """A 榜 on `demand` already announced: one proposal of `solver_user`'s organisation, scored by `expert`'s
    account; the winner's deal opened."""
    t = make_task(world, demand, [expert], official=official)
    services.proposal_save(user=solver_user, task=t, summary="揭榜成功的方案概要", plan="技术路线：磁控溅射；进度：一年；团队：五人。" * 2)
    db.session.commit()
    _past_deadline(t)
    p = db.session.scalar(select(CampaignProposal).where(CampaignProposal.task_id == t.id))
    services.score_save(user=expert.user, proposal=p, points={c.id: c.max_points - 1 for c in t.criteria})
    services.announce(user=official or world.users.official, task=t)
    db.session.commit()
    return t


def milestone_objects(world, o) -> None:
    """For the inventory tests: a second 榜 of o.campaign on o.demand, announced, won by the second enterprise
    (scored by o.expert), with a pending and a delivered milestone. Sets o.campaign_done_task,
    o.campaign_milestone (pending) and o.campaign_delivered (waiting for the company's decision)."""
    from datetime import date

    t = announced_task(world, o.demand, o.expert, world.users.enterprise_b)
    o.campaign_done_task = t
    o.campaign_milestone = services.milestone_add(user=world.users.official, task=t, title="小试样品",
                                                  due_on=date(2027, 6, 30), amount=Decimal("100000.00"))
    o.campaign_delivered = services.milestone_add(user=world.users.official, task=t, title="中试验证",
                                                  due_on=date(2027, 12, 31), amount=Decimal("100000.00"))
    services.milestone_submit(user=world.users.enterprise_b, milestone=o.campaign_delivered, note="中试验证报告已上传，请验收")
    db.session.commit()


def test_milestones_accepted_or_rejected_and_the_award_paid(app, world, setup):
    from market.models import CampaignMilestone

    u = world.users
    t = announced_task(world, setup.demand, setup.e_panel, u.institution)
    official, winner, company = (Poster(client_for(app, x)) for x in (u.official, u.institution, u.enterprise))
    url = f"/campaigns/tasks/{t.id}/project"
    for name, user in {"company": u.enterprise, "winner": u.institution, "official": u.official}.items():
        assert client_for(app, user).get(url).status_code == 200, name
    for user in (u.enterprise_b, u.broker, u.official_b, u.admin, setup.outsider, setup.panel_user):
        assert client_for(app, user).get(url).status_code == 403, user.username
    assert app.test_client().get(url).status_code in (302, 401)
    add = f"/campaigns/tasks/{t.id}/milestones"
    assert official.post(add, {"title": "小试样品", "due_on": "2027-06-30", "amount": "300000.00"}).status_code == 302
    too_much = official.post(add, {"title": "中试验证", "due_on": "2027-12-31", "amount": "200000.01"})
    assert too_much.status_code == 400 and "不能超过奖补资金" in too_much.get_data(as_text=True)
    assert official.post(add, {"title": "中试验证", "due_on": "2027-12-31", "amount": "200000.00"}).status_code == 302
    for p in (Poster(client_for(app, u.official_b)), winner, company):
        assert p.post(add, {"title": "越权里程碑", "due_on": "2027-12-31", "amount": "1"}).status_code == 403
    m1, m2 = db.session.scalars(select(CampaignMilestone).where(CampaignMilestone.task_id == t.id)
                                .order_by(CampaignMilestone.id)).all()
    assert (m1.amount, m2.amount) == (Decimal("300000.00"), Decimal("200000.00"))
    submit, decide = f"/campaigns/milestones/{m1.id}/submit", f"/campaigns/milestones/{m1.id}/decide"
    assert company.post(submit, {"note": "出题企业冒充交付"}).status_code == 403
    assert Poster(client_for(app, u.enterprise_b)).post(submit, {"note": "他人冒充交付"}).status_code == 403
    assert company.post(decide, {"decision": "accept"}).status_code == 409  # nothing delivered yet
    # a refused delivery keeps its text and error under its own row only (both rows draw the same form)
    short = winner.post(submit, {"note": "太短了"})
    body = short.get_data(as_text=True)
    assert short.status_code == 400 and body.count("交付说明为5-5000字") == 1 and body.count("太短了") == 1
    assert winner.post(submit, {"note": "小试样品及检测报告"}).status_code == 302
    assert winner.post(decide, {"decision": "accept"}).status_code == 403  # the winner does not accept its own
    no_reason = company.post(decide, {"decision": "reject", "reason": ""})
    assert no_reason.status_code == 400 and "写明理由" in no_reason.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(CampaignMilestone, m1.id).status == "submitted"
    assert company.post(decide, {"decision": "reject", "reason": "透过率未达到指标要求"}).status_code == 302
    db.session.expire_all()
    m = db.session.get(CampaignMilestone, m1.id)
    assert (m.status, m.reason, m.paid_at) == ("rejected", "透过率未达到指标要求", None)
    assert winner.post(submit, {"note": "改进后的小试样品及检测报告"}).status_code == 302
    assert company.post(decide, {"decision": "accept"}).status_code == 302
    db.session.expire_all()
    m = db.session.get(CampaignMilestone, m1.id)
    assert m.status == "accepted" and m.paid_at is not None and m.decided_by_id == u.enterprise.id
    assert company.post(decide, {"decision": "reject", "reason": "再次验收的理由"}).status_code == 409
    page = client_for(app, u.institution).get(url).get_data(as_text=True)
    assert "已验收" in page and "300,000.00" in page and "已拨付" in page


def test_the_winners_deal_is_offered_to_the_regions_brokers_and_signed_into_a_contract(app, world, setup):
    """The deal the announcement opens is worked like any other: the brokers of either side's region are told it
    waits for one of them (it used to reach nobody but the parties), one claims it, moves it to 洽谈 and signs it
    by recording the contract."""
    from market.models import Contract, Deal, Notification
    from tests.test_contracts import terms

    u = world.users
    t = announced_task(world, setup.demand, setup.e_panel, u.institution)
    deal = db.session.get(Deal, t.deal_id)
    told = db.session.scalars(select(Notification).where(Notification.kind == "deal_unassigned")).all()
    assert [(n.user_id, n.url) for n in told] == [(u.broker.id, f"/deals/{deal.id}")]
    assert "揭榜挂帅" in told[0].text and "待认领" in told[0].text
    broker = Poster(client_for(app, u.broker))
    assert broker.post(f"/deals/{deal.id}/claim", {"form_token": form_token()}).status_code == 302
    assert broker.post(f"/deals/{deal.id}/move", {"to": "negotiating", "version": "2"}).status_code == 302
    resp = broker.post(f"/contracts/from-deal/{deal.id}", terms(world, version="3", form_token=form_token()))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.expire_all()
    deal = db.session.get(Deal, t.deal_id)
    contract = db.session.scalar(select(Contract).where(Contract.deal_id == deal.id))
    assert (deal.stage, deal.source, deal.broker_id) == ("signed", "campaign", u.broker.id)
    assert (contract.buyer_org_id, contract.seller_org_id, contract.broker_id) == (
        world.orgs.ent_a.id, world.orgs.uni.id, u.broker.id)


def test_two_first_submissions_of_one_organisation_keep_one_proposal(app, world, setup):
    """A double click, or two members at once: the 榜's row lock serialises them (market/campaigns/services.py
    proposal_save); the second is the first's revision, never a 500 (PostgreSQL's unique violation before)."""
    task_id = setup.task.id  # read here: the threads never touch the test's own session
    posters = [Poster(client_for(app, world.users.institution)) for _ in range(2)]
    for n in range(4):
        db.session.execute(delete(CampaignProposal).where(CampaignProposal.task_id == task_id))
        statuses = post_together(app, posters, f"/campaigns/tasks/{task_id}/proposal", _plan(f"第{n}轮"))
        assert sorted(statuses) == [302, 302], (n, statuses)
        kept = db.session.scalars(select(CampaignProposal).where(CampaignProposal.task_id == task_id)).all()
        assert [p.revision for p in kept] == [2], (n, [p.revision for p in kept])
