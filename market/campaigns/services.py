"""Writes for 揭榜挂帅 campaigns: an official's campaign and its 榜 (need, goal, award, deadline, eligibility,
rubric, panel), a solver's 揭榜方案 (one per organisation and 榜, revised until the deadline), the panel's scores
(per expert and criterion; an expert of the solver's organisation is refused) and the announcement."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from ..agencies.queries import expert_conflicts
from ..contracts.scans import drop_after_commit, store_scan
from ..deals.services import _brokers_for as brokers_for
from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..formtokens import claim_form_token
from ..happenings.forms import MAX_YEAR, MIN_YEAR, YEAR_MESSAGE
from ..happenings.services import local_to_utc
from ..models import (
    Campaign, CampaignCriterion, CampaignMilestone, CampaignProposal, CampaignProposalFile, CampaignScore, CampaignTask, Deal,
    DealEvent, Demand, Expert, User,
)
from ..models.base import utcnow
from ..models.campaign import SOLVER_TYPES
from ..models.region import Region
from ..notifications.services import notify, path_for
from ..permissions import in_scope, is_verified_actor
from . import files as attachments

SOLVER_ROLES = ("enterprise", "institution")
MAX_CRITERIA = 10
MAX_PANEL = 15


def can_manage(user, campaign: Campaign) -> bool:
    """Verified officials whose region contains the campaign's (they alone create and run one)."""
    return (getattr(user, "is_authenticated", False) and user.role == "official" and is_verified_actor(user)
            and in_scope(user, campaign.region))


def _field_error(name: str, message: str, status: int = 400) -> DomainError:
    return DomainError(message, fields={name: message}, status_code=status)


def campaign_create(*, user: User, title: str, description: str, token: str | None) -> Campaign:
    if user.role != "official" or not is_verified_actor(user) or not user.region_id:
        raise NotAllowed("只有所在区域的科技局工作人员可以发布揭榜挂帅榜单")
    submission = claim_form_token(token=token, kind="campaign", user=user, link=lambda _id: f"/campaigns/{_id}")
    campaign = Campaign(title=title.strip(), description=(description or "").strip(), region_id=user.region_id,
                        organiser_id=user.id)
    db.session.add(campaign)
    db.session.flush()
    submission.object_id = campaign.id
    return campaign


_CRITERION = re.compile(r"^(.{1,50}?)\s+(\d{1,3})\s*分?$")


def parse_rubric(text: str) -> list[tuple[str, int]]:
    """One criterion a line: "技术先进性 30" (points 1-100)."""
    out = []
    for n, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        m = _CRITERION.match(line)
        if m is None or not 1 <= int(m.group(2)) <= 100:
            raise _field_error("rubric", f"第{n}行格式不对：请写成“评分项 满分”，满分为1-100的整数，如“技术先进性 30”")
        out.append((m.group(1).strip(), int(m.group(2))))
    if not out:
        raise _field_error("rubric", "请至少填写一个评分项")
    if len(out) > MAX_CRITERIA:
        raise _field_error("rubric", f"评分项不能超过{MAX_CRITERIA}个")
    if len({name for name, _ in out}) != len(out):
        raise _field_error("rubric", "评分项名称不能重复")
    return out


