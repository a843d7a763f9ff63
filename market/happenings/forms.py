from __future__ import annotations

from datetime import datetime

from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..forms import BaseForm, IntField, NameField
from ..models.happening import HAPPENING_KINDS

TIME_HINT = "北京时间，如 2027-01-15 09:00"
MIN_YEAR, MAX_YEAR = 2000, 2100  # year 1 in Beijing time is before year 1 in UTC: no datetime holds it
YEAR_MESSAGE = f"年份应在{MIN_YEAR}至{MAX_YEAR}年之间"


def parse_local(value: str | None) -> datetime | None:
    """'2027-01-15 09:00' or the browser's datetime-local '2027-01-15T09:00' -> a naive wall-clock datetime."""
    text = (value or "").strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def local_time(form, field):
    value = parse_local(field.data)
    if value is None:
        raise ValidationError(f"时间格式不对，请写成“2027-01-15 09:00”（{TIME_HINT.split('，')[0]}）")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(YEAR_MESSAGE)


class HappeningForm(BaseForm):
    kind = SelectField("活动类型", choices=[("", "请选择")] + list(HAPPENING_KINDS.items()), validate_choice=False,
                       validators=[DataRequired("请选择活动类型")])
    title = NameField("活动名称", validators=[DataRequired("请填写活动名称"), Length(min=4, max=100, message="活动名称为4-100字")])
    place = StringField("地点", validators=[DataRequired("请填写活动地点"), Length(max=200, message="地点不超过200字")])
    starts_at = StringField("开始时间", description=TIME_HINT, validators=[DataRequired("请填写开始时间"), local_time],
                            render_kw={"type": "datetime-local"})
    ends_at = StringField("结束时间", description=TIME_HINT, validators=[DataRequired("请填写结束时间"), local_time],
                          render_kw={"type": "datetime-local"})
    signup_deadline = StringField("报名截止时间", description=TIME_HINT,
                                  validators=[DataRequired("请填写报名截止时间"), local_time],
                                  render_kw={"type": "datetime-local"})
    capacity = IntField("名额（人）", validators=[InputRequired("请填写名额"),
                                              NumberRange(min=1, max=100000, message="名额应在1至100000之间")])
    sessions = TextAreaField("议程（每行一个：日期 开始-结束 名称）",
                             description="例：2027-01-15 09:00-10:30 开幕与政策解读",
                             validators=[DataRequired("请至少填写一个议程"), Length(max=5000, message="议程不超过5000字")])
    listing_keys = SelectMultipleField("展示的需求和成果（已公开发布）", choices=[], validate_choice=False)
    description = TextAreaField("活动介绍", validators=[Optional(), Length(max=5000, message="活动介绍不超过5000字")])
    form_token = HiddenField()  # one-time submission token (market/formtokens.py)
    version = HiddenField()  # the edit page only: services.happening_version of the event as loaded


class CheckInForm(BaseForm):
    code = StringField("签到码", description="扫码所得内容或手工输入，如 12-ABCDEFGHIJKLMNOP",
                       validators=[DataRequired("请输入签到码"), Length(max=64, message="签到码无效")])


class SpotInterestForm(BaseForm):
    signup_id = SelectField("到场单位", coerce=int, validate_choice=False, default=0)
    listing_key = SelectField("展示的需求或成果", validate_choice=False, validators=[DataRequired("请选择展示的需求或成果")])
    message = TextAreaField("意向内容", validators=[DataRequired("请填写意向内容"),
                                                Length(min=5, max=1000, message="意向内容为5-1000字")])
    form_token = HiddenField()


class CallOffForm(BaseForm):
    """The organiser's confirmation that the event is called off (services.happening_cancel checks it again)."""
    reason = TextAreaField("取消原因", description="将通知所有已报名和候补的参会人",
                           validators=[DataRequired("请填写取消原因（将通知已报名和候补的参会人）"),
                                       Length(max=500, message="取消原因不超过500字")])
    confirm = BooleanField("我确认取消本活动：取消后不能恢复，报名、签到和现场意向随之关闭",
                           validators=[DataRequired("请勾选确认取消活动")])
