from __future__ import annotations

from wtforms import HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from ..auth.forms import PHONE, USERNAME_HINT, USERNAME_VALIDATORS
from ..divisions import OUTSIDE_CHOICE, country_choices, division_code_field
from ..forms import BaseForm, EmailAddress, IntField, NameField, region_choices, require_choice
from ..models.org import ORG_TYPES
from ..models.region import LEVELS
from ..models.user import ROLES
from . import queries

CREATE_ROLES = [(r, ROLES[r]) for r in ("official", "broker", "admin")]
NONE_CHOICE = [(0, "（无）")]
PICK_CHOICE = [(0, "请选择")]


class UserEditForm(BaseForm):
    name = NameField("姓名", validators=[DataRequired("请填写姓名"), Length(max=50, message="姓名不超过50字")])
    phone = StringField("手机号码", validators=[Optional(), PHONE])  # staff accounts: an office landline too
    email = StringField("电子邮箱", validators=[Optional(), EmailAddress("电子邮箱格式不正确"), Length(max=120, message="邮箱过长")])
    region_id = SelectField("所属区域", coerce=int, validate_choice=False)
    broker_cert_no = StringField("技术经纪人证书编号", validators=[Optional(), Length(max=50, message="证书编号不超过50字")])

    def setup(self):
        self.region_id.choices = PICK_CHOICE + region_choices()
        return self

    def data_dict(self) -> dict:
        return {k: self.data[k] for k in ("name", "phone", "email", "region_id", "broker_cert_no")}


class UserCreateForm(UserEditForm):
    role = SelectField("账号身份", choices=CREATE_ROLES, validators=[require_choice("请选择账号身份")])
    username = NameField("用户名", validators=USERNAME_VALIDATORS, description=USERNAME_HINT)
    password = PasswordField("初始密码", validators=[DataRequired("请设置初始密码"), Length(max=128, message="密码过长")])
    password2 = PasswordField("确认密码", validators=[EqualTo("password", message="两次输入的密码不一致")])
    org_id = SelectField("所属服务机构", coerce=int, validate_choice=False)
    form_token = HiddenField()  # one-time submission token (market/formtokens.py)

    def setup(self):
        super().setup()
        self.org_id.choices = PICK_CHOICE + queries.agency_choices()
        return self

    def data_dict(self) -> dict:
        data = super().data_dict()
        data.update({k: self.data[k] for k in ("role", "username", "password", "org_id")})
        return data


class PasswordResetForm(BaseForm):
    password = PasswordField("新密码", validators=[DataRequired("请填写新密码"), Length(max=128, message="密码过长")])
    password2 = PasswordField("确认新密码", validators=[EqualTo("password", message="两次输入的密码不一致")])


class OrgForm(BaseForm):
    name = NameField("单位名称", validators=[DataRequired("请填写单位名称"), Length(min=2, max=100, message="单位名称长度为2-100字")])
    uscc = StringField("统一社会信用代码", validators=[DataRequired("请填写统一社会信用代码"), Length(max=30, message="统一社会信用代码应为18位")])
    org_type = SelectField("单位类型", choices=list(ORG_TYPES.items()), validators=[require_choice("请选择单位类型")])
    region_id = SelectField("所在区域", coerce=int, validate_choice=False)
    # the organisation's real place (issue 16 item 1): market.divisions.org_place
    division_code = division_code_field()
    country = SelectField("国别", choices=country_choices, default="CN", validate_choice=False)
    contact_name = StringField("联系人", validators=[Optional(), Length(max=50, message="联系人不超过50字")])
    contact_phone = StringField("联系电话", validators=[Optional(), PHONE])
    contact_email = StringField("联系邮箱", validators=[Optional(), EmailAddress("电子邮箱格式不正确"), Length(max=120, message="邮箱过长")])
    address = StringField("通讯地址", validators=[Optional(), Length(max=200, message="地址不超过200字")])

    def setup(self):
        self.region_id.choices = PICK_CHOICE + region_choices() + [OUTSIDE_CHOICE]
        if self.region_id.data is None and not self.region_id.raw_data:
            self.region_id.data = OUTSIDE_CHOICE[0]  # an organisation outside the city (no node)
        return self

    def data_dict(self) -> dict:
        return {k: v for k, v in self.data.items() if k != "csrf_token"}


class OrgDecisionForm(BaseForm):
    note = TextAreaField("认证意见", validators=[Optional(), Length(max=500, message="意见不超过500字")])


class RegionForm(BaseForm):
    code = StringField("行政区划代码", validators=[DataRequired("请填写行政区划代码"), Length(max=20, message="行政区划代码过长")])
    name = NameField("名称", validators=[DataRequired("请填写区划名称"), Length(max=64, message="区划名称不超过64字")])
    level = SelectField("级别", choices=list(LEVELS.items()), validators=[require_choice("请选择级别")])
    parent_id = SelectField("上级区划", coerce=int, validate_choice=False)
    sort = IntField("排序", default=0, validators=[Optional(), NumberRange(min=0, max=100000, message="排序为0-100000的整数")])
    form_token = HiddenField()  # the new-region form's one-time submission token (market/formtokens.py)

    def setup(self, exclude=None):
        self.parent_id.choices = NONE_CHOICE + queries.region_parent_choices(exclude)
        return self

    def data_dict(self) -> dict:
        data = {k: self.data[k] for k in ("code", "name", "level", "parent_id")}
        data["sort"] = self.sort.data or 0
        return data


class FieldForm(BaseForm):
    name = NameField("领域名称", validators=[DataRequired("请填写领域名称"), Length(max=64, message="领域名称不超过64字")])


class FieldCreateForm(FieldForm):
    parent_id = SelectField("上级领域", coerce=int, validate_choice=False)
    code = StringField("领域代码", validators=[Optional(), Length(max=16, message="领域代码过长")])
    form_token = HiddenField()  # one-time submission token (market/formtokens.py)

    def setup(self):
        self.parent_id.choices = [(0, "（无：新建一级领域）")] + queries.top_field_choices()
        return self

