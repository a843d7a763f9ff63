from __future__ import annotations

from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from ..auth.forms import CONSENT_LABEL, MOBILE, USERNAME_HINT, USERNAME_VALIDATORS
from ..forms import BaseForm, EmailAddress, NameField


class InviteForm(BaseForm):
    note = StringField("备注（受邀人姓名或部门，可不填）", validators=[Optional(), Length(max=50, message="备注不能超过50字")])
    email = StringField("受邀人电子邮箱（可不填；填写后由系统把链接发到该邮箱）",
                        validators=[Optional(), EmailAddress("电子邮箱格式不正确"), Length(max=120, message="电子邮箱过长")])


class JoinForm(BaseForm):
    """An invited colleague's new account: the organisation comes from the invitation."""

    username = NameField("用户名", validators=USERNAME_VALIDATORS, description=USERNAME_HINT)
    name = NameField("姓名", validators=[DataRequired("请填写姓名"), Length(max=50, message="姓名过长")])
    phone = StringField("手机号码", validators=[DataRequired("请填写手机号码"), MOBILE])
    email = StringField("电子邮箱", validators=[Optional(), EmailAddress("电子邮箱格式不正确"), Length(max=120)])
    password = PasswordField("密码", validators=[DataRequired("请设置密码"), Length(max=128, message="密码过长")])
    password2 = PasswordField("确认密码", validators=[EqualTo("password", message="两次输入的密码不一致")])
    broker_cert_no = StringField("技术经纪人证书编号", validators=[Optional(), Length(max=50, message="证书编号过长")])
    agree = BooleanField(CONSENT_LABEL, validators=[DataRequired("请阅读并同意《用户协议》和《隐私政策》")])
    form_token = HiddenField()  # one-time submission token (market/formtokens.py)
