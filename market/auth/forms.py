from __future__ import annotations

from markupsafe import Markup
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from ..divisions import country_choices, division_code_field
from ..forms import BaseForm, EmailAddress, NameField, Phone, require_choice

REGISTER_ROLES = [("enterprise", "企业"), ("institution", "高校 / 科研院所"), ("broker", "技术经纪人（服务机构）")]
ORG_TYPE_CHOICES = [("enterprise", "企业"), ("university", "高校"), ("institute", "科研院所"), ("agency", "服务机构")]
# the rule says the same in the hint under the field and in each refusal
USERNAME_HINT = "3-32位，可用字母、数字、下划线（_）、点（.）和减号（-）"
USERNAME_RULE = "用户名为" + USERNAME_HINT
USERNAME_VALIDATORS = [
    DataRequired("请填写用户名"),
    Length(min=3, max=32, message=USERNAME_RULE),
    Regexp(r"^[A-Za-z0-9_.-]+$", message=USERNAME_RULE),
]
CONSENT_LABEL = Markup('我已阅读并同意<a href="/static/legal/terms.html" target="_blank" rel="noopener">《用户协议》</a>'
                       '和<a href="/static/legal/privacy.html" target="_blank" rel="noopener">《隐私政策》</a>')
PHONE = Phone()  # a mobile or a landline with its area code
MOBILE = Phone(mobile=True)


class LoginForm(BaseForm):
    username = StringField("用户名", validators=[DataRequired("请填写用户名"), Length(max=32, message="用户名过长")])
    password = PasswordField("密码", validators=[DataRequired("请填写密码"), Length(max=128, message="密码过长")])


class RegisterForm(BaseForm):
    role = SelectField("注册身份", choices=REGISTER_ROLES, validators=[require_choice("请选择注册身份")])
    username = NameField("用户名", validators=USERNAME_VALIDATORS, description=USERNAME_HINT)
    name = NameField("姓名", validators=[DataRequired("请填写姓名"), Length(max=50, message="姓名过长")])
    phone = StringField("手机号码", validators=[DataRequired("请填写手机号码"), MOBILE])
    email = StringField("电子邮箱", validators=[Optional(), EmailAddress("电子邮箱格式不正确"), Length(max=120)])
    password = PasswordField("密码", validators=[DataRequired("请设置密码"), Length(max=128, message="密码过长")])
    password2 = PasswordField("确认密码", validators=[EqualTo("password", message="两次输入的密码不一致")])
    org_name = NameField("单位名称", validators=[DataRequired("请填写单位名称"), Length(min=2, max=100, message="单位名称长度为2-100字")])
    org_type = SelectField("单位类型", choices=ORG_TYPE_CHOICES, validators=[require_choice("请选择单位类型")])
    uscc = StringField("统一社会信用代码", validators=[DataRequired("请填写统一社会信用代码"), Length(max=30, message="统一社会信用代码应为18位")])
    region_id = SelectField("所在区域", coerce=int, validators=[require_choice("请选择所在区域")])
    # the organisation's real place when it is outside the city (issue 16 item 1): market.divisions.org_place
    division_code = division_code_field()
    country = SelectField("国别", choices=country_choices, default="CN", validate_choice=False)
    contact_name = StringField("联系人", validators=[Optional(), Length(max=50)])
    contact_phone = StringField("联系电话", validators=[Optional(), PHONE])
    address = StringField("通讯地址", validators=[Optional(), Length(max=200, message="地址过长")])
    broker_cert_no = StringField("技术经纪人证书编号", validators=[Optional(), Length(max=50, message="证书编号过长")])
    agree = BooleanField(CONSENT_LABEL, validators=[DataRequired("请阅读并同意《用户协议》和《隐私政策》")])
    form_token = HiddenField()  # one-time submission token (market/formtokens.py)


class PasswordForm(BaseForm):
    old_password = PasswordField("原密码", validators=[DataRequired("请填写原密码"), Length(max=128)])
    new_password = PasswordField("新密码", validators=[DataRequired("请填写新密码"), Length(max=128)])
    new_password2 = PasswordField("确认新密码", validators=[EqualTo("new_password", message="两次输入的密码不一致")])
