"""揭榜挂帅 campaigns (榜单): a region's official turns companies' needs into 榜 with an award, a deadline, an
eligibility rule, a rubric and a review panel from the 专家库; solvers submit one 揭榜方案 per organisation and
榜, the panel scores it per criterion and expert, and the official announces the winner with a public 公示 list."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..money import Money
from .agency import Expert
from .base import UTCDateTime, utcnow
from .deal import Deal
from .listing import Demand
from .org import ORG_TYPES, Organization
from .region import Region
from .user import User

# who may 揭榜: organisation types (a service agency does not solve)
SOLVER_TYPES = {k: v for k, v in ORG_TYPES.items() if k != "agency"}
TASK_STATES = {"open": "揭榜中", "reviewing": "评审中", "announced": "已公示"}


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    region: Mapped[Region] = relationship()
    organiser: Mapped[User] = relationship()
    tasks: Mapped[list[CampaignTask]] = relationship(order_by="CampaignTask.id", back_populates="campaign")


class CampaignTask(db.Model):
    """One 榜. Its state: open until the deadline, then under review, announced once the official publishes the
    result (announced_at)."""

    __tablename__ = "campaign_tasks"
    __table_args__ = (
        CheckConstraint("award > 0", name="award_positive"),
        CheckConstraint("co_funding >= 0", name="co_funding_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    goal: Mapped[str] = mapped_column(Text)  # 攻关目标
    indicators: Mapped[str] = mapped_column(Text)  # 考核指标
    award: Mapped[Decimal] = mapped_column(Money())  # 奖补资金, 元
    co_funding: Mapped[Decimal] = mapped_column(Money())  # 企业配套资金, 元
    deadline: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    eligible_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))  # None: anywhere
    eligible_types: Mapped[str] = mapped_column(String(64))  # comma-separated SOLVER_TYPES keys
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    announced_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # the winner's pairing with the company, opened as a deal (source 'campaign') on the announcement
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="tasks")
    demand: Mapped[Demand] = relationship()
    eligible_region: Mapped[Region | None] = relationship()
    deal: Mapped[Deal | None] = relationship()
    milestones: Mapped[list[CampaignMilestone]] = relationship(order_by="CampaignMilestone.id", back_populates="task")
    criteria: Mapped[list[CampaignCriterion]] = relationship(order_by="CampaignCriterion.id")
    panel: Mapped[list[Expert]] = relationship(secondary="campaign_panelists", order_by="Expert.id")

    @property
    def type_keys(self) -> list[str]:
        return [k for k in self.eligible_types.split(",") if k]

    @property
    def types_label(self) -> str:
        return "、".join(SOLVER_TYPES[k] for k in self.type_keys)

    def state(self, now: datetime) -> str:
        if self.announced_at is not None:
            return "announced"
        return "open" if now < self.deadline else "reviewing"


class CampaignPanelist(db.Model):
    __tablename__ = "campaign_panelists"

    task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id"), primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"), primary_key=True, index=True)


class CampaignCriterion(db.Model):
    """One line of the rubric the official sets: a name and the most points it gives."""

    __tablename__ = "campaign_criteria"
    __table_args__ = (CheckConstraint("max_points BETWEEN 1 AND 100", name="max_points_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    max_points: Mapped[int] = mapped_column(Integer)


class CampaignProposal(db.Model):
    """揭榜方案: one per organisation and 榜, revised in place until the deadline (revision counts the saves)."""

    __tablename__ = "campaign_proposals"
    __table_args__ = (UniqueConstraint("task_id", "org_id", name="uq_campaign_proposals_org"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(Text)  # 技术路线、进度安排、团队
    revision: Mapped[int] = mapped_column(Integer, default=1)
    is_winner: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    task: Mapped[CampaignTask] = relationship()
    org: Mapped[Organization] = relationship()
    files: Mapped[list[CampaignProposalFile]] = relationship(order_by="CampaignProposalFile.id",
                                                              back_populates="proposal")


class CampaignProposalFile(db.Model):
    """An attachment of a 揭榜方案: a PDF kept under a generated name in UPLOAD_DIR (market/contracts/scans.py),
    the uploader's file name kept only as data; added or removed with a revision before the deadline."""

    __tablename__ = "campaign_proposal_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("campaign_proposals.id"), index=True)
    path: Mapped[str] = mapped_column(String(200))  # generated name under UPLOAD_DIR
    name: Mapped[str] = mapped_column(String(200))  # the uploader's file name, as data
    size: Mapped[int] = mapped_column(Integer)  # bytes
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    proposal: Mapped[CampaignProposal] = relationship(back_populates="files")


class CampaignScore(db.Model):
    """One expert's points for one criterion of one proposal."""

    __tablename__ = "campaign_scores"
    __table_args__ = (
        UniqueConstraint("proposal_id", "expert_id", "criterion_id", name="uq_campaign_scores"),
        CheckConstraint("points >= 0", name="points_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("campaign_proposals.id"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"), index=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("campaign_criteria.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


MILESTONE_STATUSES = {"pending": "待交付", "submitted": "待验收", "accepted": "已验收", "rejected": "未通过验收"}


class CampaignMilestone(db.Model):
    """A milestone of the winner's project (市场阅卷): the winner delivers, the company that set the need accepts
    it (its share of the award is then recorded as paid) or rejects it with reasons (the winner delivers again)."""

    __tablename__ = "campaign_milestones"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'submitted', 'accepted', 'rejected')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status != 'accepted' OR paid_at IS NOT NULL", name="accepted_is_paid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("campaign_tasks.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    due_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())  # the award paid on acceptance, 元
    status: Mapped[str] = mapped_column(String(12), default="pending")
    note: Mapped[str] = mapped_column(Text, default="")  # the winner's delivery
    reason: Mapped[str] = mapped_column(Text, default="")  # the company's reasons for a rejection
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    task: Mapped[CampaignTask] = relationship(back_populates="milestones")

    @property
    def status_label(self) -> str:
        return MILESTONE_STATUSES[self.status]
