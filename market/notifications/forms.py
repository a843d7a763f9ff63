"""The e-mail settings form: one's own address (the topic choices are radio rows read in the view)."""
from __future__ import annotations

from wtforms import StringField
from wtforms.validators import Length, Optional

from ..forms import BaseForm, EmailAddress


class MailSettingsForm(BaseForm):
    email = StringField("接收通知的电子邮箱",
                        validators=[Optional(), EmailAddress("电子邮箱格式不正确"), Length(max=120, message="邮箱过长")])
