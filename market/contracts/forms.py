from __future__ import annotations

from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..divisions import country_choices, division_code_field
from ..forms import BaseForm, IntField, NameField, YuanField, field_choices, region_choices
from ..forms import clean_text, reject_invalid_chars
from ..models import CONTRACT_TYPES
from ..money import AmountError, parse_contract_yuan
from . import regcodes
from .regform import CODE_FIELDS, MONEY_FIELDS, worked_sum
from .regno import regno_problem


def type_choices() -> list[tuple[str, str]]:
    return [("", "请选择")] + [(code, label) for code, (label, _) in CONTRACT_TYPES.items()]


def subtype_choices() -> list[tuple[str, str]]:
    out = [("", "无 / 不适用")]
    for code, (label, subs) in CONTRACT_TYPES.items():
        out += [(sub, f"{label} - {sub_label}") for sub, sub_label in subs.items()]
    return out


class ContractAmountField(YuanField):
    """An amount of one contract or payment in 元: over CONTRACT_MAX_AMOUNT_YUAN is refused with the ceiling
    named (parse_contract_yuan), however large the number typed."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        text = clean_text(reject_invalid_chars(self.raw or ""))
        if not text:
            return
        try:
            self.data = parse_contract_yuan(text, label=self.label.text.split("（")[0])
        except AmountError as exc:
            raise ValueError(str(exc)) from exc


class ContractTermsForm(BaseForm):
    """The fields every contract shares (recording and editing)."""

    registration_no = StringField("登记编号", validators=[DataRequired("请填写登记编号"), Length(max=40, message="登记编号不超过40位")])
    title = StringField("合同名称", validators=[Optional(), Length(max=200, message="合同名称不超过200字")])
    contract_type = SelectField("合同类型", choices=type_choices(), validate_choice=False)
    subtype = SelectField("合同子类", choices=subtype_choices(), validate_choice=False)
    buyer_region_id = SelectField("买方所在区域", coerce=int, validate_choice=False)
    seller_region_id = SelectField("卖方所在区域", coerce=int, validate_choice=False)
    # a party outside the city (no region): its place, when its organisation has none (issue 16 item 1)
    buyer_division = division_code_field("买方所在地（本市以外）")
    seller_division = division_code_field("卖方所在地（本市以外）")
    buyer_country = SelectField("买方国别", choices=country_choices, default="CN", validate_choice=False)
    seller_country = SelectField("卖方国别", choices=country_choices, default="CN", validate_choice=False)
    amount = ContractAmountField("合同成交额（元）")
    tech_amount = ContractAmountField("技术交易额（元）")
    signed_on = DateField("签订日期", format="%Y-%m-%d", validators=[DataRequired("请填写签订日期（格式：2026-05-20）")])
    term_start = DateField("履行期限起", format="%Y-%m-%d", validators=[Optional()])
    term_end = DateField("履行期限止", format="%Y-%m-%d", validators=[Optional()])
    field_id = SelectField("技术领域", coerce=int, validate_choice=False)
    # the 技术合同登记表 (issue 16): codes from reg_codes, checked by regform.registration_problems
    seller_legal_form = SelectField("卖方法人性质", validate_choice=False)
    buyer_legal_form = SelectField("买方法人性质", validate_choice=False)
    ip_type = SelectField("知识产权类型", validate_choice=False)
    reg_field = SelectField("登记技术领域", validate_choice=False)
    plan_source = SelectField("计划来源", validate_choice=False)
    socio_goal = SelectField("社会经济目标", validate_choice=False)
    expected_investment = ContractAmountField("预计新增投入（元）")
    expected_output = ContractAmountField("预计新增产值（元）")
    nontech_equipment = ContractAmountField("设备费（元）")
    nontech_materials = ContractAmountField("原材料费（元）")
    nontech_other = ContractAmountField("其他非技术费用（元）")

    #: the paper form's groups, in its order (templates/contracts/_terms.html lays them out)
    GROUPS = (
        ("basic", "合同基本信息"),
        ("seller", "卖方"),
        ("buyer", "买方"),
        ("content", "技术内容"),
        ("money", "金额与核定"),
    )

    def setup(self):
        regions = [(0, "请选择")] + region_choices()
        self.buyer_region_id.choices = regions
        self.seller_region_id.choices = regions
        self.field_id.choices = [(0, "不填")] + field_choices()
        for name, kind in CODE_FIELDS.items():
            blank = "按单位默认" if kind == "legal_form" else "不填"
            options = regcodes.choices(kind)
            current = getattr(self, name).data
            if current and current not in {code for code, _ in options}:  # a deactivated code an old contract keeps
                options.append((current, regcodes.label(kind, current) + "（已停用）"))
            getattr(self, name).choices = [("", blank)] + options
        return self

    def validate_registration_no(self, field):
        """A number typed of digits only must follow the 登记编号 structure (regno.py); an older contract's
        number, posted back unchanged on its edit form, is left as it is."""
        number = (field.data or "").strip()
        if number and number != getattr(self, "_kept_number", None):
            problem = regno_problem(number)
            if problem:
                raise ValidationError(problem)

    def worked_sum(self) -> str:
        """The worksheet as a worked sum, from what was typed ('' until a deduction is given)."""
        return worked_sum(self.amount.data, self.nontech_equipment.data, self.nontech_materials.data,
                          self.nontech_other.data)

    def terms(self) -> dict:
        return {
            "registration_no": (self.registration_no.data or "").strip(),
            "title": (self.title.data or "").strip(),
            "contract_type": self.contract_type.data or "",
            "subtype": self.subtype.data or "",
            "buyer_region_id": self.buyer_region_id.data or None,
            "seller_region_id": self.seller_region_id.data or None,
            **{f"{side}_division": (getattr(self, f"{side}_division").data or "").strip() or None
               for side in ("buyer", "seller")},
            **{f"{side}_country": getattr(self, f"{side}_country").data or "CN" for side in ("buyer", "seller")},
            "amount": self.amount.data,
            "tech_amount": self.tech_amount.data,
            "signed_on": self.signed_on.data,
            "term_start": self.term_start.data,
            "term_end": self.term_end.data,
            "field_id": self.field_id.data or None,
            **{name: getattr(self, name).data or None for name in CODE_FIELDS},
            **{name: getattr(self, name).data for name in MONEY_FIELDS},
        }


class ContractForm(ContractTermsForm):
    """Recording a contract (from a deal, or entered directly)."""

    buyer_name = NameField("买方单位（委托方/受让方/被许可方）", validators=[Optional(), Length(max=100, message="单位名称不超过100字")],
                             render_kw={"list": "org-names", "autocomplete": "off"})
    seller_name = NameField("卖方单位（受托方/让与方/许可方）", validators=[Optional(), Length(max=100, message="单位名称不超过100字")],
                              render_kw={"list": "org-names", "autocomplete": "off"})
    demand_id = IntField("关联技术需求编号", validators=[Optional(), NumberRange(min=1, max=10**9, message="编号无效")])
    achievement_id = IntField("关联科技成果编号", validators=[Optional(), NumberRange(min=1, max=10**9, message="编号无效")])
    form_token = HiddenField()
    version = HiddenField()

    def data_dict(self) -> dict:
        data = self.terms()
        data.update(buyer_name=self.buyer_name.data or "", seller_name=self.seller_name.data or "",
                    demand_id=self.demand_id.data, achievement_id=self.achievement_id.data)
        return data


class DealContractForm(ContractTermsForm):
    """Signing a deal: its parties and listings are the deal's, so the form has no field for them (a posted
    buyer_name or demand_id is ignored)."""

    form_token = HiddenField()
    version = HiddenField()

    def data_dict(self) -> dict:
        return self.terms()


class ContractEditForm(ContractTermsForm):
    version = HiddenField()

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        self._kept_number = obj.registration_no if obj is not None else None


class PaymentForm(BaseForm):
    paid_on = DateField("到账日期", format="%Y-%m-%d", validators=[DataRequired("请填写到账日期（格式：2026-05-20）")])
    amount = ContractAmountField("到账金额（元）")
    note = StringField("备注", validators=[Optional(), Length(max=200, message="备注不超过200字")])
    form_token = HiddenField()


class VoidForm(BaseForm):
    reason = TextAreaField("作废原因", validators=[DataRequired("请填写作废原因"), Length(min=2, max=500, message="作废原因为2-500字")])


class ImportForm(BaseForm):
    skip_bad = BooleanField("跳过有误的行，只导入正确的行")
