"""Interest (意向 / 揭榜应答), deals (对接) worked by brokers, their event rows, and form idempotency tokens."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..money import Money
from .base import UTCDateTime, utcnow
from .listing import Achievement, Demand
from .org import Organization
from .user import User

# Why a pairing fails: kept as codes so that they can be counted.
FAIL_REASONS = {
    "not_relevant": "需求与成果不相关",
    "too_early": "技术尚不成熟（处于早期阶段）",
    "price": "价格不合适",
    "ip_unclear": "知识产权不清晰",
    "already_solved": "问题已解决",
    "other": "其他",
}

INTEREST_KINDS = {"interest": "意向", "solution": "揭榜应答"}
INTEREST_STATUSES = {"pending": "待处理", "accepted": "已接受", "declined": "已婉拒", "withdrawn": "已撤回"}
# (from, to) -> who may make the move
INTEREST_TRANSITIONS: dict[tuple[str, str], str] = {
    ("pending", "accepted"): "owner",
    ("pending", "declined"): "owner",
    ("pending", "withdrawn"): "author",
}

DEAL_STAGES = {
    "recommended": "推荐",
    "contacted": "接洽",
    "negotiating": "洽谈",
    "signed": "签约",
    "terminated": "终止",
}
OPEN_STAGES = ("recommended", "contacted", "negotiating")
# The only moves a deal can make. Moving to 签约 also records the contract (contracts.services).
DEAL_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("recommended", "contacted"),
        ("contacted", "negotiating"),
        ("negotiating", "signed"),
        ("recommended", "terminated"),
        ("contacted", "terminated"),
        ("negotiating", "terminated"),
    }
)
# Where a deal came from (issue 19 section 4), recorded when it opens; its broker may correct it later
# (deals.services.deal_source_correct). 'campaign' (揭榜挂帅), 'listed' (挂牌: a buyer accepted a listed price) and
# 'auction' (竞价: a lot's winning bid) are recorded by the feature that opens the deal and never chosen by hand
# (SYSTEM_SOURCES); a 挂牌 or 竞价 price is set in public, so such a contract needs no 协议定价 公示 (issue 20).
DEAL_SOURCES = {
    "suggestion": "系统推荐",
    "search": "检索发现",
    "campaign": "揭榜挂帅",
    "event": "对接活动",
    "broker_visit": "经纪人走访",
    "direct": "直接对接",
    "listed": "挂牌交易",
    "auction": "竞价拍卖",
}
SYSTEM_SOURCES = frozenset({"campaign", "listed", "auction"})
DEAL_SOURCES_SQL = ", ".join(f"'{code}'" for code in DEAL_SOURCES)
# Where the page an interest was sent from sent its author (a hidden field, for attribution only)
INTEREST_ORIGINS = ("search", "suggestion", "direct")


class Interest(db.Model):
    """An enterprise's interest in a result, or an institution's answer (揭榜) to a need."""

    __tablename__ = "interests"
    __table_args__ = (
        CheckConstraint("kind IN ('interest', 'solution')", name="kind"),
        CheckConstraint("status IN ('pending', 'accepted', 'declined', 'withdrawn')", name="status"),
        # the target listing is required; the author may link one of its own (a need to a result, or back)
        CheckConstraint(
            "(kind = 'interest' AND achievement_id IS NOT NULL) OR (kind = 'solution' AND demand_id IS NOT NULL)",
            name="target_listing",
        ),
        # one open interest per organisation and target listing, even under concurrent posts
        Index("uq_interests_open_interest", "from_org_id", "achievement_id", unique=True,
              postgresql_where=text("status = 'pending' AND kind = 'interest'"),
              sqlite_where=text("status = 'pending' AND kind = 'interest'")),
        Index("uq_interests_open_solution", "from_org_id", "demand_id", unique=True,
              postgresql_where=text("status = 'pending' AND kind = 'solution'"),
              sqlite_where=text("status = 'pending' AND kind = 'solution'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id"), index=True)
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievements.id"), index=True)
    from_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    to_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    reason_code: Mapped[str] = mapped_column(String(16), default="")  # FAIL_REASONS, when declined
    reason_text: Mapped[str] = mapped_column(String(500), default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # recorded on the spot at an event (路演/对接会/成果巡展, market/happenings): its outcome page counts it
    happening_id: Mapped[int | None] = mapped_column(ForeignKey("happenings.id"), index=True)
    # how the author came to the listing (INTEREST_ORIGINS): attribution only, never trusted for anything else;
    # NULL on interests sent before it was recorded
    origin: Mapped[str | None] = mapped_column(String(16))

    demand: Mapped[Demand | None] = relationship()
    achievement: Mapped[Achievement | None] = relationship()
    from_org: Mapped[Organization] = relationship(foreign_keys=[from_org_id])
    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id])
    to_org: Mapped[Organization] = relationship(foreign_keys=[to_org_id])

    @property
    def listing(self):
        """The listing the interest is about (the other one, if any, is the author's own)."""
        return self.demand if self.kind == "solution" else self.achievement

    @property
    def own_listing(self):
        return self.achievement if self.kind == "solution" else self.demand

    @property
    def kind_label(self) -> str:
        return INTEREST_KINDS[self.kind]

    @property
    def status_label(self) -> str:
        return INTEREST_STATUSES[self.status]

    @property
    def reason_label(self) -> str:
        label = FAIL_REASONS.get(self.reason_code, "")
        if self.reason_code == "other" and self.reason_text:
            return f"{label}：{self.reason_text}"
        return label


class InterestEvent(db.Model):
    __tablename__ = "interest_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    interest_id: Mapped[int] = mapped_column(ForeignKey("interests.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(1000), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()


class Deal(db.Model):
    """对接: one need and/or one result, the buyer and seller organisations, at most one broker."""

    __tablename__ = "deals"
    __table_args__ = (
        CheckConstraint(
            "stage IN ('recommended', 'contacted', 'negotiating', 'signed', 'terminated')", name="stage"
        ),
        CheckConstraint("demand_id IS NOT NULL OR achievement_id IS NOT NULL", name="has_listing"),
        # A suggested pair is worked by one deal only: claiming twice fails here.
        UniqueConstraint("demand_id", "achievement_id", name="uq_deals_pair"),
        CheckConstraint(f"source IN ({DEAL_SOURCES_SQL})", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id"), index=True)
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievements.id"), index=True)
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    seller_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    buyer_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    seller_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    broker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16), default="recommended", index=True)
    end_reason: Mapped[str] = mapped_column(String(16), default="")  # FAIL_REASONS, when terminated
    end_text: Mapped[str] = mapped_column(String(500), default="")
    next_action_on: Mapped[date | None] = mapped_column(Date, index=True)
    next_action: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(16), default="direct")  # DEAL_SOURCES
    # the event an interest recorded there came from (source 'event')
    happening_id: Mapped[int | None] = mapped_column(ForeignKey("happenings.id"), index=True)
    # the broker's agency (an organisation of type 'agency') when the broker took the deal: kept, so that a later
    # change of the broker's employer does not move past figures
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the engine may rebuild suggestions
    # the price set in public (挂牌: the listed price a buyer accepted; 竞价: the winning bid), 元; the contract
    # recorded from this deal carries it as its 合同成交额 (contracts.services.contract_record_from_deal)
    price: Mapped[Decimal | None] = mapped_column(Money())
    # the contract type sold at that price (转让 or 许可): the contract must be of this type, as it must carry the price
    price_type: Mapped[str | None] = mapped_column(String(16))
    interest_id: Mapped[int | None] = mapped_column(ForeignKey("interests.id"), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    demand: Mapped[Demand | None] = relationship()
    achievement: Mapped[Achievement | None] = relationship()
    buyer_org: Mapped[Organization] = relationship(foreign_keys=[buyer_org_id])
    seller_org: Mapped[Organization] = relationship(foreign_keys=[seller_org_id])
    broker: Mapped[User | None] = relationship(foreign_keys=[broker_id])
    agency: Mapped[Organization | None] = relationship(foreign_keys=[agency_id])

    @property
    def source_label(self) -> str:
        return DEAL_SOURCES.get(self.source, self.source)

    @property
    def stage_label(self) -> str:
        return DEAL_STAGES[self.stage]

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    @property
    def title(self) -> str:
        parts = [x.title for x in (self.demand, self.achievement) if x is not None]
        return " ⇄ ".join(parts)

    @property
    def end_label(self) -> str:
        label = FAIL_REASONS.get(self.end_reason, "")
        return f"{label}：{self.end_text}" if self.end_text else label

    def next_stages(self) -> list[str]:
        return [to for (frm, to) in DEAL_TRANSITIONS if frm == self.stage and to not in ("signed", "terminated")]


class DealEvent(db.Model):
    """Every stage move, claim, plan and note of a deal: who, when, from, to, text."""

    __tablename__ = "deal_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # open | move | claim | plan | note | contract
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(1000), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()

    @property
    def from_label(self) -> str:
        return DEAL_STAGES.get(self.from_stage or "", "")

    @property
    def to_label(self) -> str:
        return DEAL_STAGES.get(self.to_stage or "", "")


class FormSubmission(db.Model):
    """One row per submitted creation form: a second submission of the same token is refused."""

    __tablename__ = "form_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # interest | contract | payment
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    object_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
