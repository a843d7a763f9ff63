from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import BaseForm, IntField, NameField, YuanField
from ..happenings.forms import TIME_HINT, local_time, parse_local  # noqa: F401  (parse_local: the views)


class AuctionSessionForm(BaseForm):
    title = NameField("专场名称", validators=[DataRequired("请填写专场名称"), Length(min=4, max=100, message="专场名称为4-100字")])
    description = TextAreaField("专场说明", validators=[Optional(), Length(max=5000, message="专场说明不超过5000字")])
    form_token = HiddenField()  # the new session's page only (market/formtokens.py)


class AuctionLotForm(BaseForm):
    achievement_id = SelectField("拍品（已公开发布的科技成果）", coerce=int, validate_choice=False, default=0)
    starting_price = YuanField("起拍价（元）", validators=[InputRequired("请填写起拍价")])
    reserve_price = YuanField("保留价（元，不公开，可不填）", validators=[Optional()])
    increment = YuanField("加价幅度（元）", validators=[InputRequired("请填写加价幅度")])
    deposit_amount = YuanField("竞买保证金（元）", validators=[InputRequired("请填写保证金，不收取请填0")])
    starts_at = StringField("竞价开始时间", description=TIME_HINT, validators=[DataRequired("请填写竞价开始时间"), local_time],
                            render_kw={"type": "datetime-local"})
    ends_at = StringField("竞价结束时间", description=TIME_HINT, validators=[DataRequired("请填写竞价结束时间"), local_time],
                          render_kw={"type": "datetime-local"})
    snipe_window_minutes = IntField("延时触发时段（结束前几分钟内出价即延时）", default=5,
                                    validators=[InputRequired("请填写延时触发时段"),
                                                NumberRange(min=0, max=1440, message="延时触发时段应为0-1440分钟")])
    extend_minutes = IntField("每次延时（分钟）", default=5,
                              validators=[InputRequired("请填写每次延时的分钟数"),
                                          NumberRange(min=1, max=1440, message="每次延时应为1-1440分钟")])
    form_token = HiddenField()  # the new lot's page only


class BidForm(BaseForm):
    amount = YuanField("出价（元）", validators=[InputRequired("请填写出价金额")])


class ProxyBidForm(BaseForm):
    ceiling = YuanField("代理出价上限（元，不公开）", validators=[InputRequired("请填写代理出价上限")])


class AuctionDepositForm(BaseForm):
    org_id = SelectField("竞买单位", coerce=int, validate_choice=False, default=0)
    amount = YuanField("到账金额（元）", validators=[InputRequired("请填写到账金额")])
