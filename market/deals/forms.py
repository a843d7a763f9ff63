from __future__ import annotations

from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import BaseForm
from ..models.deal import DEAL_SOURCES, FAIL_REASONS, SYSTEM_SOURCES

REASON_CHOICES = [("", "请选择原因")] + list(FAIL_REASONS.items())


class InterestForm(BaseForm):
    message = TextAreaField(
        "留言",
        validators=[DataRequired("请填写留言"), Length(min=5, max=1000, message="留言为5-1000字")],
    )
    link_id = SelectField("关联我方条目", coerce=int, validate_choice=False, default=0)
    form_token = HiddenField()
    # how the author came to the listing (search, suggestion, direct): attribution only; the service keeps a
    # value of the set and counts anything else as 'direct' (never a reason to refuse the interest)
    origin = HiddenField()


class SourceForm(BaseForm):
    """The broker corrects where a deal came from (the system sources are recorded by their feature, not chosen)."""

    source = SelectField("来源", choices=[("", "请选择来源")] + [(k, v) for k, v in DEAL_SOURCES.items() if k not in SYSTEM_SOURCES],
                         validate_choice=False)
    note = StringField("更正说明", validators=[DataRequired("请填写更正说明"), Length(min=2, max=200, message="更正说明为2-200字")])


class DecideForm(BaseForm):
    decision = HiddenField()
    reason_code = SelectField("婉拒原因", choices=REASON_CHOICES, validate_choice=False)
    reason_text = StringField("具体说明", validators=[Optional(), Length(max=500, message="说明不超过500字")])


class MoveForm(BaseForm):
    to = HiddenField()
    version = HiddenField()
    text = TextAreaField("说明", validators=[Optional(), Length(max=1000, message="说明不超过1000字")])
    reason_code = SelectField("终止原因", choices=REASON_CHOICES, validate_choice=False)


class PlanForm(BaseForm):
    next_action_on = DateField("下一步日期", format="%Y-%m-%d", validators=[DataRequired("请填写日期（格式：2026-07-01）")])
    next_action = StringField("下一步要做的事", validators=[DataRequired("请填写下一步要做的事"), Length(max=200, message="不超过200字")])


class NoteForm(BaseForm):
    text = TextAreaField("记录", validators=[DataRequired("请填写记录内容"), Length(max=1000, message="记录内容不超过1000字")])
    form_token = HiddenField()  # one-time submission token (market/formtokens.py)


def first_error(form) -> str:
    for name, errors in form.errors.items():
        if errors:
            label = getattr(getattr(form, name, None), "label", None)
            prefix = f"{label.text}：" if label is not None and name != "csrf_token" else ""
            return prefix + str(errors[0])
    return "提交的内容有误"
