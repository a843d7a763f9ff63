"""技术合同 register: contracts, payments received, the audit trail, and annual targets."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..money import Money
from .base import UTCDateTime, utcnow
from .field import Field
from .org import Organization
from .region import Region
from .user import User

# 民法典 art. 843 and the 技术合同认定规则
CONTRACT_TYPES = {
    "development": ("技术开发", {"commissioned": "委托开发", "cooperative": "合作开发"}),
    "transfer": ("技术转让", {"patent": "专利权转让", "patent_application": "专利申请权转让", "know_how": "技术秘密转让",
                          "software": "计算机软件著作权转让", "ic_layout": "集成电路布图设计专有权转让",
                          "plant_variety": "植物新品种权转让", "other": "其他"}),
    "license": ("技术许可", {"patent_license": "专利实施许可", "know_how_license": "技术秘密许可",
                         "software_license": "计算机软件著作权许可", "ic_layout_license": "集成电路布图设计专有权许可",
                         "plant_variety_license": "植物新品种权许可"}),
    "consulting": ("技术咨询", {}),
    "service": ("技术服务", {"intermediary": "技术中介", "training": "技术培训"}),
}


class Contract(db.Model):
    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint("tech_amount <= amount", name="tech_not_above_amount"),
        CheckConstraint("amount >= 0 AND tech_amount >= 0", name="amounts_not_negative"),
        CheckConstraint(
            "contract_type IN ('development', 'transfer', 'license', 'consulting', 'service')", name="contract_type"
        ),
        db.Index("ix_contracts_signed_on_voided", "signed_on", "voided"),
        CheckConstraint("buyer_region_id IS NOT NULL OR seller_region_id IS NOT NULL", name="a_party_in_city"),
        CheckConstraint("reg_status IN ('submitted', 'returned', 'refused', 'registered')", name="reg_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_no: Mapped[str] = mapped_column(String(40), unique=True)  # 登记编号
    title: Mapped[str] = mapped_column(String(200), default="")
    contract_type: Mapped[str] = mapped_column(String(16))
    subtype: Mapped[str] = mapped_column(String(32), default="")
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    seller_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    # a party in the city is on its region tree; one outside has no region, only its 行政区划代码 or 国别
    # (market/divisions.py); at least one party is in the city
    buyer_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    seller_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    buyer_division: Mapped[str | None] = mapped_column(String(6))  # GB/T 2260
    seller_division: Mapped[str | None] = mapped_column(String(6))
    buyer_country: Mapped[str] = mapped_column(String(2), default="CN", server_default="CN")  # 国别, ISO 3166-1
    seller_country: Mapped[str] = mapped_column(String(2), default="CN", server_default="CN")
    amount: Mapped[Decimal] = mapped_column(Money())  # 合同成交额, 元
    tech_amount: Mapped[Decimal] = mapped_column(Money())  # 技术交易额, 元
    # the 登记表 (issue 16 item 3): codes from reg_codes (market/contracts/regcodes.py); NULL on older contracts
    seller_legal_form: Mapped[str | None] = mapped_column(String(8))  # 法人性质
    buyer_legal_form: Mapped[str | None] = mapped_column(String(8))
    ip_type: Mapped[str | None] = mapped_column(String(8))  # 知识产权类型
    reg_field: Mapped[str | None] = mapped_column(String(8))  # the registration's 11 技术领域
    plan_source: Mapped[str | None] = mapped_column(String(8))  # 计划来源
    socio_goal: Mapped[str | None] = mapped_column(String(8))  # 社会经济目标
    expected_investment: Mapped[Decimal | None] = mapped_column(Money())  # 预计新增投入, transfers
    expected_output: Mapped[Decimal | None] = mapped_column(Money())  # 预计新增产值
    # the 技术交易额 worksheet: when any is given, tech_amount = amount - their sum, to the fen
    nontech_equipment: Mapped[Decimal | None] = mapped_column(Money())  # 设备费
    nontech_materials: Mapped[Decimal | None] = mapped_column(Money())  # 原材料费
    nontech_other: Mapped[Decimal | None] = mapped_column(Money())  # 其他非技术费用
    signed_on: Mapped[date] = mapped_column(Date, index=True)
    term_start: Mapped[date | None] = mapped_column(Date)
    term_end: Mapped[date | None] = mapped_column(Date)
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"), index=True)
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id"), index=True)
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievements.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    broker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16), default="manual")  # deal | manual | import
    scan_path: Mapped[str] = mapped_column(String(200), default="")  # generated name under UPLOAD_DIR
    scan_name: Mapped[str] = mapped_column(String(200), default="")  # the uploader's file name, as data
    voided: Mapped[bool] = mapped_column(default=False, index=True)
    void_reason: Mapped[str] = mapped_column(String(500), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 登记 workflow (issue 16 item 4, market/registration): only 'registered' contracts count in official figures
    # (market.models.stats.COUNTED); contracts recorded before it, or by officials, registrars and imports, are
    # 'registered'; a seller's or broker's online submission is 'submitted' until the competent 登记点 decides
    reg_status: Mapped[str] = mapped_column(String(12), default="registered", server_default="registered")
    reg_request: Mapped[str | None] = mapped_column(String(8))  # new | change | cancel, while one is pending
    reg_point_id: Mapped[int | None] = mapped_column(ForeignKey("reg_points.id"), index=True)
    registrar_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_on: Mapped[date | None] = mapped_column(Date)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    declared_tech_amount: Mapped[Decimal | None] = mapped_column(Money())  # the 技术交易额 as submitted
    reg_verify_code: Mapped[str | None] = mapped_column(String(16), unique=True)  # on the 登记证明
    # kept by triggers for the data checks (market/models/checks.py): the parties' organisation types, and whether
    # another counted contract has the same buyer, seller, signing date and amount
    seller_org_type: Mapped[str | None] = mapped_column(String(16))
    buyer_org_type: Mapped[str | None] = mapped_column(String(16))
    duplicated: Mapped[bool] = mapped_column(default=False, server_default=false())

    buyer_org: Mapped[Organization] = relationship(foreign_keys=[buyer_org_id])
    seller_org: Mapped[Organization] = relationship(foreign_keys=[seller_org_id])
    buyer_region: Mapped[Region | None] = relationship(foreign_keys=[buyer_region_id])
    seller_region: Mapped[Region | None] = relationship(foreign_keys=[seller_region_id])
    field: Mapped[Field | None] = relationship()
    # the linked need and result, so that pages name them by title (read only: the ids are set by the services)
    demand = relationship("Demand", foreign_keys=[demand_id], viewonly=True)
    achievement = relationship("Achievement", foreign_keys=[achievement_id], viewonly=True)
    broker: Mapped[User | None] = relationship(foreign_keys=[broker_id])
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
    reg_point = relationship("RegPoint", foreign_keys=[reg_point_id])
    registrar: Mapped[User | None] = relationship(foreign_keys=[registrar_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])

    @property
    def type_label(self) -> str:
        return CONTRACT_TYPES[self.contract_type][0]

    @property
    def subtype_label(self) -> str:
        return CONTRACT_TYPES[self.contract_type][1].get(self.subtype, "")

    @property
    def buyer_place(self) -> str:
        from ..divisions import place_label

        return place_label(region=self.buyer_region, division_code=self.buyer_division, country=self.buyer_country)

    @property
    def seller_place(self) -> str:
        from ..divisions import place_label

        return place_label(region=self.seller_region, division_code=self.seller_division, country=self.seller_country)

    @property
    def has_worksheet(self) -> bool:
        """The 技术交易额 was worked out from the 成交额 (any deduction given, 0 included)."""
        return any(v is not None for v in (self.nontech_equipment, self.nontech_materials, self.nontech_other))

    @property
    def registration_sheet(self):
        """The 登记表 fields as shown to people (market/contracts/regform.py)."""
        from .reg_code import contract_sheet

        return contract_sheet(self)

    @property
    def is_registered(self) -> bool:
        return self.reg_status == "registered"

    @property
    def is_foreign(self) -> bool:
        """涉外: a party abroad (港澳台 included)."""
        return self.buyer_country != "CN" or self.seller_country != "CN"


class Payment(db.Model):
    """An instalment received against a contract."""

    __tablename__ = "contract_payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContractAudit(db.Model):
    """Every change to a contract: who, when, which field, old and new value."""

    __tablename__ = "contract_audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))  # create | edit | void | payment | import
    field_name: Mapped[str] = mapped_column(String(40), default="")
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()


TARGET_METRICS = {"amount": "合同成交额", "tech_amount": "技术交易额", "count": "合同数量", "conversions": "成果转化项数"}


class Target(db.Model):
    """目标任务: an annual target for one region and metric, set by an official of the parent region."""

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("region_id", "year", "metric", name="uq_targets_region_year_metric"),
        CheckConstraint("metric IN ('amount', 'tech_amount', 'count', 'conversions')", name="metric"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16))
    value_amount: Mapped[Decimal | None] = mapped_column(Money())  # money metrics, 元
    value_count: Mapped[int | None] = mapped_column(Integer)  # count metrics
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    region: Mapped[Region] = relationship()
