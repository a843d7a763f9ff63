from __future__ import annotations

from wtforms import DateField, FieldList, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import BaseForm, IntField, MultiCheckboxField, NameField, YuanField
from ..happenings.forms import TIME_HINT, local_time, parse_local  # noqa: F401  (parse_local: the views)
from ..models.campaign import SOLVER_TYPES


class CampaignForm(BaseForm):
    title = NameField("榜单名称", validators=[DataRequired("请填写榜单名称"), Length(min=4, max=100, message="榜单名称为4-100字")])
    description = TextAreaField("榜单说明", validators=[Optional(), Length(max=5000, message="榜单说明不超过5000字")])
    form_token = HiddenField()


class TaskForm(BaseForm):
    demand_id = SelectField("企业需求（已公开发布）", coerce=int, validate_choice=False, default=0)
    title = NameField("榜名", validators=[DataRequired("请填写榜名"), Length(min=4, max=100, message="榜名为4-100字")])
    goal = TextAreaField("攻关目标", validators=[DataRequired("请填写攻关目标"), Length(max=5000, message="攻关目标不超过5000字")])
    indicators = TextAreaField("考核指标", validators=[DataRequired("请填写考核指标"),
                                                   Length(max=5000, message="考核指标不超过5000字")])
    award = YuanField("奖补资金（元）", validators=[InputRequired("请填写奖补资金")])
    co_funding = YuanField("企业配套资金（元）", validators=[InputRequired("请填写企业配套资金，没有请填0")])
    deadline = StringField("揭榜截止时间", description=TIME_HINT, validators=[DataRequired("请填写揭榜截止时间"), local_time],
                           render_kw={"type": "datetime-local"})
    eligible_region_id = SelectField("揭榜单位所在区域", coerce=int, validate_choice=False, default=0)
    eligible_types = MultiCheckboxField("可揭榜的单位类型", choices=list(SOLVER_TYPES.items()),
                                        validators=[DataRequired("请选择可以揭榜的单位类型")])
    rubric = TextAreaField("评分细则（每行一项：评分项 满分）", description="例：技术先进性 40",
                           validators=[DataRequired("请填写评分细则"), Length(max=2000, message="评分细则不超过2000字")])
    expert_ids = SelectMultipleField("评审专家（专家库中有登录账号的专家）", coerce=int, choices=[], validate_choice=False)


class ProposalForm(BaseForm):
    summary = StringField("方案概要", validators=[DataRequired("请填写方案概要"), Length(min=5, max=200, message="方案概要为5-200字")])
    plan = TextAreaField("技术路线、进度安排与团队", validators=[DataRequired("请填写方案内容"),
                                                        Length(min=20, max=20000, message="方案内容为20-20000字")])


class ScoreForm(BaseForm):
    """One entry per rubric criterion, in the rubric's order (the view sizes the list)."""

    points = FieldList(IntField("得分", validators=[InputRequired("请填写得分"),
                                                  NumberRange(min=0, max=100, message="得分应在0至100之间")]),
                       min_entries=0, max_entries=10)


class MilestoneForm(BaseForm):
    title = NameField("里程碑", validators=[DataRequired("请填写里程碑名称"), Length(min=2, max=100, message="里程碑名称为2-100字")])
    due_on = DateField("计划完成日期", format="%Y-%m-%d", validators=[DataRequired("请填写计划完成日期（格式：2027-06-30）")])
    amount = YuanField("验收后拨付的奖补资金（元）", validators=[InputRequired("请填写金额")])


class MilestoneSubmitForm(BaseForm):
    note = TextAreaField("交付说明", validators=[DataRequired("请填写交付说明"), Length(min=5, max=5000, message="交付说明为5-5000字")])


class MilestoneDecideForm(BaseForm):
    decision = SelectField("验收结论", choices=[("", "请选择"), ("accept", "通过验收"), ("reject", "不通过")],
                           validators=[DataRequired("请选择验收结论")])
    reason = TextAreaField("不通过的理由", validators=[Optional(), Length(max=2000, message="理由不超过2000字")])
