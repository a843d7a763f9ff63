"""Reference codes of the 技术合同登记表 (法人性质, 知识产权类型, 登记技术领域, 计划来源, 社会经济目标).

Kept as data so that an administrator can follow a revised 管理办法: labels edited, codes added, old codes
deactivated (never deleted, since contracts keep them). Read through market/contracts/regcodes.py. The 技术交易额 worksheet's arithmetic and what the contract page shows
of the 登记表 are here too, below the features (the contract model uses them).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..money import CENT, WAN

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


# contract column -> reg_codes kind
CODE_FIELDS = {
    "seller_legal_form": "legal_form",
    "buyer_legal_form": "legal_form",
    "ip_type": "ip_type",
    "reg_field": "reg_field",
    "plan_source": "plan_source",
    "socio_goal": "socio_goal",
}
WORKSHEET_FIELDS = ("nontech_equipment", "nontech_materials", "nontech_other")
MONEY_FIELDS = ("expected_investment", "expected_output", *WORKSHEET_FIELDS)
REG_FORM_FIELDS = (*CODE_FIELDS, *MONEY_FIELDS)
REG_FORM_LABELS = {
    "seller_legal_form": "卖方法人性质",
    "buyer_legal_form": "买方法人性质",
    "ip_type": "知识产权类型",
    "reg_field": "登记技术领域",
    "plan_source": "计划来源",
    "socio_goal": "社会经济目标",
    "expected_investment": "预计新增投入",
    "expected_output": "预计新增产值",
    "nontech_equipment": "设备费",
    "nontech_materials": "原材料费",
    "nontech_other": "其他非技术费用",
}


def code_labels(kind: str) -> dict[str, str]:
    """code -> label for every code of the kind (inactive included)."""
    rows = db.session.execute(select(RegCode.code, RegCode.label).where(RegCode.kind == kind)
                              .order_by(RegCode.sort, RegCode.code))
    return {code: label for code, label in rows}


def worksheet_tech_amount(amount: Decimal, deductions: list[Decimal | None]) -> Decimal:
    """成交额 minus the non-technical costs given (None counts as 0), to the fen."""
    return (amount - sum((d for d in deductions if d is not None), Decimal(0))).quantize(CENT)


def worked_sum(amount: Decimal | None, equipment: Decimal | None, materials: Decimal | None,
               other: Decimal | None) -> str:
    """'500000.00 − 设备 30000.00 − 原材料 0.00 − 其他非技术费用 1200.00 = 468800.00 元' ('' without a worksheet)."""
    if amount is None or all(v is None for v in (equipment, materials, other)):
        return ""
    parts = [f"{amount.quantize(CENT)}"]
    for name, value in (("设备", equipment), ("原材料", materials), ("其他非技术费用", other)):
        parts.append(f"{name} {(value or Decimal(0)).quantize(CENT)}")
    result = worksheet_tech_amount(amount, [equipment, materials, other])
    return " − ".join(parts) + f" = {result} 元"


@dataclass
class Sheet:
    worked_sum: str
    rows: list[tuple[str, str]]


def contract_sheet(contract) -> Sheet:
    """What the contract page shows of the 登记表: the worked sum and each field given, named from its code."""
    rows = []
    for name, kind in CODE_FIELDS.items():
        code = getattr(contract, name)
        if code:
            rows.append((REG_FORM_LABELS[name], f"{code_labels(kind).get(code, code)}（{code}）"))
    for name in ("expected_investment", "expected_output"):
        value = getattr(contract, name)
        if value is not None:
            rows.append((REG_FORM_LABELS[name], f"{value.quantize(CENT)} 元（{(value / WAN).quantize(CENT)} 万元）"))
    return Sheet(worked_sum=worked_sum(contract.amount, contract.nontech_equipment, contract.nontech_materials,
                                       contract.nontech_other), rows=rows)
