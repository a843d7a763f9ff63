from __future__ import annotations

from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import BaseForm, MultiCheckboxField, NameField
from ..models import AGENCY_SERVICES
from .services import CERT_RULE


class AgencyServicesForm(BaseForm):
    services = MultiCheckboxField("提供的服务", choices=list(AGENCY_SERVICES.items()))
    note = TextAreaField("服务说明", validators=[Optional(), Length(max=500, message="服务说明不超过500字")])


class BrokerProfileForm(BaseForm):
    public = BooleanField("公开我的经纪人主页（姓名、所属机构、区域、证书编号、个人简介和业绩记录对所有人可见）")
    intro = TextAreaField("个人简介", validators=[Optional(), Length(max=500, message="个人简介不超过500字")])


class BrokerRegistryForm(BaseForm):
    cert_no = StringField("技术经纪人证书编号", description=CERT_RULE,
                          validators=[DataRequired("请填写证书编号"), Length(max=50, message="证书编号过长")])
    agency_id = SelectField("所属服务机构", coerce=int, validate_choice=False)
    region_id = SelectField("所在区域", coerce=int, validate_choice=False)


class ExpertForm(BaseForm):
    name = NameField("姓名", validators=[DataRequired("请填写姓名"), Length(max=50, message="姓名不超过50字")])
    title = StringField("职称", validators=[Optional(), Length(max=50, message="职称不超过50字")])
    username = StringField("平台账号（用户名，可不填；填写后本人可自行设置是否可参加评审）",
                           validators=[Optional(), Length(max=32, message="用户名不超过32字")])
    org_name = StringField("所在单位（平台上已有单位的全称；填写了账号时可不填，取账号的单位）",
                           validators=[Optional(), Length(max=100, message="单位名称不超过100字")])
    region_id = SelectField("所属区域", coerce=int, validate_choice=False)
    field_ids = SelectMultipleField("技术领域", coerce=int, validate_choice=False)
    available = BooleanField("可参加评审", default=True)


class EventAgencyForm(BaseForm):
    """承办机构 of an event (0: none); choices are the organiser's region's verified agencies, checked again by the
    service."""

    agency_id = SelectField("承办机构", coerce=int, validate_choice=False, default=0)
