"""服务机构, 技术经纪人 and 专家库 (issue 19 section 3): what an agency offers, a broker's registry entry beyond the
account (public profile), and the expert registry campaign panels draw from. The broker's 证书编号, agency
(users.org_id, an organisation of type 'agency') and region (users.region_id) stay on the account."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .field import Field
from .org import Organization
from .region import Region
from .user import User

# the services an agency may say it offers (a short code set; the agency adds its own words in the note)
AGENCY_SERVICES = {
    "transfer": "技术转移转化",
    "evaluation": "技术评价评估",
    "ip": "知识产权服务",
    "brokerage": "技术经纪",
    "financing": "科技金融",
    "consulting": "科技咨询",
    "incubation": "创业孵化",
    "testing": "检验检测",
    "training": "技术培训",
}


class AgencyProfile(db.Model):
    """What a 服务机构 says about itself: its services (codes in agency_services) and a short note."""

    __tablename__ = "agency_profiles"

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AgencyService(db.Model):
    __tablename__ = "agency_services"
    __table_args__ = (
        UniqueConstraint("org_id", "code", name="uq_agency_services_org_code"),
        CheckConstraint("code IN (" + ", ".join(f"'{c}'" for c in AGENCY_SERVICES) + ")", name="code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), index=True)

    @property
    def label(self) -> str:
        return AGENCY_SERVICES[self.code]


class BrokerProfile(db.Model):
    """A broker's public profile: shown to everyone only when the broker opts in (public, off by default)."""

    __tablename__ = "broker_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    intro: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DemandCollection(db.Model):
    """需求征集: a need a broker collected with the enterprise (visited, helped write it up), recorded by that broker
    (a verified broker of a verified agency, market.agencies.services.demand_collect) and counted on the agency's
    yearly sheet in the year it was recorded. One per need: the first broker to record it keeps it. A table beside
    demands rather than columns on it, so that demands keep one foreign key to users and to organisations (the
    listing mixin's owner and org relationships rely on that)."""

    __tablename__ = "demand_collections"

    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id"), primary_key=True)
    broker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # the broker's agency when the need was recorded: kept, as deals.agency_id, when the broker moves on
    agency_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # the enterprise's word (a verified member of the need's organisation): counted on the sheets only once
    # confirmed; a disputed claim is deleted (market.agencies.services.collection_decide)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    broker: Mapped[User] = relationship(foreign_keys=[broker_id])
    agency: Mapped[Organization] = relationship(foreign_keys=[agency_id])


class Expert(db.Model):
    """专家库 entry. Always tied to an organisation, so that a panel can refuse an expert from a solver's
    organisation; optionally to an account (who may then switch their own availability)."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)  # who manages the entry
    title: Mapped[str] = mapped_column(String(50), default="")  # 职称
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    org: Mapped[Organization] = relationship()
    region: Mapped[Region] = relationship()
    fields: Mapped[list[Field]] = relationship(secondary="expert_fields", order_by="Field.code")


class ExpertField(db.Model):
    __tablename__ = "expert_fields"

    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"), primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"), primary_key=True, index=True)
