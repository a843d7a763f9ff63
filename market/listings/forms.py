from __future__ import annotations

from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import BaseForm, EmailAddress, MultiCheckboxField, NameField, Phone, WanField, field_choices, require_choice
from ..models.listing import ACHIEVEMENT_MODES, DEMAND_MODES, IP_STATUSES, IP_TYPES, MATURITY_LEVELS


def _amount_or_negotiable(form, field):
    if field.data is None and not form.negotiable.data:
        raise ValidationError("请填写金额（万元），或勾选“面议”")


class ListingForm(BaseForm):
    title = NameField("标题", validators=[DataRequired("请填写标题"), Length(min=4, max=120, message="标题长度为4-120字")])
    field_id = SelectField("技术领域", coerce=int, validators=[require_choice("请选择技术领域")])
    keywords = StringField("关键词", validators=[Optional(), Length(max=300, message="关键词过长")])
    negotiable = BooleanField("面议")
    contact_name = StringField("联系人", validators=[DataRequired("请填写联系人"), Length(max=50, message="联系人过长")])
    contact_phone = StringField("联系电话", validators=[DataRequired("请填写联系电话"), Phone()])
    contact_email = StringField("联系邮箱", validators=[Optional(), EmailAddress("邮箱格式不正确"), Length(max=120)])
    contact_public = BooleanField("公开联系方式（不勾选则在接受对方意向后才展示）")
    form_token = HiddenField()  # the new-listing form's one-time submission token (market/formtokens.py)

    def setup(self):
        self.field_id.choices = [(0, "请选择")] + field_choices()
        return self

    def data_dict(self) -> dict:
        data = {k: v for k, v in self.data.items() if k not in ("csrf_token", "negotiable", "form_token")}
        data["amount"] = None if self.negotiable.data else data.pop(self.AMOUNT_FIELD)
        return data


class DemandForm(ListingForm):
    AMOUNT_FIELD = "budget"
    description = TextAreaField("拟解决的技术难题", validators=[DataRequired("请描述拟解决的技术难题"), Length(min=10, max=5000, message="技术难题描述为10-5000字")])
    indicators = TextAreaField("技术指标", validators=[Optional(), Length(max=2000, message="技术指标不超过2000字")])
    budget = WanField("预算（万元）", validators=[_amount_or_negotiable])
    modes = MultiCheckboxField("合作方式", choices=list(DEMAND_MODES.items()))
    deadline = DateField("截止日期", validators=[Optional()], format="%Y-%m-%d")


class AchievementForm(ListingForm):
    AMOUNT_FIELD = "price"
    summary = TextAreaField("成果简介", validators=[DataRequired("请填写成果简介"), Length(min=10, max=5000, message="成果简介为10-5000字")])
    maturity = SelectField("技术成熟度", coerce=int, choices=[(0, "请选择")] + list(MATURITY_LEVELS.items()), validators=[require_choice("请选择技术成熟度")])
    ip_type = SelectField("知识产权类型", choices=[("", "无")] + list(IP_TYPES.items()))
    ip_numbers = StringField("专利号 / 登记号", validators=[Optional(), Length(max=300, message="编号过长")])
    ip_status = SelectField("法律状态", choices=[("", "请选择")] + list(IP_STATUSES.items()))
    price = WanField("转让价格（万元）", validators=[_amount_or_negotiable])
    modes = MultiCheckboxField("交易方式", choices=list(ACHIEVEMENT_MODES.items()))
    team_lead = StringField("团队负责人", validators=[DataRequired("请填写团队负责人"), Length(max=50)])
    team_members = StringField("团队成员", validators=[Optional(), Length(max=300, message="团队成员过长")])

    def setup(self):
        super().setup()
        self.maturity.choices = [(0, "请选择")] + list(MATURITY_LEVELS.items())
        return self


FORMS = {"demand": DemandForm, "achievement": AchievementForm}