def task_create(*, user: User, campaign: Campaign, demand_id: int, title: str, goal: str, indicators: str,
                award: Decimal, co_funding: Decimal, deadline: datetime, eligible_region_id: int | None,
                eligible_types: list[str], rubric_text: str, expert_ids: list[int]) -> CampaignTask:
    """A 榜 of the campaign: a published need of an enterprise in the campaign's region, a deadline in the
    future (wall-clock Asia/Shanghai, or aware), a rubric and a panel of available experts with accounts."""
    if not can_manage(user, campaign):
        raise NotAllowed("只有榜单所在区域的科技局工作人员可以发榜")
    demand = db.session.get(Demand, demand_id) if demand_id else None
    if demand is None or demand.status != "published" or not campaign.region.contains(demand.region):
        raise _field_error("demand_id", "所选需求不存在、未公开发布或不在榜单所在区域")
    if not MIN_YEAR <= deadline.year <= MAX_YEAR:
        raise _field_error("deadline", YEAR_MESSAGE)
    deadline = local_to_utc(deadline)
    if deadline <= utcnow():
        raise _field_error("deadline", "揭榜截止时间应晚于现在")
    if award <= 0:
        raise _field_error("award", "奖补金额应大于0")
    if co_funding < 0:
        raise _field_error("co_funding", "配套资金不能为负数")
    types = list(dict.fromkeys(eligible_types or []))
    if not types or any(t not in SOLVER_TYPES for t in types):
        raise _field_error("eligible_types", "请选择可以揭榜的单位类型")
    if eligible_region_id:
        region = db.session.get(Region, eligible_region_id)
        if region is None:
            raise _field_error("eligible_region_id", "所选区域不存在")
    criteria = parse_rubric(rubric_text)
    ids = list(dict.fromkeys(expert_ids or []))
    if not ids:
        raise _field_error("expert_ids", "请至少选择一位评审专家")
    if len(ids) > MAX_PANEL:
        raise _field_error("expert_ids", f"评审专家不能超过{MAX_PANEL}位")
    experts = list(db.session.scalars(select(Expert).where(Expert.id.in_(ids))))
    if len(experts) != len(ids) or any(not e.available or e.user_id is None for e in experts):
        raise _field_error("expert_ids", "所选专家不存在、暂不可用或没有登录账号")
    if any(expert_conflicts(e, [demand.org_id]) for e in experts):
        raise _field_error("expert_ids", "评审专家不能来自出题企业（利益回避）")
    task = CampaignTask(campaign_id=campaign.id, demand_id=demand.id, title=title.strip(), goal=goal.strip(),
                        indicators=indicators.strip(), award=award, co_funding=co_funding, deadline=deadline,
                        eligible_region_id=eligible_region_id or None, eligible_types=",".join(types))
    db.session.add(task)
    db.session.flush()
    for name, points in criteria:
        db.session.add(CampaignCriterion(task_id=task.id, name=name, max_points=points))
    task.panel = experts
    db.session.flush()
    return task


# --- proposals ---------------------------------------------------------------------------------------------

def may_solve(user, task: CampaignTask) -> str | None:
    """Why `user` may not 揭榜 this 榜 (None: they may)."""
    if not getattr(user, "is_authenticated", False) or user.role not in SOLVER_ROLES:
        return "只有企业、高校和科研院所可以揭榜"
    if not is_verified_actor(user):
        return "单位通过审核后才能揭榜"
    org = user.org
    if org.org_type not in task.type_keys:
        return f"本榜只接受{task.types_label}揭榜"
    if org.id == task.demand.org_id:
        return "出题企业不能揭自己的榜"
    if task.eligible_region is not None and not task.eligible_region.contains(org.region):
        return f"本榜只接受{task.eligible_region.name}的单位揭榜"
    return None


