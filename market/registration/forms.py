from __future__ import annotations

from wtforms import BooleanField, DateField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..contracts.forms import ContractAmountField, ContractForm
from ..forms import BaseForm, IntField, NameField, region_choices
from ..models.registration import REG_POINT_KINDS
from ..registration.services import CALENDAR_KINDS, DECISIONS


class SubmissionForm(ContractForm):
    """The contract form, as the seller side fills it to submit for registration: no 登记编号 (the 登记点 draws it),
    no links to listings (ask for those on the contract's page once it is registered); the scan is required."""

    registration_no = HiddenField()
    demand_id = None  # no links to listings here: asked for on the contract's page once it is registered
    achievement_id = None
    reason = TextAreaField("变更原因", validators=[Optional(), Length(max=500, message="变更原因不超过500字")])

    def validate_registration_no(self, field):  # noqa: D102 - the number is drawn on registration, not typed
        return True

    def data_dict(self) -> dict:
        return dict(self.terms(), buyer_name=self.buyer_name.data or "", seller_name=self.seller_name.data or "")


# the fields of SubmissionForm that its template places by hand; any other visible field (the 登记表's own) is
# rendered after them in the form's order
PLACED = ("registration_no", "buyer_name", "seller_name", "demand_id", "achievement_id", "reason", "title",
          "contract_type", "subtype", "amount", "tech_amount", "signed_on", "term_start", "term_end",
          "buyer_region_id", "seller_region_id", "field_id", "form_token", "version", "csrf_token")


class DecisionForm(BaseForm):
    decision = SelectField("办理结果", choices=[("", "请选择")] + list(DECISIONS.items()), validate_choice=False)
    tech_amount = ContractAmountField("核定技术交易额（元）")
    reason = TextAreaField("理由（退回、不予登记时必填）", validators=[Optional(), Length(max=500, message="理由不超过500字")])
    version = HiddenField()


class CancelForm(BaseForm):
    reason = TextAreaField("注销原因", validators=[Length(min=2, max=500, message="注销原因为2-500字")])


class PointForm(BaseForm):
    name = NameField("登记点名称", validators=[Length(max=100, message="名称不超过100字")])
    kind = SelectField("类型", choices=[("", "请选择")] + list(REG_POINT_KINDS.items()), validate_choice=False)
    region_id = SelectField("负责区域", coerce=int, validate_choice=False)
    division = StringField("行政区划代码（6位）", validators=[Length(max=6, message="行政区划代码为6位数字")])
    serial = IntField("登记点序号（1-99）", validators=[Optional()])

    def setup(self):
        self.region_id.choices = [(0, "请选择")] + region_choices()
        return self


class RegistrarForm(BaseForm):
    username = StringField("用户名", validators=[Length(max=32, message="用户名不超过32位")])
    name = NameField("姓名", validators=[Length(max=50, message="姓名不超过50字")])
    password = PasswordField("初始密码", validators=[Length(max=128, message="密码过长")])


class StateForm(BaseForm):
    """Deactivating (or reactivating) a 登记点 or a 登记员: the box must be ticked (a confirmation that works without
    JavaScript); for a 登记点, where its open submissions go (blank: each to the point now competent for it)."""

    active = HiddenField()
    confirm = BooleanField("我已确认")
    move_to = SelectField("等待登记的合同移交至", coerce=int, validate_choice=False)

    def setup(self, exclude: int | None = None):
        from .queries import points

        self.move_to.choices = [(0, "按受理规则自动移交")] + [
            (p.id, p.name) for p in points() if p.active and p.id != exclude]
        return self

    def validate_confirm(self, field):
        if not field.data:
            raise ValidationError("请勾选“我已确认”后再提交")


class CalendarDayForm(BaseForm):
    day = DateField("日期", format="%Y-%m-%d", validators=[DataRequired("请填写日期（格式：2027-01-01）")])
    kind = SelectField("安排", choices=[("", "请选择")] + list(CALENDAR_KINDS.items()), validate_choice=False)
    name = StringField("名称", validators=[Optional(), Length(max=40, message="名称不超过40字")])


__all__ = ["CalendarDayForm", "CancelForm", "DecisionForm", "PointForm", "RegistrarForm", "StateForm", "SubmissionForm"]
