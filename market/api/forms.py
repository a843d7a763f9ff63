from __future__ import annotations

from datetime import date, timedelta

from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..forms import BaseForm, MultiCheckboxField
from ..models import API_SCOPES


class TokenForm(BaseForm):
    name = StringField("令牌名称", validators=[DataRequired("请填写令牌名称"), Length(max=60, message="令牌名称不超过60字")])
    scopes = MultiCheckboxField("权限", choices=list(API_SCOPES.items()))
    expires_on = DateField("有效期至", validators=[DataRequired("请填写有效期（日期，最长一年）")], format="%Y-%m-%d")

    def setup(self, allowed: tuple[str, ...]):
        self.scopes.choices = [(key, label) for key, label in API_SCOPES.items() if key in allowed]
        return self

    def validate_scopes(self, field):
        if not field.data:
            raise ValidationError("请至少选择一项权限")

    def validate_expires_on(self, field):
        # the service checks the exact instant (services.token_create); the form says it next to the field at once
        if field.data is not None and field.data < date.today():
            raise ValidationError("有效期须晚于今天")
        if field.data is not None and field.data > date.today() + timedelta(days=365):
            raise ValidationError("有效期最长一年")
