"""The two libraries: 企业技术需求 (Demand) and 高校院所成果 (Achievement)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from ..extensions import db
from ..money import WAN, Money
from .base import UTCDateTime, utcnow
from .field import Field
from .org import Organization
from .region import Region
from .user import User

# A listing's states, the one definition (the transitions: listings/services.py TRANSITIONS). "done" reads by kind:
# a need is 已解决, a result 已转化 (DONE_LABELS); the public sees PUBLIC_STATUSES (lists, search, the index).
STATUSES = ("draft", "pending", "published", "returned", "done", "closed")
STATUS_LABELS = {
    "draft": "草稿",
    "pending": "待审核",
    "published": "已发布",
    "returned": "已退回",
    "closed": "已关闭",
}
DONE_LABELS = {"demand": "已解决", "achievement": "已转化"}
PUBLIC_STATUSES = ("published", "done")


def status_label(status: str, kind: str) -> str:
    """The Chinese name of a status for a listing of `kind` ("done": 已解决 / 已转化)."""
    return DONE_LABELS[kind] if status == "done" else STATUS_LABELS.get(status, status)


def _sql_in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


#: how the reason of a contract's move to done begins: voiding the contract, and the owner's reopening, know by it
#: that a contract marked the listing done (listings.services.listing_mark_done_by_contract)
DONE_BY_CONTRACT = "签订技术合同"
DEMAND_MODES = {
    "transfer": "技术转让",
    "license": "技术许可",
    "development": "技术开发/合作研发",
    "consulting": "技术咨询",
    "service": "技术服务",
    "talent": "人才引进",
}
ACHIEVEMENT_MODES = {"transfer": "转让", "license": "许可", "equity": "作价入股", "codevelop": "合作开发"}
IP_TYPES = {
    "invention": "发明专利",
    "utility": "实用新型",
    "design": "外观设计",
    "software": "软件著作权",
    "ic_layout": "集成电路布图",
    "plant": "植物新品种",
    "know_how": "技术秘密",
}
IP_STATUSES = {"granted": "已授权", "pending": "申请中", "registered": "已登记", "none": "未申请"}
# GB/T 22900 技术成熟度 (technology readiness), shown as "6级 相关环境中系统样机演示"
MATURITY_NAMES = (
    "发现基本原理或看到基本原理的报道",
    "形成技术概念或开发方案",
    "关键功能分析和实验结论成立",
    "研究室环境中关键部件仿真验证",
    "相关环境中关键部件仿真验证",
    "相关环境中系统样机演示",
    "在实际环境中的系统样机试验结论成立",
    "实际系统完成并通过实验验证",
    "实际系统通过任务运行的成功考验",
)
MATURITY_LEVELS = {level: f"{level}级 {name}" for level, name in enumerate(MATURITY_NAMES, 1)}
PRICE_BANDS = {
    "0-10": "10万元以下",
    "10-50": "10-50万元",
    "50-100": "50-100万元",
    "100-500": "100-500万元",
    "500+": "500万元以上",
    "negotiable": "面议",
}
_BAND_LIMITS = (("0-10", 10), ("10-50", 50), ("50-100", 100), ("100-500", 500))


def price_band(amount: Decimal | None) -> str:
    if amount is None:
        return "negotiable"
    wan = amount / WAN
    for band, limit in _BAND_LIMITS:
        if wan < limit:
            return band
    return "500+"


def _codes(value: str) -> list[str]:
    return [part for part in (value or "").strip(",").split(",") if part]


def _join(codes: list[str]) -> str:
    return "," + ",".join(codes) + "," if codes else ""


class ListingMixin:
    """Columns and behaviour shared by both libraries."""

    KIND: str
    MODES: dict[str, str]
    DONE_LABEL: str

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    keywords: Mapped[str] = mapped_column(String(300), default="")
    modes: Mapped[str] = mapped_column(String(200), default="")  # ",code,code," for LIKE filters
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    return_reason: Mapped[str] = mapped_column(String(500), default="")
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(30), default="")
    contact_email: Mapped[str] = mapped_column(String(120), default="")
    contact_public: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    @declared_attr
    def org_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("organizations.id"), index=True)

    @declared_attr
    def owner_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("users.id"), index=True)

    @declared_attr
    def region_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("regions.id"), index=True)

    @declared_attr
    def field_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("fields.id"), index=True)

    @declared_attr
    def org(cls) -> Mapped[Organization]:
        return relationship(Organization)

    @declared_attr
    def owner(cls) -> Mapped[User]:
        return relationship(User)

    @declared_attr
    def region(cls) -> Mapped[Region | None]:
        return relationship(Region)

    @declared_attr
    def field(cls) -> Mapped[Field | None]:
        return relationship(Field)

    @declared_attr
    def __table_args__(cls):
        public = text(_sql_in(PUBLIC_STATUSES))
        return (
            CheckConstraint(_sql_in(STATUSES), name="status"),
            # the public lists and the home page: newest public listings first, read in index order with no
            # sort; drafts and pending rows are not in it (bench/pg_indexes.py: page 1 in 1 ms instead of 62)
            Index(f"ix_{cls.__tablename__}_public_published", "published_at", "id",
                  postgresql_where=public, sqlite_where=public),
        )

    @property
    def keyword_list(self) -> list[str]:
        return [k for k in (self.keywords or "").split(",") if k]

    @property
    def mode_list(self) -> list[str]:
        return _codes(self.modes)

    def set_modes(self, codes: list[str]) -> None:
        self.modes = _join([c for c in self.MODES if c in codes])

    @property
    def mode_labels(self) -> list[str]:
        return [self.MODES[c] for c in self.mode_list if c in self.MODES]

    @property
    def status_label(self) -> str:
        return status_label(self.status, self.KIND)

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    @property
    def doc_id(self) -> str:
        return f"{self.KIND}:{self.id}"


class Demand(ListingMixin, db.Model):
    __tablename__ = "demands"
    KIND = "demand"
    MODES = DEMAND_MODES
    DONE_LABEL = DONE_LABELS["demand"]
    LABEL = "技术需求"

    description: Mapped[str] = mapped_column(Text, default="")
    indicators: Mapped[str] = mapped_column(Text, default="")
    budget: Mapped[Decimal | None] = mapped_column(Money())  # 元; None = 面议
    deadline: Mapped[date | None] = mapped_column(Date)

    @property
    def amount(self) -> Decimal | None:
        return self.budget

    @property
    def body(self) -> str:
        return f"{self.description}\n{self.indicators}"


class Achievement(ListingMixin, db.Model):
    __tablename__ = "achievements"
    KIND = "achievement"
    MODES = ACHIEVEMENT_MODES
    DONE_LABEL = DONE_LABELS["achievement"]
    LABEL = "科技成果"

    summary: Mapped[str] = mapped_column(Text, default="")
    maturity: Mapped[int | None] = mapped_column(Integer)
    ip_type: Mapped[str] = mapped_column(String(16), default="")
    ip_numbers: Mapped[str] = mapped_column(String(300), default="")
    ip_status: Mapped[str] = mapped_column(String(16), default="")
    price: Mapped[Decimal | None] = mapped_column(Money())  # 元; None = 面议
    team_lead: Mapped[str] = mapped_column(String(50), default="")
    team_members: Mapped[str] = mapped_column(String(300), default="")

    @property
    def amount(self) -> Decimal | None:
        return self.price

    @property
    def body(self) -> str:
        return self.summary


LISTING_MODELS = {"demand": Demand, "achievement": Achievement}


class ListingEvent(db.Model):
    """Every status transition of a listing: who, when, from, to, why."""

    __tablename__ = "listing_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    listing_id: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (db.Index("ix_listing_events_kind_listing", "kind", "listing_id"),)


class IndexChange(db.Model):
    """Outbox of listing changes, written in the same transaction as the change.

    Every process applies it, in sequence order, to its own copy of the search index.
    """

    __tablename__ = "index_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    obj_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(8))  # upsert | delete
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Suggestion(db.Model):
    """A stored engine suggestion pairing a need with a result, with its reasons."""

    __tablename__ = "suggestions"
    __table_args__ = (UniqueConstraint("demand_id", "achievement_id", name="uq_suggestions_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(db.Float)  # a relevance score, not money
    reasons: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of Chinese sentences
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Whose own top matches hold the pair: the need's (its refresh ranked this result among its best), the
    # result's, or both. A pair held only by the other side (a result that ranks this need among its few) is
    # still listed, after the listing's own picks: its score was computed from the other side's place and does
    # not rank it among them (market/matching/queries.for_listing).
    demand_pick: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    achievement_pick: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    demand: Mapped[Demand] = relationship()
    achievement: Mapped[Achievement] = relationship()
