from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import BaseForm, EmailAddress, IntField, NameField, Phone, YuanField
from ..models.transfer import DISCLOSED_TYPES, OBJECTION_DECISIONS

TYPE_CHOICES = [("", "请选择")] + list(DISCLOSED_TYPES.items())


class DisclosureForm(BaseForm):
    buyer_name = NameField("受让（被许可）单位", validators=[DataRequired("请填写受让（被许可）单位全称"),
                                                     Length(min=2, max=100, message="单位全称为2-100字")])
    contract_type = SelectField("交易方式", choices=TYPE_CHOICES, validators=[DataRequired("请选择技术转让或技术许可")])
    price = YuanField("协议价格（元）", validators=[InputRequired("请填写协议价格")])
    days = IntField("公示期（天）", validators=[InputRequired("请填写公示期天数"),
                                           NumberRange(min=5, max=90, message="公示期为5-90天")])
    note = TextAreaField("定价说明（评估、协商情况）", validators=[Optional(), Length(max=2000, message="定价说明不超过2000字")])
    contact_name = NameField("异议受理联系人", validators=[DataRequired("请填写异议受理联系人"),
                                                    Length(min=2, max=50, message="联系人为2-50字")])
    contact_phone = StringField("联系电话", validators=[Optional(), Length(max=30, message="联系电话不超过30字"), Phone()])
    contact_email = StringField("电子邮箱", validators=[Optional(), Length(max=120, message="电子邮箱不超过120字"),
                                                    EmailAddress()])
    form_token = HiddenField()  # one-time submission token (market/formtokens.py)


class ObjectionForm(BaseForm):
    reasons = TextAreaField("异议理由", validators=[DataRequired("请写明异议理由"),
                                                Length(min=10, max=2000, message="异议理由为10-2000字")])
    contact = StringField("您的联系方式（电话或电子邮箱，不公开）", validators=[
        DataRequired("请填写您的联系方式"), Length(min=5, max=120, message="联系方式为5-120字")])
    form_token = HiddenField()


class AnswerForm(BaseForm):
    answer = TextAreaField("答复", validators=[DataRequired("请填写答复"), Length(min=2, max=2000, message="答复为2-2000字")])


class ObjectionDecideForm(BaseForm):
    decision = SelectField("认定结果", choices=[("", "请选择")] + list(OBJECTION_DECISIONS.items()),
                           validators=[DataRequired("请选择认定结果")])
    reason = TextAreaField("认定理由", validators=[DataRequired("请填写认定理由"), Length(min=2, max=500, message="认定理由为2-500字")])


class PriceListingForm(BaseForm):
    contract_type = SelectField("交易方式", choices=TYPE_CHOICES, validators=[DataRequired("请选择技术转让或技术许可")])
    price = YuanField("挂牌价格（元）", validators=[InputRequired("请填写挂牌价格")])
    days = IntField("挂牌期（天）", validators=[InputRequired("请填写挂牌期天数"),
                                           NumberRange(min=1, max=365, message="挂牌期为1-365天")])
    note = TextAreaField("挂牌说明", validators=[Optional(), Length(max=2000, message="挂牌说明不超过2000字")])
    form_token = HiddenField()