def proposal_save(*, user: User, task: CampaignTask, summary: str, plan: str, files=(),
                  remove_file_ids: list[int] | tuple = ()) -> CampaignProposal:
    """Submit the organisation's 揭榜方案, or revise it: only before the deadline, checked here on the server's
    clock (the page may have been open since before it). A revision may add attachments (`files`, uploaded
    file objects) and remove its own (`remove_file_ids`); at most MAX_FILES are kept. Every file is checked
    before anything is written; a removed file leaves the disk only when the transaction commits."""
    reason = may_solve(user, task)
    if reason:
        raise NotAllowed(reason)
    now = utcnow()
    if task.state(now) != "open":
        raise DomainError("揭榜已截止（北京时间 %s），不能再提交或修改方案" % _local(task.deadline), status_code=409)
    uploads = attachments.chosen(files)
    if len(uploads) > attachments.MAX_FILES:
        raise _field_error(attachments.FIELD, f"每份揭榜方案最多{attachments.MAX_FILES}个附件")
    checked = attachments.read_uploads(uploads)
    # the 榜's row lock serialises an organisation's two first submissions (a double click, two members at once):
    # locking the proposal row alone locks nothing before it exists, and the second insert was a 500 on PostgreSQL
    db.session.execute(select(CampaignTask.id).where(CampaignTask.id == task.id).with_for_update())
    proposal = db.session.scalar(select(CampaignProposal).where(
        CampaignProposal.task_id == task.id, CampaignProposal.org_id == user.org_id).with_for_update()
        .execution_options(populate_existing=True))
    kept = list(proposal.files) if proposal is not None else []
    remove = set(remove_file_ids or ())
    if not remove <= {f.id for f in kept}:
        raise _field_error(attachments.FIELD, "要删除的附件不存在或已删除，请刷新页面后重试")
    if len(kept) - len(remove) + len(checked) > attachments.MAX_FILES:
        raise _field_error(attachments.FIELD, f"每份揭榜方案最多{attachments.MAX_FILES}个附件"
                                              f"（已有{len(kept) - len(remove)}个，请先删除不需要的附件）")
    if proposal is None:
        proposal = CampaignProposal(task_id=task.id, org_id=user.org_id, submitted_by_id=user.id,
                                    summary=summary.strip(), plan=plan.strip(), revision=1, created_at=now,
                                    updated_at=now)
        db.session.add(proposal)
    else:
        proposal.summary, proposal.plan = summary.strip(), plan.strip()
        proposal.submitted_by_id, proposal.revision, proposal.updated_at = user.id, proposal.revision + 1, now
    db.session.flush()
    for f in kept:
        if f.id in remove:
            drop_after_commit(f.path)
            db.session.delete(f)
    for data, name in checked:
        db.session.add(CampaignProposalFile(proposal_id=proposal.id, path=store_scan(data, attachments.SUBDIR),
                                            name=name, size=len(data), uploaded_by_id=user.id, created_at=now))
    db.session.flush()
    if remove or checked:
        db.session.expire(proposal, ["files"])
    return proposal


def may_read_files(user, proposal: CampaignProposal) -> bool:
    """Who reads a proposal's attachments: verified members of the solver's organisation; the officials who run
    the campaign; the 榜's panel once the deadline has passed (when scoring starts). After the announcement the
    company that set the need also reads the winner's (the project is run against that proposal), never a
    loser's. Nobody else: not another solver, not the company before the announcement."""
    if not getattr(user, "is_authenticated", False):
        return False
    task = proposal.task
    if user.org_id == proposal.org_id and user.role in SOLVER_ROLES and is_verified_actor(user):
        return True
    if can_manage(user, task.campaign):
        return True
    if reviewing_expert(user, task) is not None and task.state(utcnow()) != "open":
        return True
    return proposal.is_winner and task.announced_at is not None and project_role(user, task) == "company"


def _local(value: datetime) -> str:
    from ..templating import local_dt

    return local_dt(value)


# --- review ------------------------------------------------------------------------------------------------

def panel_expert(user, task: CampaignTask) -> Expert | None:
    """The user's 专家库 entry when it sits on this 榜's panel."""
    if not getattr(user, "is_authenticated", False):
        return None
    return next((e for e in task.panel if e.user_id == user.id), None)


RECUSED = "您所在单位参与了本榜揭榜，须回避本榜评审（不能查看或评分本榜的揭榜方案）"


def reviewing_expert(user, task: CampaignTask) -> Expert | None:
    """The user's panel entry when they review this 榜: on its panel and not recused (queries.recused_ids)."""
    from .queries import recused_ids

    expert = panel_expert(user, task)
    return None if expert is None or expert.id in recused_ids(task) else expert


