"""技术合同登记: 登记点 (registration points) and each step of a contract's registration history (issue 16 item 4).

A contract's own registration state lives in its columns (reg_status, reg_point_id, registrar_id, registered_on,
submitted_at, ...: market/models/contract.py); `RegStep` keeps every move with actor, time and reason, so a change or a
cancellation is re-registered with its history.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..money import Money
from .base import UTCDateTime, utcnow
from .region import Region

REG_STATUSES = {"submitted": "待登记", "returned": "已退回", "refused": "不予登记", "registered": "已登记"}
REG_POINT_KINDS = {"bureau": "县区科技局", "agency": "服务机构"}
# what a submission asks for: a first registration, the change of a registered contract, or its cancellation (注销)
REG_REQUESTS = {"new": "登记", "change": "变更登记", "cancel": "注销登记"}
REG_ACTIONS = {
    "submit": "提交登记", "resubmit": "修改后重新提交", "change": "申请变更登记", "cancel": "申请注销登记",
    "return": "退回", "refuse": "不予登记", "register": "核定登记", "cancelled": "核准注销", "withdraw": "撤回申请",
    "transfer": "移交登记点",  # its 登记点 was deactivated: the submission moved to another (services.reg_point_set_active)
}


class RegPoint(db.Model):
    """登记点: a county bureau or an agency that registers the contracts of a region of the city's tree."""

    __tablename__ = "reg_points"
    __table_args__ = (
        CheckConstraint("kind IN ('bureau', 'agency')", name="kind"),
        CheckConstraint("serial BETWEEN 1 AND 99", name="serial_range"),
        UniqueConstraint("division", "serial", name="uq_reg_points_division_serial"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    division: Mapped[str] = mapped_column(String(6))  # its 6-digit 行政区划代码, part of every 登记编号
    serial: Mapped[int] = mapped_column(Integer)  # 2-digit 登记点 number within its division
    # the point's 登记编号 sequence: the last number drawn and its year (drawn by one atomic UPDATE)
    seq_year: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seq_last: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    region: Mapped[Region] = relationship()

    @property
    def kind_label(self) -> str:
        return REG_POINT_KINDS.get(self.kind, self.kind)


class RegStep(db.Model):
    """One step of a contract's registration: who, when, what, why, and the 技术交易额 核定 on registration."""

    __tablename__ = "reg_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reg_point_id: Mapped[int | None] = mapped_column(ForeignKey("reg_points.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    tech_amount: Mapped[Decimal | None] = mapped_column(Money())
    registration_no: Mapped[str] = mapped_column(String(40), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # a change request ('change'): the registered values it replaced, as JSON, put back if the 登记员 returns it
    prior: Mapped[str | None] = mapped_column(Text)

    actor = relationship("User")

    @property
    def action_label(self) -> str:
        return REG_ACTIONS.get(self.action, self.action)


class WorkCalendarDay(db.Model):
    """A day that differs from the Monday-to-Friday week in the 登记 deadline's working days: a public holiday on a
    weekday (workday False) or a 调休 working Saturday or Sunday (workday True). The State Council publishes each
    year's 放假安排 (usually in November for the next year); administrators enter it at 合同登记 → 节假日安排
    (market/registration/calendar.py seeds 2026)."""

    __tablename__ = "work_calendar"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(40), default="", server_default="")
