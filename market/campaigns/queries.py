"""Reads for 揭榜挂帅 campaigns. Scores leave the database through `ranking` and `expert_scores` only, and the
views call them for the panel, or for anyone once the result is announced."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from ..agencies.queries import expert_conflicts
from ..extensions import db
from ..models import Campaign, CampaignProposal, CampaignScore, CampaignTask


def campaigns() -> Select:
    return select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())


def own_proposal(task_id: int, user) -> CampaignProposal | None:
    if not getattr(user, "is_authenticated", False) or not user.org_id:
        return None
    return db.session.scalar(select(CampaignProposal).where(
        CampaignProposal.task_id == task_id, CampaignProposal.org_id == user.org_id))


def proposals_in_order(task_id: int) -> Select:
    """The proposals of a 榜 (for its panel and its official only), in order of submission: the review page's."""
    return (select(CampaignProposal).where(CampaignProposal.task_id == task_id)
            .options(selectinload(CampaignProposal.files))
            .order_by(CampaignProposal.created_at, CampaignProposal.id))


def proposals(task_id: int) -> list[CampaignProposal]:
    """Every proposal of a 榜 (for its panel and its official only), in order of submission."""
    return list(db.session.scalars(proposals_in_order(task_id)))


def proposal_counts(task_ids: list[int]) -> dict[int, int]:
    if not task_ids:
        return {}
    rows = db.session.execute(select(CampaignProposal.task_id, func.count()).where(
        CampaignProposal.task_id.in_(task_ids)).group_by(CampaignProposal.task_id))
    return dict(rows.all())


def expert_scores(proposal_id: int, expert_id: int) -> dict[int, int]:
    """criterion id -> points of one expert for one proposal."""
    return dict(db.session.execute(select(CampaignScore.criterion_id, CampaignScore.points).where(
        CampaignScore.proposal_id == proposal_id, CampaignScore.expert_id == expert_id)).all())


def scored_by(proposal: CampaignProposal) -> set[int]:
    """The experts who scored the proposal (no points: the official's page shows progress only)."""
    return set(db.session.scalars(select(CampaignScore.expert_id).where(
        CampaignScore.proposal_id == proposal.id).distinct()))


def solver_org_ids(task_id: int) -> list[int]:
    return list(db.session.scalars(select(CampaignProposal.org_id).where(CampaignProposal.task_id == task_id)))


def recused_ids(task: CampaignTask) -> set[int]:
    """The panel experts recused from the whole 榜 (须回避): those of an organisation that submitted a 揭榜方案 to
    it. Every proposal competes for one award, so such an expert has an interest in the score of each, not only
    of their own organisation's: they read none of them and score none."""
    orgs = solver_org_ids(task.id)
    return {e.id for e in task.panel if orgs and expert_conflicts(e, orgs)}


def missing_scores(task: CampaignTask) -> int:
    """How many (expert, proposal) pairs of the experts not recused still have no score."""
    recused = recused_ids(task)
    missing = 0
    for p in proposals(task.id):
        done = scored_by(p)
        missing += sum(1 for e in task.panel if e.id not in done and e.id not in recused)
    return missing


@dataclass
class Ranked:
    proposal: CampaignProposal
    average: Decimal  # the mean over the experts who scored it of their total, to two places
    experts: int


def ranking(task: CampaignTask) -> list[Ranked]:
    """Proposals by average total (highest first; the earlier submission on a tie), computed from the rows of the
    experts not recused."""
    recused = recused_ids(task)
    totals = db.session.execute(
        select(CampaignScore.proposal_id, CampaignScore.expert_id, func.sum(CampaignScore.points))
        .join(CampaignProposal, CampaignProposal.id == CampaignScore.proposal_id)
        .where(CampaignProposal.task_id == task.id)
        .group_by(CampaignScore.proposal_id, CampaignScore.expert_id)).all()
    per: dict[int, list[int]] = {}
    for proposal_id, expert_id, total in totals:
        if expert_id not in recused:
            per.setdefault(proposal_id, []).append(int(total))
    out = []
    for p in db.session.scalars(proposals_in_order(task.id).options(selectinload(CampaignProposal.org))):
        scores = per.get(p.id, [])
        avg = (Decimal(sum(scores)) / len(scores)).quantize(Decimal("0.01")) if scores else Decimal("0.00")
        out.append(Ranked(p, avg, len(scores)))
    out.sort(key=lambda r: (-r.average, r.proposal.created_at, r.proposal.id))
    return out