def score_save(*, user: User, proposal: CampaignProposal, points: dict[int, int]) -> list[CampaignScore]:
    """The expert's points for every criterion of the rubric, after the deadline and before the announcement;
    re-scoring replaces the expert's own. An expert from the solver's organisation is refused."""
    task = proposal.task
    expert = panel_expert(user, task)
    if expert is None:
        raise NotAllowed("只有本榜的评审专家可以评分")
    if expert_conflicts(expert, [proposal.org_id]) or expert is not reviewing_expert(user, task):
        raise NotAllowed(RECUSED)
    state = task.state(utcnow())
    if state != "reviewing":
        raise DomainError("揭榜截止后、公示之前才能评分" if state == "open" else "结果已公示，不能再评分",
                          status_code=409)
    problems = {}
    for c in task.criteria:
        value = points.get(c.id)
        if value is None or not 0 <= value <= c.max_points:
            problems[f"c{c.id}"] = f"“{c.name}”应为0至{c.max_points}的整数"
    if problems:
        raise DomainError(next(iter(problems.values())), fields=problems)
    existing = {s.criterion_id: s for s in db.session.scalars(select(CampaignScore).where(
        CampaignScore.proposal_id == proposal.id, CampaignScore.expert_id == expert.id))}
    now, out = utcnow(), []
    for c in task.criteria:
        row = existing.get(c.id)
        if row is None:
            row = CampaignScore(proposal_id=proposal.id, expert_id=expert.id, criterion_id=c.id)
            db.session.add(row)
        row.points, row.scored_at = points[c.id], now
        out.append(row)
    db.session.flush()
    return out


def announce(*, user: User, task: CampaignTask) -> CampaignProposal:
    """Publish the result once every panel expert without a conflict has scored every proposal: the winner is the
    highest average total (the earlier submission on a tie), and the 公示 list shows every proposal's average.
    The official never sees a score before this: the ranking is the panel's (市场阅卷)."""
    if not can_manage(user, task.campaign):
        raise NotAllowed("只有榜单所在区域的科技局工作人员可以公布揭榜结果")
    task = db.session.scalar(select(CampaignTask).where(CampaignTask.id == task.id).with_for_update()
                             .execution_options(populate_existing=True))
    state = task.state(utcnow())
    if state != "reviewing":
        raise DomainError("揭榜截止后才能公布结果" if state == "open" else "结果已经公示", status_code=409)
    from .queries import missing_scores, ranking

    rows = ranking(task)
    if not rows:
        raise DomainError("本榜没有收到揭榜方案，无法公布结果", status_code=409)
    missing = missing_scores(task)
    if missing:
        raise DomainError(f"还有{missing}份评分未完成（每位评审专家须为每个无利益冲突的方案评分）", status_code=409)
    winner = rows[0].proposal
    winner.is_winner = True
    task.announced_at, task.announced_by_id = utcnow(), user.id
    task.deal_id = _open_deal(user=user, task=task, winner=winner).id
    db.session.flush()
    return winner


def _open_deal(*, user: User, task: CampaignTask, winner: CampaignProposal) -> Deal:
    """The winner's pairing with the company that set the need, as a deal from source 'campaign' (揭榜挂帅), so
    that its contract and the money received count for the campaign; both parties are told."""
    demand = task.demand
    buyer, seller = demand.org, winner.org
    deal = Deal(demand_id=demand.id, achievement_id=None, buyer_org_id=buyer.id, seller_org_id=seller.id,
                buyer_region_id=buyer.region_id or demand.region_id, seller_region_id=seller.region_id,
                stage="contacted", source="campaign", created_by_id=user.id)
    db.session.add(deal)
    db.session.flush()
    db.session.add(DealEvent(deal_id=deal.id, actor_id=user.id, kind="open", from_stage=None, to_stage="contacted",
                             text=f"揭榜挂帅《{task.title}》揭榜成功：{seller.name}，开启对接"))
    members = db.session.scalars(select(User.id).where(User.org_id.in_((buyer.id, seller.id)), User.active.is_(True)))
    notify(users=list(members), kind="deal_campaign", text=f"揭榜挂帅《{task.title}》结果已公示：{seller.name}揭榜成功，已开启对接",
           url=path_for("deals.detail", deal_id=deal.id))
    # like a deal opened from an accepted interest, it waits for a broker of either side's region to claim it
    notify(users=brokers_for(deal.buyer_region_id, deal.seller_region_id), kind="deal_unassigned",
           text=f"新的对接待认领：揭榜挂帅《{task.title}》（{buyer.name} ⇄ {seller.name}）",
           url=path_for("deals.detail", deal_id=deal.id))
    return deal


