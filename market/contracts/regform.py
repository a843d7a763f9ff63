"""The 技术合同登记表's own fields on a contract: coded choices, 预计新增投入/产值, and the 技术交易额 worksheet.

`registration_problems(data)` is called by services.validate_terms for every write (form, edit, deal, import):
it normalises the fields in `data` (a blank code becomes None) and, when the worksheet is filled, works the
技术交易额 out of it: 成交额 − 设备费 − 原材料费 − 其他非技术费用, exact to the fen. A 技术交易额 typed beside the
worksheet must be that figure, or it is refused with the worked sum next to the field.
"""
from __future__ import annotations

from decimal import Decimal

from ..extensions import db
from ..models import Organization
from ..models.reg_code import CODE_FIELDS, MONEY_FIELDS, REG_FORM_FIELDS, WORKSHEET_FIELDS, worked_sum
from ..models.reg_code import REG_FORM_LABELS as LABELS
from ..models.reg_code import worksheet_tech_amount
from ..money import CENT, contract_amount_problem
from . import regcodes

__all__ = ["CODE_FIELDS", "LABELS", "MONEY_FIELDS", "REG_FORM_FIELDS", "WORKSHEET_FIELDS", "apply_default_legal_forms",
           "registration_problems", "worked_sum", "worksheet_tech_amount"]

def registration_problems(data: dict, *, active: dict[str, set[str]] | None = None) -> dict[str, str]:
    """Per-field Chinese reasons for the 登记表 fields of `data`, which it normalises in place (see the module).
    `active`: the active codes of each kind, when the caller has read them once for many rows (an import)."""
    errors: dict[str, str] = {}
    for name, kind in CODE_FIELDS.items():
        value = data.get(name)
        value = value.strip() if isinstance(value, str) else value
        data[name] = value or None
        codes = active[kind] if active is not None else regcodes.active_codes(kind)
        if data[name] is not None and data[name] not in codes:
            errors[name] = f"{LABELS[name]}无效，请从列表中选择"
    for name in MONEY_FIELDS:
        value = data.get(name)
        if value is None or value == "":
            data[name] = None
        elif not isinstance(value, Decimal) or not value.is_finite() or value < 0 or value != value.quantize(CENT):
            errors[name] = f"{LABELS[name]}无效（元，最多两位小数，不能为负）"
        elif contract_amount_problem(value, LABELS[name]):
            errors[name] = contract_amount_problem(value, LABELS[name])
    deductions = [data.get(name) for name in WORKSHEET_FIELDS]
    amount = data.get("amount")
    if any(d is not None for d in deductions) and not any(name in errors for name in WORKSHEET_FIELDS) \
            and isinstance(amount, Decimal) and amount.is_finite():
        worked = worksheet_tech_amount(amount, deductions)
        typed = data.get("tech_amount")
        text = worked_sum(amount, *deductions)
        if worked < 0:
            errors["nontech_other"] = f"设备、原材料和其他非技术费用合计超过合同成交额：{text}"
        elif typed is None:
            data["tech_amount"] = worked
        elif isinstance(typed, Decimal) and typed != worked:
            errors["tech_amount"] = (f"技术交易额与核算表不符：{text}，而填写的是 {typed.quantize(CENT)} 元；"
                                     "请改为核算结果，或留空由系统计算")
    return errors


def apply_default_legal_forms(contract):
    """A party's 法人性质 left blank takes its organisation's (or what the organisation's type suggests);
    returns the contract."""
    for side in ("buyer", "seller"):
        if getattr(contract, f"{side}_legal_form") is None:
            org_id = getattr(contract, f"{side}_org_id")
            org = db.session.get(Organization, org_id) if org_id else None
            default = regcodes.default_legal_form(org)
            if default in regcodes.active_codes("legal_form"):
                setattr(contract, f"{side}_legal_form", default)
    return contract

