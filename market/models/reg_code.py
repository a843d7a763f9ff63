"""Reference codes of the 技术合同登记表 (法人性质, 知识产权类型, 登记技术领域, 计划来源, 社会经济目标).

Kept as data so that an administrator can follow a revised 管理办法: labels edited, codes added, old codes
deactivated (never deleted, since contracts keep them). Read through market/contracts/regcodes.py.
"""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

REG_CODE_KIND_SQL = "kind IN ('legal_form', 'ip_type', 'reg_field', 'plan_source', 'socio_goal')"


class RegCode(db.Model):
    __tablename__ = "reg_codes"
    __table_args__ = (
        UniqueConstraint("kind", "code", name="uq_reg_codes_kind_code"),
        CheckConstraint(REG_CODE_KIND_SQL, name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(String(8))  # a heading of the same kind
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