# --- the winner's project: milestones accepted or rejected by the company (市场阅卷) ---------------------------

MAX_MILESTONES = 20


def winner_of(task: CampaignTask) -> CampaignProposal | None:
    return db.session.scalar(select(CampaignProposal).where(CampaignProposal.task_id == task.id,
                                                            CampaignProposal.is_winner.is_(True)))


def project_role(user, task: CampaignTask) -> str | None:
    """'company' (a verified member of the organisation that set the need), 'winner' (of the winning one),
    'official' (who runs the campaign), else None."""
    if not getattr(user, "is_authenticated", False):
        return None
    if can_manage(user, task.campaign):
        return "official"
    if user.role not in SOLVER_ROLES or not is_verified_actor(user):
        return None
    if user.org_id == task.demand.org_id:
        return "company"
    winner = winner_of(task)
    if winner is not None and user.org_id == winner.org_id:
        return "winner"
    return None


def milestone_add(*, user: User, task: CampaignTask, title: str, due_on: date, amount: Decimal) -> CampaignMilestone:
    """The official splits the award into milestones once the winner is announced; their sum never passes it."""
    if project_role(user, task) != "official":
        raise NotAllowed("只有榜单所在区域的科技局工作人员可以设置项目里程碑")
    task = db.session.scalar(select(CampaignTask).where(CampaignTask.id == task.id).with_for_update()
                             .execution_options(populate_existing=True))
    if task.announced_at is None:
        raise DomainError("揭榜结果公示后才能设置项目里程碑", status_code=409)
    if len(task.milestones) >= MAX_MILESTONES:
        raise DomainError(f"里程碑不能超过{MAX_MILESTONES}个", status_code=409)
    if amount is None or amount <= 0:
        raise _field_error("amount", "里程碑奖补金额应大于0")
    planned = sum((m.amount for m in task.milestones), Decimal("0.00"))
    if planned + amount > task.award:
        raise _field_error("amount", f"各里程碑金额之和不能超过奖补资金（尚可分配 {task.award - planned:.2f} 元）")
    milestone = CampaignMilestone(task_id=task.id, title=title.strip(), due_on=due_on, amount=amount, status="pending")
    db.session.add(milestone)
    db.session.flush()
    return milestone


def _lock_milestone(milestone: CampaignMilestone) -> CampaignMilestone:
    return db.session.scalar(select(CampaignMilestone).where(CampaignMilestone.id == milestone.id).with_for_update()
                             .execution_options(populate_existing=True))


def milestone_submit(*, user: User, milestone: CampaignMilestone, note: str) -> CampaignMilestone:
    """The winner delivers a milestone (again, after a rejection)."""
    if project_role(user, milestone.task) != "winner":
        raise NotAllowed("只有揭榜成功的单位可以提交里程碑成果")
    milestone = _lock_milestone(milestone)
    if milestone.status not in ("pending", "rejected"):
        raise DomainError(f"该里程碑{milestone.status_label}，不能再提交", status_code=409)
    milestone.status, milestone.note = "submitted", note.strip()
    db.session.flush()
    return milestone


def milestone_decide(*, user: User, milestone: CampaignMilestone, accept: bool, reason: str) -> CampaignMilestone:
    """The company accepts a delivered milestone, and its share of the award is recorded as paid at that moment;
    or rejects it with reasons. Under the row lock, so a double click decides once."""
    if project_role(user, milestone.task) != "company":
        raise NotAllowed("只有出题企业可以验收里程碑")
    milestone = _lock_milestone(milestone)
    if milestone.status != "submitted":
        raise DomainError(f"该里程碑{milestone.status_label}，不能验收", status_code=409)
    reason = (reason or "").strip()
    if not accept and len(reason) < 5:
        raise _field_error("reason", "不通过验收时请写明理由（至少5字）")
    now = utcnow()
    milestone.decided_by_id, milestone.decided_at = user.id, now
    if accept:
        milestone.status, milestone.paid_at, milestone.reason = "accepted", now, ""
    else:
        milestone.status, milestone.reason = "rejected", reason
    db.session.flush()
    return milestone
